import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { expectRpc, grpcBackendsYaml, grpcCaseName, grpcRoutesMustBeAccepted, type GrpcExpectation } from "./harness/grpc.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "grpcroute-listener-hostname-matching" };
const listener = (name: string, hostname: string): string =>
  `  - {name: ${name}, port: {{port:grpcroute-listener-hostname-matching}}, protocol: HTTP, hostname: "${hostname}", allowedRoutes: {namespaces: {from: Same}}}`;
const route = (name: string, backend: string, sections: string[]): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs:
${sections.map((s) => `  - {name: grpcroute-listener-hostname-matching, namespace: ${ns}, sectionName: ${s}}`).join("\n")}
  rules:
  - backendRefs: [{name: ${backend}, port: 8080}]
`;

conformance(
  {
    name: "GRPCRouteListenerHostnameMatching",
    features: ["SupportGateway", "SupportGRPCRoute"],
    manifests: {
      "backends.yaml": grpcBackendsYaml(ns),
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: grpcroute-listener-hostname-matching, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
${listener("listener-1", "bar.com")}
${listener("listener-2", "foo.bar.com")}
${listener("listener-3", "*.bar.com")}
${listener("listener-4", "*.foo.com")}
---${route("backend-v1", "grpc-infra-backend-v1", ["listener-1"])}---${route("backend-v2", "grpc-infra-backend-v2", ["listener-2"])}---${route("backend-v3", "grpc-infra-backend-v3", ["listener-3", "listener-4"])}`,
    },
  },
  (ctx) => {
    test("each GRPCRoute is accepted by the listeners it names", async () => {
      await grpcRoutesMustBeAccepted(ctx.env, gw, [{ namespace: ns, name: "backend-v1" }], ["listener-1"]);
      await grpcRoutesMustBeAccepted(ctx.env, gw, [{ namespace: ns, name: "backend-v2" }], ["listener-2"]);
      await grpcRoutesMustBeAccepted(ctx.env, gw, [{ namespace: ns, name: "backend-v3" }], ["listener-3", "listener-4"]);
    });
    const to = (authority: string, v: string): GrpcExpectation => ({ method: "Echo", authority, backend: `grpc-infra-backend-${v}`, namespace: ns });
    const cases: GrpcExpectation[] = [
      to("bar.com", "v1"),
      to("foo.bar.com", "v2"),
      to("baz.bar.com", "v3"),
      to("boo.bar.com", "v3"),
      to("multiple.prefixes.bar.com", "v3"),
      to("multiple.prefixes.foo.com", "v3"),
      { method: "Echo", authority: "foo.com", code: 12 },
      { method: "Echo", authority: "no.matching.host", code: 12 },
    ];
    cases.forEach((c, i) => test(grpcCaseName(c, i), async () => void (await expectRpc(ctx.env.port("grpcroute-listener-hostname-matching"), c))));
  },
);
