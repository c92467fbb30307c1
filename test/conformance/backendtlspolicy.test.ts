import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ACCEPTED, caConfigMapsYaml, policyMustHaveCondition, RESOLVED, serviceYaml, testCa } from "./harness/grpc.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };
const httpsGw = { namespace: ns, name: "same-namespace-with-https-listener" };
const POD = `${ns}/tls-backend-pod-0/https`;
const NOT_VALID = { type: "Accepted", status: "False", reason: "NoValidCACertificate" } as const;
const NOT_RESOLVED = { type: "ResolvedRefs", status: "False", reason: "InvalidCACertificateRef" } as const;

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
const rule = (path: string, service: string): string => `  - matches: [{path: {type: Exact, value: ${path}}}]\n    backendRefs: [{group: "", kind: Service, name: ${service}, port: 443}]`;
const reconcileCm = (pem: string): string => `
apiVersion: v1
kind: ConfigMap
metadata: {name: tls-checks-ca-certificate-reconcile-test, namespace: ${ns}}
data:
  ca.crt: ${JSON.stringify(pem)}
`;

conformance(
  {
    name: "BackendTLSPolicy",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      "services.yaml": [
        serviceYaml(ns, "backendtlspolicy-test", [{ name: "btls", port: 443 }], POD),
        serviceYaml(ns, "backendtlspolicy-host-mismatch-test", [{ name: "btls", port: 443, appProtocol: "HTTPS" }], POD),
        serviceYaml(ns, "backendtlspolicy-cert-mismatch-test", [{ name: "btls", port: 443, appProtocol: "HTTPS" }], POD),
        serviceYaml(ns, "backendtlspolicy-reconcile-test", [{ name: "btls", port: 443 }], POD),
      ].join("---\n"),
      "routes.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace, namespace: ${ns}}]
  hostnames: [abc.example.com]
  rules:
${rule("/backendtlspolicy", "backendtlspolicy-test")}
${rule("/backendtlspolicy-host-mismatch", "backendtlspolicy-host-mismatch-test")}
${rule("/backendtlspolicy-cert-mismatch", "backendtlspolicy-cert-mismatch-test")}
${rule("/backendtlspolicy-reconcile-test", "backendtlspolicy-reconcile-test")}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy-reencrypt, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace-with-https-listener, namespace: ${ns}}]
  hostnames: [https-listener.org]
  rules:
${rule("/backendtlspolicy", "backendtlspolicy-test")}
`,
      "policies.yaml": [
        policy("normative-test", "backendtlspolicy-test", "tls-checks-ca-certificate", "abc.example.com"),
        policy("host-mismatch", "backendtlspolicy-host-mismatch-test", "tls-checks-ca-certificate", "mismatch.example.com"),
        // Signed by another CA than the backend's certificate: validation must fail.
        policy("cert-mismatch", "backendtlspolicy-cert-mismatch-test", "mismatch-ca-certificate", "abc.example.com"),
      ].join("---"),
      "reconcile-policy.yaml": policy("reconcile-test", "backendtlspolicy-reconcile-test", "tls-checks-ca-certificate", "abc.example.com"),
    },
    accepted: [
      { gateway: gw, routes: [{ namespace: ns, name: "backendtlspolicy" }] },
      { gateway: httpsGw, routes: [{ namespace: ns, name: "backendtlspolicy-reencrypt" }] },
    ],
  },
  (ctx) => {
    const host = "abc.example.com";
    test("Re-encrypt HTTPS request sent to Service with valid BackendTLSPolicy should succeed", async () => {
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "normative-test" }, httpsGw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "normative-test" }, httpsGw, RESOLVED);
      const ca = ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem;
      const res = await expectResponse(ctx.env.port("same-namespace-with-https-listener"), { request: { path: "/backendtlspolicy", host: "https-listener.org" }, namespace: ns }, { tls: { servername: "https-listener.org", ca } });
      assert.equal(res.echo?.sni, "abc.example.com", "the backend saw the policy's hostname as SNI");
    });

    test("HTTP request sent to Service with valid BackendTLSPolicy should succeed", async () => {
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "normative-test" }, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "normative-test" }, gw, RESOLVED);
      const res = await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/backendtlspolicy", host }, namespace: ns, backend: "tls-backend" });
      assert.equal(res.echo?.sni, "abc.example.com");
    });

    // Upstream sends these with another Host, which no route serves; here the request reaches the
    // route so the failure is the TLS verification's.
    test("HTTP request sent to Service targeted by BackendTLSPolicy with mismatched hostname should return an HTTP error", async () => {
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "host-mismatch" }, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "host-mismatch" }, gw, RESOLVED);
      await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/backendtlspolicy-host-mismatch", host }, status: [502, 503] });
    });

    test("HTTP request send to Service targeted by BackendTLSPolicy with mismatched cert should return HTTP error", async () => {
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "cert-mismatch" }, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, { namespace: ns, name: "cert-mismatch" }, gw, RESOLVED);
      await expectResponse(ctx.env.port("same-namespace"), { request: { path: "/backendtlspolicy-cert-mismatch", host }, status: [502, 503] });
    });

    test("Changing the content of a ConfigMap used by BackendTLSPolicy as CA certificate should be reconciled by the controller", async () => {
      const p = { namespace: ns, name: "reconcile-test" };
      const port = ctx.env.port("same-namespace");
      const path = "/backendtlspolicy-reconcile-test";
      await policyMustHaveCondition(ctx.env, p, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, p, gw, RESOLVED);
      // Point the policy at a ConfigMap that does not exist yet.
      await ctx.env.apply({ "reconcile-policy.yaml": policy("reconcile-test", "backendtlspolicy-reconcile-test", "tls-checks-ca-certificate-reconcile-test", "abc.example.com") });
      await policyMustHaveCondition(ctx.env, p, gw, NOT_VALID);
      await policyMustHaveCondition(ctx.env, p, gw, NOT_RESOLVED);
      await expectResponse(port, { request: { path, host }, status: [500, 502, 503] });
      await ctx.env.apply({ "reconcile-cm.yaml": reconcileCm(testCa().caPem) });
      await policyMustHaveCondition(ctx.env, p, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, p, gw, RESOLVED);
      await expectResponse(port, { request: { path, host }, backend: "tls-backend" });
      await ctx.env.apply({ "reconcile-cm.yaml": reconcileCm("") });
      await policyMustHaveCondition(ctx.env, p, gw, NOT_VALID);
      await policyMustHaveCondition(ctx.env, p, gw, NOT_RESOLVED);
      await ctx.env.apply({ "reconcile-cm.yaml": reconcileCm(testCa().caPem) });
      await policyMustHaveCondition(ctx.env, p, gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, p, gw, RESOLVED);
      await expectResponse(port, { request: { path, host }, backend: "tls-backend" });
    });
  },
);
