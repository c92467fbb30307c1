import { INFRA_NS } from "./harness/env.js";
import { gatewayYaml } from "./harness/gateway-yaml.js";
import type { Expectation } from "./harness/http.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const sections = ["empty-hostname", "wildcard-example-com", "wildcard-foo-example-com", "abc-foo-example-com"];
const hostnameOf: Record<string, string | null> = {
  "empty-hostname": null,
  "wildcard-example-com": "*.example.com",
  "wildcard-foo-example-com": "*.foo.example.com",
  "abc-foo-example-com": "abc.foo.example.com",
};
const gatewayOf = (gw: string): string =>
  gatewayYaml(
    ns,
    gw,
    sections.map((s) => `{name: ${s}, port: {{port:${gw}}}, protocol: HTTP${hostnameOf[s] ? `, hostname: "${hostnameOf[s]}"` : ""}, allowedRoutes: {namespaces: {from: All}}}`),
  );
// In the second Gateway every route also lists all four hostnames: isolation, not the route's
// hostnames, must still keep each request on its most specific listener.
const routesOf = (gw: string, suffix: string, hostnames: boolean): string =>
  sections
    .map(
      (s) => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: attaches-to-${s}${suffix}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${gw}, namespace: ${ns}, sectionName: ${s}}]
${hostnames ? `  hostnames: [bar.com, "*.example.com", "*.foo.example.com", abc.foo.example.com]\n` : ""}  rules:
  - matches: [{path: {type: PathPrefix, value: /${s}}}]
    backendRefs: [{name: infra-backend-v1, port: 8080}]
`,
    )
    .join("---");

const g1 = "http-listener-isolation";
const g2 = "http-listener-isolation-with-hostname-intersection";
const serves: Record<string, string> = {
  "bar.com": "empty-hostname",
  "bar.example.com": "wildcard-example-com",
  "bar.foo.example.com": "wildcard-foo-example-com",
  "abc.foo.example.com": "abc-foo-example-com",
};
const cases: Expectation[] = Object.entries(serves).flatMap(([host, listener]) =>
  sections.map((s) => (s === listener ? { request: { host, path: `/${s}` }, backend: "infra-backend-v1", namespace: ns } : { request: { host, path: `/${s}` }, status: 404 })),
);

conformance(
  {
    name: "GatewayHTTPListenerIsolation",
    features: ["SupportGatewayHTTPListenerIsolation"],
    manifests: { "case.yaml": [gatewayOf(g1), routesOf(g1, "", false), gatewayOf(g2), routesOf(g2, "-with-hostname-intersection", true)].join("---") },
    accepted: [
      { gateway: { namespace: ns, name: g1 }, routes: sections.map((s) => ({ namespace: ns, name: `attaches-to-${s}` })) },
      { gateway: { namespace: ns, name: g2 }, routes: sections.map((s) => ({ namespace: ns, name: `attaches-to-${s}-with-hostname-intersection` })) },
    ],
  },
  (ctx) => {
    expectCases(ctx, g1, cases.map((c) => ({ ...c, name: `hostnames only on listeners: ${c.request.host}${c.request.path} -> ${c.status ?? 200}` })));
    expectCases(ctx, g2, cases.map((c) => ({ ...c, name: `hostnames on listeners and routes: ${c.request.host}${c.request.path} -> ${c.status ?? 200}` })));
  },
);
