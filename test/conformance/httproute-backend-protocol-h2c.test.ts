import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "HTTPRouteBackendProtocolH2C",
    features: ["SupportHTTPRouteBackendProtocolH2C"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend-protocol-h2c, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  # Port 8081 of infra-backend-v1 has appProtocol kubernetes.io/h2c; its pods serve h2c only there.
  - backendRefs: [{name: infra-backend-v1, port: 8081}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "backend-protocol-h2c" }] }],
  },
  (ctx) => {
    test("http2 prior knowledge request should reach backend", async () => {
      const res = await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/" }, backend: "infra-backend-v1", namespace: ns }, { h2: true });
      assert.equal(res.echo?.proto, "HTTP/2.0", "the backend was reached over h2c");
    });
    // Not in upstream: an HTTP/1.1 client is carried to the h2c backend as HTTP/2 too.
    test("HTTP/1.1 request is forwarded to the backend over h2c", async () => {
      const res = await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/h1" }, backend: "infra-backend-v1", namespace: ns });
      assert.equal(res.echo?.proto, "HTTP/2.0");
    });
  },
);
