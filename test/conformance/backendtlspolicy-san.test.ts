import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ACCEPTED, caConfigMapsYaml, policyMustHaveCondition, serviceYaml } from "./harness/grpc.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };
const POD = `${ns}/tls-backend-pod-0/https`;
const host = "abc.example.com";

/** name -> subjectAltNames (YAML flow list); the backend's certificate has DNS abc.example.com and URI spiffe://abc.example.com/test-identity. */
const CASES: [name: string, sans: string, ok: boolean][] = [
  ["san-dns", `[{type: Hostname, hostname: abc.example.com}]`, true],
  ["san-dns-mismatch", `[{type: Hostname, hostname: dce.example.com}]`, false],
  ["san-uri", `[{type: URI, uri: "spiffe://abc.example.com/test-identity"}]`, true],
  ["san-uri-mismatch", `[{type: URI, uri: "spiffe://def.example.com/test-identity"}]`, false],
  ["multiple-sans", `[{type: URI, uri: "spiffe://abc.example.com/test-identity"}, {type: Hostname, hostname: abc.example.com}]`, true],
  ["multiple-mismatch-sans", `[{type: URI, uri: "spiffe://def.example.com/test-identity"}, {type: Hostname, hostname: def.example.com}]`, false],
];

conformance(
  {
    name: "BackendTLSPolicySANValidation",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportBackendTLSPolicy", "SupportBackendTLSPolicySANValidation"],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      // As upstream: the first Service has no appProtocol, the others say HTTPS.
      "services.yaml": CASES.map(([n], i) => serviceYaml(ns, `backendtlspolicy-${n}-test`, [{ name: "btls", port: 443, ...(i > 0 ? { appProtocol: "HTTPS" } : {}) }], POD)).join("---\n"),
      "route.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy-san-test, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${ns}}]
  hostnames: [abc.example.com]
  rules:
${CASES.map(([n]) => `  - matches: [{path: {type: Exact, value: /backendtlspolicy-${n}}}]\n    backendRefs: [{group: "", kind: Service, name: backendtlspolicy-${n}-test, port: 443}]`).join("\n")}
`,
      "policies.yaml": CASES.map(
        ([n, sans]) => `
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${n}, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: backendtlspolicy-${n}-test, sectionName: btls}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: tls-checks-ca-certificate}]
    hostname: abc.example.com
    subjectAltNames: ${sans}
`,
      ).join("---"),
    },
    accepted: [{ gateway: gw, routes: [{ namespace: ns, name: "backendtlspolicy-san-test" }] }],
  },
  (ctx) => {
    for (const [name, , ok] of CASES) {
      test(`HTTP request sent to Service with BackendTLSPolicy ${name} should ${ok ? "succeed" : "return an HTTP error"}`, async () => {
        await policyMustHaveCondition(ctx.env, { namespace: ns, name }, gw, ACCEPTED);
        await expectResponse(ctx.env.port("same-namespace"), { request: { path: `/backendtlspolicy-${name}`, host }, ...(ok ? { namespace: ns, backend: "tls-backend" } : { status: [502, 503] }) });
      });
    }
  },
);
