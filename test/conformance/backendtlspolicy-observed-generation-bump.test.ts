import assert from "node:assert/strict";
import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { caConfigMapsYaml, policyCondition, serviceYaml } from "./harness/grpc.js";
import { eventually, find } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };
const nn = { namespace: ns, name: "observed-generation-bump" };
const policy = (hostname: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: observed-generation-bump, namespace: ${ns}}
spec:
  targetRefs: [{group: "", kind: Service, name: observed-generation-bump-test, sectionName: https}]
  validation:
    caCertificateRefs: [{group: "", kind: ConfigMap, name: tls-checks-ca-certificate}]
    hostname: ${hostname}
`;

conformance(
  {
    name: "BackendTLSPolicyObservedGenerationBump",
    features: ["SupportGateway", "SupportHTTPRoute", "SupportBackendTLSPolicy"],
    manifests: {
      "ca.yaml": caConfigMapsYaml(ns),
      "service.yaml": serviceYaml(ns, "observed-generation-bump-test", [{ name: "https", port: 443 }], `${ns}/tls-backend-pod-0/https`),
      "route.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backendtlspolicy-observed-generation-bump, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: observed-generation-bump-test, port: 443}]
`,
      "policy.yaml": policy("abc.example.com"),
    },
  },
  (ctx) => {
    test("observedGeneration should increment", async () => {
      // policyCondition also checks every ancestor condition carries the object's generation.
      const accepted = (items: Parameters<typeof find>[0]): string | null => policyCondition(items, nn, gw, { type: "Accepted", status: "True" });
      const before = await eventually(ctx.env, accepted);
      const gen1 = find(before, "BackendTLSPolicy", nn)!.metadata.generation;
      assert.ok(gen1 !== undefined, "the policy has a metadata.generation");
      await ctx.env.apply({ "policy.yaml": policy("foo.example.com") });
      const after = await eventually(ctx.env, (items) => (find(items, "BackendTLSPolicy", nn)?.metadata.generation === gen1 ? "generation not bumped yet" : null) ?? accepted(items));
      assert.notEqual(find(after, "BackendTLSPolicy", nn)!.metadata.generation, gen1, "generation should change after an update");
    });
  },
);
