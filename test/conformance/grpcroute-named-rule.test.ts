import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { ECHO_SERVICE, expectRpc, grpcBackendsYaml, grpcCaseName, grpcRoutesMustBeAccepted, type GrpcExpectation } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;

conformance(
  {
    name: "GRPCRouteNamedRule",
    features: ["SupportGateway", "SupportGRPCRoute", "SupportGRPCRouteNamedRouteRule (provisional)"],
    manifests: {
      "backends.yaml": grpcBackendsYaml(ns),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: grpc-named-rules, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - name: named-rule
    matches: [{method: {service: ${ECHO_SERVICE}, method: Echo}}]
    backendRefs: [{name: grpc-infra-backend-v1, port: 8080}]
  - matches: [{method: {service: ${ECHO_SERVICE}, method: EchoTwo}}]
    backendRefs: [{name: grpc-infra-backend-v2, port: 8080}]
`,
    },
  },
  (ctx) => {
    test("Gateway and GRPCRoute are accepted with resolved refs", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, { namespace: ns, name: "same-namespace" }, [{ namespace: ns, name: "grpc-named-rules" }]);
    });
    const cases: GrpcExpectation[] = [
      { method: "Echo", backend: "grpc-infra-backend-v1", namespace: ns },
      { method: "EchoTwo", backend: "grpc-infra-backend-v2", namespace: ns },
    ];
    cases.forEach((c, i) => test(grpcCaseName(c, i), async () => void (await expectRpc(ctx.env.port("same-namespace"), c))));
  },
);
