import { describe, test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { askTls, expectL4, expectTlsRejected, l4Pod, l4RouteCondition, l4Service, mustBeL4Accepted } from "./harness/l4.js";
import { eventually } from "./harness/status.js";
import { conformance, type Ctx } from "./harness/suite.js";

// Upstream's four Gateways share port 443 on their own addresses; here each gets its own port.
const gateway = (name: string, hostname: string | null): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${INFRA_NS}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - name: listener
    protocol: TLS
    port: {{port:${name}}}
    ${hostname ? `hostname: "${hostname}"` : ""}
    allowedRoutes: {namespaces: {from: Same}, kinds: [{kind: TLSRoute}]}
    tls: {mode: Passthrough}
---`;

const route = (name: string, gw: string, hostname: string, backend: string): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: TLSRoute
metadata: {name: ${name}, namespace: ${INFRA_NS}}
spec:
  parentRefs: [{name: ${gw}, namespace: ${INFRA_NS}}]
  hostnames: ["${hostname}"]
  rules: [{backendRefs: [{name: ${backend}, port: 443}]}]
---`;

const cases: { title: string; gw: string; routes: string[]; reach: [string, string][]; reject: string }[] = [
  {
    title: "TLSRoutes intersect with exact listener hostname",
    gw: "gw-tlsroute-exact-hostname-x-1",
    routes: ["tlsroute-more-specific-wc-hostname-x-1"],
    reach: [["abc.example.com", "tls-backend"]],
    reject: "non.matching.com",
  },
  {
    title: "TLSRoutes intersect with more specific wildcard listener hostname",
    gw: "gw-tlsroute-more-specific-wc-hostname-x-2",
    routes: ["tlsroute-exact-hostname-x-2", "tlsroute-less-specific-wc-hostname-x-2"],
    reach: [["abc.example.com", "tls-backend"], ["other.example.com", "tls-backend-2"]],
    reject: "non.matching.com",
  },
  {
    title: "TLSRoutes intersect with less specific wildcard listener hostname",
    gw: "gw-tlsroute-less-specific-wc-hostname-x-3",
    routes: ["tlsroute-exact-hostname-x-3", "tlsroute-more-specific-wc-hostname-x-3"],
    reach: [["abc.example.com", "tls-backend"], ["other.example.com", "tls-backend-2"]],
    reject: "non.matching.com",
  },
  {
    title: "TLSRoutes intersect with empty listener hostname",
    gw: "gw-tlsroute-empty-hostname-x-4",
    routes: ["tlsroute-exact-hostname-x-4", "tlsroute-less-specific-wc-hostname-x-4"],
    reach: [["abc.example.com", "tls-backend"], ["other.example.com", "tls-backend-2"]],
    reject: "non.matching.org",
  },
];

conformance(
  {
    name: "TLSRouteHostnameIntersection",
    features: ["SupportGateway", "SupportTLSRoute"],
    manifests: {
      "backends.yaml":
        l4Service(INFRA_NS, "tls-backend", [{ name: "tls", port: 443, kind: "tls" }]) + l4Service(INFRA_NS, "tls-backend-2", [{ name: "tls", port: 443, kind: "tls" }]),
      "case.yaml": [
        gateway("gw-tlsroute-exact-hostname-x-1", "abc.example.com"),
        gateway("gw-tlsroute-more-specific-wc-hostname-x-2", "*.example.com"),
        gateway("gw-tlsroute-less-specific-wc-hostname-x-3", "*.com"),
        gateway("gw-tlsroute-empty-hostname-x-4", null),
        route("tlsroute-more-specific-wc-hostname-x-1", "gw-tlsroute-exact-hostname-x-1", "*.example.com", "tls-backend"),
        route("tlsroute-exact-hostname-x-2", "gw-tlsroute-more-specific-wc-hostname-x-2", "abc.example.com", "tls-backend"),
        route("tlsroute-less-specific-wc-hostname-x-2", "gw-tlsroute-more-specific-wc-hostname-x-2", "*.com", "tls-backend-2"),
        route("tlsroute-exact-hostname-x-3", "gw-tlsroute-less-specific-wc-hostname-x-3", "abc.example.com", "tls-backend"),
        route("tlsroute-more-specific-wc-hostname-x-3", "gw-tlsroute-less-specific-wc-hostname-x-3", "*.example.com", "tls-backend-2"),
        route("tlsroute-exact-hostname-x-4", "gw-tlsroute-empty-hostname-x-4", "abc.example.com", "tls-backend"),
        route("tlsroute-less-specific-wc-hostname-x-4", "gw-tlsroute-empty-hostname-x-4", "*.com", "tls-backend-2"),
      ].join("\n"),
    },
  },
  (ctx: Ctx) => {
    for (const c of cases) {
      describe(c.title, () => {
        const gw = { namespace: INFRA_NS, name: c.gw };
        const routes = c.routes.map((name) => ({ namespace: INFRA_NS, name }));
        test("Gateway and TLSRoutes are accepted with resolved refs", async () => {
          await mustBeL4Accepted(ctx.env, "TLSRoute", gw, routes);
          await eventually(ctx.env, (items) => {
            for (const r of routes) {
              const d = l4RouteCondition(items, "TLSRoute", r, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" });
              if (d) return d;
            }
            return null;
          });
        });
        for (const [sni, backend] of c.reach) {
          test(`SNI ${sni} in the intersection reaches ${backend}`, async () => {
            const pod = l4Pod(ctx.env, INFRA_NS, `${backend}-pod-0`, "tls");
            await expectL4(() => askTls(ctx.env.port(c.gw), sni, pod.cert!.certPem), { backend, namespace: INFRA_NS, tls: true, sni, fingerprint: pod.fingerprint! });
          });
        }
        test(`SNI ${c.reject} outside the intersection is rejected`, async () => {
          await expectTlsRejected(ctx.env.port(c.gw), c.reject);
        });
      });
    }
  },
);
