import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectRpc, grpcBackendsYaml, grpcCaseName, grpcRoutesMustBeAccepted, type GrpcExpectation } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const v1 = { backend: "grpc-infra-backend-v1", namespace: ns };
const v2 = { backend: "grpc-infra-backend-v2", namespace: ns };

conformance(
  {
    name: "GRPCRouteHeaderMatching",
    features: ["SupportGateway", "SupportGRPCRoute"],
    manifests: {
      "backends.yaml": grpcBackendsYaml(ns),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc-header-matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{headers: [{name: version, value: one}]}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{headers: [{name: version, value: two}]}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
  # Both headers must match; more header matches take precedence over the rule above.
  - matches: [{headers: [{name: version, value: two}, {name: color, value: orange}]}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  # Either match.
  - matches: [{headers: [{name: color, value: blue}]}, {headers: [{name: color, value: green}]}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{headers: [{name: color, value: red}]}, {headers: [{name: color, value: yellow}]}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and GRPCRoute are accepted with resolved refs", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, { namespace: ns, name: "same-namespace" }, [{ namespace: ns, name: "grpc-header-matching" }]);
    });
    const cases: GrpcExpectation[] = [
      { method: "Echo", metadata: { Version: "one" }, ...v1 },
      { method: "Echo", metadata: { Version: "two" }, ...v2 },
      { method: "Echo", metadata: { Version: "two", Color: "orange" }, ...v1 },
      { method: "Echo", metadata: { Version: "two", Color: "blue" }, ...v2 },
      { method: "Echo", metadata: { Color: "orange" }, code: 12 },
      { method: "Echo", metadata: { "Some-Other-Header": "one" }, code: 12 },
      { method: "Echo", metadata: { Color: "blue" }, ...v1 },
      { method: "Echo", metadata: { Color: "green" }, ...v1 },
      { method: "Echo", metadata: { Color: "red" }, ...v2 },
      { method: "Echo", metadata: { Color: "yellow" }, ...v2 },
      { method: "Echo", metadata: { Color: "purple" }, code: 12 },
    ];
    cases.forEach((c, i) => test(grpcCaseName(c, i), async () => void (await expectRpc(ctx.env.port("same-namespace"), c))));
  },
);
