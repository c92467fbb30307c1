import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ACCEPTED, caConfigMapsYaml, ECHO_SERVICE, expectRpc, grpcRoutesMustBeAccepted, policyMustHaveCondition, RESOLVED, serviceYaml } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };
// Every Service leads to the gRPC pod serving TLS with a certificate of the test CA.
const POD = `${ns}/grpc-infra-backend-v1-pod-0/grpc-tls`;
const policy = (name: string, service: string, cm: string, hostname: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: ${service}, sectionName: btls}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: ${cm}}]
    hostname: ${hostname}
`;

conformance(
  {
    name: "BackendTLSPolicyGRPCRoute",
    features: ["SupportGateway", "SupportGRPCRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      "services.yaml": ["backendtlspolicy-grpc-test", "backendtlspolicy-grpc-host-mismatch-test", "backendtlspolicy-grpc-cert-mismatch-test"]
        .map((s) => serviceYaml(ns, s, [{ name: "btls", port: 443 }], POD))
        .join("---\n"),
      "routes.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: backendtlspolicy-grpcroute, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${ns}}]
  hostnames: [abc.example.com]
  rules:
  - matches: [{method: {service: ${ECHO_SERVICE}, method: Echo}}]
    backendRefs: [{group: "", kind: Service, name: backendtlspolicy-grpc-test, port: 443}]
  - matches: [{method: {service: ${ECHO_SERVICE}, method: EchoTwo}}]
    backendRefs: [{group: "", kind: Service, name: backendtlspolicy-grpc-host-mismatch-test, port: 443}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: backendtlspolicy-grpcroute-cert-mismatch, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${ns}}]
  hostnames: [cert-mismatch.example.com]
  rules:
  - matches: [{method: {service: ${ECHO_SERVICE}, method: Echo}}]
    backendRefs: [{group: "", kind: Service, name: backendtlspolicy-grpc-cert-mismatch-test, port: 443}]
`,
      "policies.yaml": [
        policy("grpc-normative-test", "backendtlspolicy-grpc-test", "tls-checks-ca-certificate", "abc.example.com"),
        policy("grpc-host-mismatch", "backendtlspolicy-grpc-host-mismatch-test", "tls-checks-ca-certificate", "mismatch.example.com"),
        policy("grpc-cert-mismatch", "backendtlspolicy-grpc-cert-mismatch-test", "mismatch-ca-certificate", "abc.example.com"),
      ].join("---"),
    },
  },
  (ctx) => {
    const nn = (name: string) => ({ namespace: ns, name });
    const port = (): number => ctx.env.port("same-namespace");
    test("Gateway and GRPCRoute are accepted with resolved refs", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, gw, [nn("backendtlspolicy-grpcroute")]);
    });
    test("gRPC request sent to Service with valid BackendTLSPolicy should succeed", async () => {
      await policyMustHaveCondition(ctx.env, nn("grpc-normative-test"), gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, nn("grpc-normative-test"), gw, RESOLVED);
      await expectRpc(port(), { method: "Echo", authority: "abc.example.com", backend: "grpc-infra-backend-v1", namespace: ns });
    });
    test("gRPC request sent to Service targeted by BackendTLSPolicy with mismatched hostname should fail", async () => {
      await policyMustHaveCondition(ctx.env, nn("grpc-host-mismatch"), gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, nn("grpc-host-mismatch"), gw, RESOLVED);
      await expectRpc(port(), { method: "EchoTwo", authority: "abc.example.com", code: 14 });
    });
    test("gRPC request sent to Service targeted by BackendTLSPolicy with mismatched cert should fail", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, gw, [nn("backendtlspolicy-grpcroute-cert-mismatch")]);
      await policyMustHaveCondition(ctx.env, nn("grpc-cert-mismatch"), gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, nn("grpc-cert-mismatch"), gw, RESOLVED);
      await expectRpc(port(), { method: "Echo", authority: "cert-mismatch.example.com", code: 14 });
    });
  },
);
