import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ACCEPTED, caConfigMapsYaml, policyMustHaveCondition, serviceYaml } from "./harness/grpc.js";
import { expectResponse } from "./harness/http.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };
const POD = `${ns}/tls-backend-pod-0/https`;
const CONFLICTED = { type: "Accepted", status: "False", reason: "Conflicted" } as const;
const two = [{ name: "https-1", port: 443 }, { name: "https-2", port: 8443 }];

const policy = (name: string, service: string, hostname: string, section?: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${name}, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: ${service}${section ? `, sectionName: ${section}` : ""}}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: tls-checks-ca-certificate}]
    hostname: ${hostname}
`;
const rule = (path: string, service: string, port: number): string => `  - matches: [{path: {type: Exact, value: ${path}}}]\n    backendRefs: [{group: "", kind: Service, name: ${service}, port: ${port}}]`;

conformance(
  {
    name: "BackendTLSPolicyConflictResolution",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      "services.yaml": [
        serviceYaml(ns, "backendtlspolicy-conflicted-without-section-name-test", [{ name: "https", port: 443 }], POD),
        serviceYaml(ns, "backendtlspolicy-conflicted-with-section-name-test", two, POD),
        serviceYaml(ns, "backendtlspolicy-not-conflicted-test", two, POD),
      ].join("---\n"),
      "route.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy-conflict-resolution, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: [abc.example.com]
  rules:
${rule("/backendtlspolicy-conflicted-without-section-name", "backendtlspolicy-conflicted-without-section-name-test", 443)}
${rule("/backendtlspolicy-conflicted-with-section-name", "backendtlspolicy-conflicted-with-section-name-test", 443)}
${rule("/backendtlspolicy-not-conflicted-with-section-name", "backendtlspolicy-not-conflicted-test", 443)}
${rule("/backendtlspolicy-not-conflicted-without-section-name", "backendtlspolicy-not-conflicted-test", 8443)}
`,
      // Same creation time (none): the first by namespace/name wins, as the spec's tie-breaker says.
      "policies.yaml": [
        policy("conflicted-without-section-name-1", "backendtlspolicy-conflicted-without-section-name-test", "other.example.com"),
        policy("conflicted-without-section-name-2", "backendtlspolicy-conflicted-without-section-name-test", "abc.example.com"),
        policy("conflicted-with-section-name-1", "backendtlspolicy-conflicted-with-section-name-test", "other.example.com", "https-1"),
        policy("conflicted-with-section-name-2", "backendtlspolicy-conflicted-with-section-name-test", "abc.example.com", "https-1"),
        policy("not-conflicted-with-section-name", "backendtlspolicy-not-conflicted-test", "other.example.com", "https-1"),
        policy("not-conflicted-without-section-name", "backendtlspolicy-not-conflicted-test", "abc.example.com"),
      ].join("---"),
    },
    accepted: [{ gateway: gw, routes: [{ namespace: ns, name: "backendtlspolicy-conflict-resolution" }] }],
  },
  (ctx) => {
    const nn = (name: string) => ({ namespace: ns, name });
    // The SNI the backend saw tells which policy was applied.
    const sniFor = async (path: string): Promise<string | undefined> =>
      (await expectResponse(ctx.env.port("same-namespace"), { request: { path, host: "abc.example.com" }, namespace: ns })).echo?.sni;

    test("without a section name: the first policy is accepted, the second Conflicted, traffic uses the first", async () => {
      await policyMustHaveCondition(ctx.env, nn("conflicted-without-section-name-1"), gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, nn("conflicted-without-section-name-2"), gw, CONFLICTED);
      assert.equal(await sniFor("/backendtlspolicy-conflicted-without-section-name"), "other.example.com");
    });

    test("with the same section name: the first policy is accepted, the second Conflicted, traffic uses the first", async () => {
      await policyMustHaveCondition(ctx.env, nn("conflicted-with-section-name-1"), gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, nn("conflicted-with-section-name-2"), gw, CONFLICTED);
      assert.equal(await sniFor("/backendtlspolicy-conflicted-with-section-name"), "other.example.com");
    });

    test("with and without a section name: both accepted, the port's own policy wins on that port", async () => {
      await policyMustHaveCondition(ctx.env, nn("not-conflicted-with-section-name"), gw, ACCEPTED);
      await policyMustHaveCondition(ctx.env, nn("not-conflicted-without-section-name"), gw, ACCEPTED);
      assert.equal(await sniFor("/backendtlspolicy-not-conflicted-with-section-name"), "other.example.com");
      assert.equal(await sniFor("/backendtlspolicy-not-conflicted-without-section-name"), "abc.example.com");
    });
  },
);
