import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace-with-https-listener" };

conformance(
  {
    name: "HTTPRouteHTTPSListener",
    features: ["core"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httproute-https-test, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace-with-https-listener}]
  hostnames: [example.org]
  rules:
  - backendRefs: [{name: infra-backend-v1, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: httproute-https-test-no-hostname, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace-with-https-listener, sectionName: https-with-hostname}]
  rules:
  - backendRefs: [{name: infra-backend-v2, port: 8080}]
`,
    },
    accepted: [
      {
        gateway: gw,
        routes: [
          { namespace: ns, name: "httproute-https-test" },
          { namespace: ns, name: "httproute-https-test-no-hostname" },
        ],
      },
    ],
  },
  (ctx) => {
    const cases: [string, number, string | undefined][] = [
      ["example.org", 200, "infra-backend-v1"],
      ["unknown-example.org", 404, undefined],
      ["second-example.org", 200, "infra-backend-v2"],
    ];
    cases.forEach(([host, status, backend], i) => {
      test(`${i} HTTPS request with SNI and Host '${host}' should ${backend ? `go to ${backend}` : `receive ${status}`}`, async () => {
        const ca = ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
        const res = await expectResponse(
          ctx.env.port(gw.name),
          { request: { host, path: "/" }, status, ...(backend ? { backend, namespace: ns } : {}) },
          { tls: { servername: host, ca } },
        );
        if (res.alpn !== "http/1.1") throw new Error(`negotiated ALPN ${String(res.alpn)}, expected http/1.1`);
      });
    });
  },
);
