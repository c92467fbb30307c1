import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ECHO_SERVICE, expectRpc, grpcBackendsYaml, grpcCaseName, grpcRoutesMustBeAccepted, type GrpcExpectation } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "same-namespace" };

conformance(
  {
    name: "GRPCExactMethodMatching",
    features: ["SupportGateway", "SupportGRPCRoute"],
    manifests: {
      "backends.yaml": grpcBackendsYaml(ns),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: exact-matching, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{method: {service: ${ECHO_SERVICE}, method: Echo}}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{method: {service: ${ECHO_SERVICE}, method: EchoTwo}}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and GRPCRoute are accepted with resolved refs", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, gw, [{ namespace: ns, name: "exact-matching" }]);
    });
    const cases: GrpcExpectation[] = [
      { method: "Echo", backend: "grpc-infra-backend-v1", namespace: ns },
      { method: "EchoTwo", backend: "grpc-infra-backend-v2", namespace: ns },
      // No rule matches EchoThree: the gateway answers UNIMPLEMENTED.
      { method: "EchoThree", code: 12 },
    ];
    cases.forEach((c, i) => test(grpcCaseName(c, i), async () => void (await expectRpc(ctx.env.port("same-namespace"), c))));
  },
);
