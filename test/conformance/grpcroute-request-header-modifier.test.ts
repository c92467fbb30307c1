import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ECHO_SERVICE, expectRpc, grpcBackendsYaml, grpcRoutesMustBeAccepted, type GrpcExpectation } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const authority = ECHO_SERVICE;
const rule = (method: string, filter: string, backend: string): string => `
  - matches: [{method: {service: ${ECHO_SERVICE}, method: ${method}}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier:
${filter}
    backendRefs: [{name: ${backend}, port: 8080}]`;

conformance(
  {
    name: "GRPCRouteRequestHeaderModifier",
    features: ["SupportGateway", "SupportGRPCRoute", "SupportGRPCRouteRequestHeaderModifier"],
    manifests: {
      "backends.yaml": grpcBackendsYaml(ns),
      // Three rules share one match: the first in order (set) serves Echo; add/remove are shadowed,
      // as in upstream's manifest.
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc-request-header-modifier, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:${rule("Echo", "        set: [{name: X-Header-Set, value: set-overwrites-values}]", "grpc-infra-backend-v1")}${rule("Echo", "        add: [{name: X-Header-Add, value: add-appends-values}]", "grpc-infra-backend-v1")}${rule("Echo", "        remove: [X-Header-Remove]", "grpc-infra-backend-v1")}${rule(
        "EchoTwo",
        `        set: [{name: X-Header-Set-1, value: header-set-1}, {name: X-Header-Set-2, value: header-set-2}]
        add: [{name: X-Header-Add-1, value: header-add-1}, {name: X-Header-Add-2, value: header-add-2}]
        remove: [X-Header-Remove-1, X-Header-Remove-2]`,
        "grpc-infra-backend-v2",
      )}
`,
    },
  },
  (ctx) => {
    test("Gateway and GRPCRoute are accepted with resolved refs", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, { namespace: ns, name: "same-namespace" }, [{ namespace: ns, name: "grpc-request-header-modifier" }]);
    });
    const v1 = { backend: "grpc-infra-backend-v1", namespace: ns, authority };
    const v2 = { backend: "grpc-infra-backend-v2", namespace: ns, authority };
    const cases: [string, GrpcExpectation][] = [
      ["Set headers -- X-Header-Set is added", { method: "Echo", ...v1, metadata: { "Some-Other-Header": "this-header-should-be-set" }, seen: { "some-other-header": ["this-header-should-be-set"], "x-header-set": ["set-overwrites-values"] } }],
      ["Set headers -- X-Header-Set overwrites the client's value", { method: "Echo", ...v1, metadata: { "Some-Other-Header": "this-header-should-be-set", "X-Header-Set": "this-value-should-be-overwritten" }, seen: { "x-header-set": ["set-overwrites-values"] } }],
      ["Multiple operations -- all header operations are applied", {
        method: "EchoTwo", ...v2,
        metadata: { "X-Header-Set-2": "set-header-2", "X-Header-Add-2": "add-header-2", "X-Header-Remove-2": "should-be-removed-2", "Some-Other-Header": "another-header-val" },
        seen: { "x-header-set-1": ["header-set-1"], "x-header-set-2": ["header-set-2"], "x-header-add-1": ["header-add-1"], "x-header-add-2": ["add-header-2", "header-add-2"], "x-header-remove-2": null, "some-other-header": ["another-header-val"] },
      }],
      ["Case sensitivity -- filter names match lowercase request names", {
        method: "EchoTwo", ...v2,
        metadata: { "x-header-set-1": "original-set-1", "x-header-add-1": "existing-add-1", "x-header-remove-1": "should-be-removed-1" },
        seen: { "x-header-set-1": ["header-set-1"], "x-header-set-2": ["header-set-2"], "x-header-add-1": ["existing-add-1", "header-add-1"], "x-header-add-2": ["header-add-2"], "x-header-remove-1": null },
      }],
    ];
    for (const [name, c] of cases) test(name, async () => void (await expectRpc(ctx.env.port("same-namespace"), c)));
  },
);
