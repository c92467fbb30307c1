import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { policyMustHaveCondition, serviceYaml } from "./harness/grpc.js";
import { expectResponse } from "./harness/http.js";
import { mustBeAccepted } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };
const POD = `${ns}/tls-backend-pod-0/https`;

const policy = (name: string, cm: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: backendtlspolicy-${name}-test}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: ${cm}}]
    hostname: abc.example.com
`;

conformance(
  {
    name: "BackendTLSPolicyInvalidCACertificateRef",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "services.yaml": ["nonexistent-ca-certificate-ref", "malformed-ca-certificate-ref"]
        .map((n) => serviceYaml(ns, `backendtlspolicy-${n}-test`, [{ name: "https", port: 443, appProtocol: "HTTPS" }], POD))
        .join("---\n"),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy-invalid-ca-certificate-ref, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${ns}}]
  hostnames: [abc.example.com]
  rules:
  - matches: [{path: {type: Exact, value: /backendtlspolicy-nonexistent-ca-certificate-ref}}]
    backendRefs: [{name: backendtlspolicy-nonexistent-ca-certificate-ref-test, port: 443}]
  - matches: [{path: {type: Exact, value: /backendtlspolicy-malformed-ca-certificate-ref}}]
    backendRefs: [{name: backendtlspolicy-malformed-ca-certificate-ref-test, port: 443}]
---${policy("nonexistent-ca-certificate-ref", "nonexistent-ca-certificate")}---${policy("malformed-ca-certificate-ref", "malformed-ca-certificate")}---
apiVersion: v1
kind: ConfigMap
metadata: {name: malformed-ca-certificate, namespace: ${ns}}
data: {}
`,
    },
  },
  (ctx) => {
    test("Gateway and route are accepted", async () => {
      await mustBeAccepted(ctx.env, gw, [{ namespace: ns, name: "backendtlspolicy-invalid-ca-certificate-ref" }]);
    });
    for (const name of ["nonexistent-ca-certificate-ref", "malformed-ca-certificate-ref"]) {
      const p = { namespace: ns, name };
      test(`BackendTLSPolicy_${name}: Accepted False with reason NoValidCACertificate`, async () => {
        await policyMustHaveCondition(ctx.env, p, gw, { type: "Accepted", status: "False", reason: "NoValidCACertificate" });
      });
      test(`BackendTLSPolicy_${name}: ResolvedRefs False with reason InvalidCACertificateRef`, async () => {
        await policyMustHaveCondition(ctx.env, p, gw, { type: "ResolvedRefs", status: "False", reason: "InvalidCACertificateRef" });
      });
      test(`BackendTLSPolicy_${name}: HTTP request to the backend receives a 5xx`, async () => {
        await expectResponse(ctx.env.port("same-namespace"), { request: { path: `/backendtlspolicy-${name}`, host: "abc.example.com" }, status: [500, 502, 503] });
      });
    }
  },
);
