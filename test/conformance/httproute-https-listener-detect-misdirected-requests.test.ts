import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace-with-https-listener" };
const route = (n: number, section: string, backend: string, hostnames = ""): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: https-listener-detect-misdirected-requests-test-${n}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${gw.name}, sectionName: ${section}}]
${hostnames}  rules:
  - matches: [{path: {type: PathPrefix, value: /detect-misdirected-requests}}]
    backendRefs: [{name: ${backend}, port: 8080}]
`;

// SNI picks the listener; a Host that belongs to another listener of the same port is misdirected (421).
const cases: [sni: string, host: string, status: number, backend?: string][] = [
  ["example.org", "example.org", 200, "infra-backend-v1"],
  ["example.org", "second-example.org", 421],
  ["example.org", "unknown-example.org", 404],
  ["second-example.org", "second-example.org", 200, "infra-backend-v2"],
  ["second-example.org", "example.org", 421],
  ["second-example.org", "unknown-example.org", 421],
  ["third-example.wildcard.org", "third-example.wildcard.org", 200, "infra-backend-v3"],
  ["third-example.wildcard.org", "fith-example.wildcard.org", 200, "infra-backend-v3"],
  ["third-example.wildcard.org", "fourth-example.wildcard.org", 421],
  ["third-example.wildcard.org", "second-example.org", 421],
  ["third-example.wildcard.org", "unknown-example.org", 421],
  ["fourth-example.wildcard.org", "fourth-example.wildcard.org", 200, "infra-backend-v1"],
  ["fourth-example.wildcard.org", "fith-example.wildcard.org", 421],
  ["unknown-example.org", "example.org", 200, "infra-backend-v1"],
  ["unknown-example.org", "unknown-example.org", 404],
];

conformance(
  {
    name: "HTTPRouteHTTPSListenerDetectMisdirectedRequests",
    features: ["SupportGatewayHTTPSListenerDetectMisdirectedRequests"],
    manifests: {
      "case.yaml": [
        route(1, "https", "infra-backend-v1", "  hostnames: [example.org]\n"),
        route(2, "https-with-hostname", "infra-backend-v2"),
        route(3, "https-with-wildcard-hostname", "infra-backend-v3"),
        route(4, "https-with-hostname-matching-wildcard", "infra-backend-v1"),
      ].join("---"),
    },
    accepted: [{ gateway: gw, routes: [1, 2, 3, 4].map((n) => ({ namespace: ns, name: `https-listener-detect-misdirected-requests-test-${n}` })) }],
  },
  (ctx) => {
    cases.forEach(([sni, host, status, backend], i) => {
      test(`${i} HTTP/2 request with SNI '${sni}' and :authority '${host}' should ${backend ? `go to ${backend}` : `receive ${status}`}`, async () => {
        const ca = ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
        await expectResponse(
          ctx.env.port(gw.name),
          { request: { host, path: "/detect-misdirected-requests" }, status, ...(backend ? { backend, namespace: ns } : {}) },
          { tls: { servername: sni, ca }, h2: true },
        );
      });
    });
  },
);
