import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { policyMustHaveCondition, serviceYaml } from "./harness/grpc.js";
import { expectResponse } from "./harness/http.js";
import { mustBeAccepted } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };

conformance(
  {
    name: "BackendTLSPolicyInvalidKind",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "service.yaml": serviceYaml(ns, "backendtlspolicy-invalid-kind-test", [{ name: "https", port: 443, appProtocol: "HTTPS" }], `${ns}/tls-backend-pod-0/https`),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy-invalid-kind-test, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${ns}}]
  hostnames: [abc.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /backendtlspolicy-invalid-kind}}]
    backendRefs: [{name: backendtlspolicy-invalid-kind-test, port: 443}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: invalid-kind, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: backendtlspolicy-invalid-kind-test}]
  validation:
    caCertificateRefs: [{group: invalid.io, kind: InvalidKind, name: invalid-kind}]
    hostname: abc.example.com
`,
    },
  },
  (ctx) => {
    const p = { namespace: ns, name: "invalid-kind" };
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [{ namespace: ns, name: "backendtlspolicy-invalid-kind-test" }]);
    });
    test("BackendTLSPolicy with a single invalid CACertificateRef has Accepted False with reason NoValidCACertificate", async () => {
      await policyMustHaveCondition(ctx.env, p, gw, { type: "Accepted", status: "False", reason: "NoValidCACertificate" });
    });
    test("BackendTLSPolicy with a single invalid CACertificateRef has ResolvedRefs False with reason InvalidKind", async () => {
      await policyMustHaveCondition(ctx.env, p, gw, { type: "ResolvedRefs", status: "False", reason: "InvalidKind" });
    });
    test("HTTP request to the backend targeted by an invalid BackendTLSPolicy receives a 5xx", async () => {
      await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/backendtlspolicy-invalid-kind", host: "abc.example.com" }, status: [500, 502, 503] });
    });
  },
);
