import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";
import type { Expectation } from "./harness/http.js";

const ns = INFRA_NS;
const gw8080 = "same-namespace-with-http-listener-on-8080";
const redirect = (prefix: string, filter: string): string =>
  `  - matches: [{path: {type: PathPrefix, value: ${prefix}}}]\n    filters: [{type: RequestRedirect, requestRedirect: {hostname: example.org, ${filter}}}]`;
const route = (name: string, parent: string, rules: string[]): string => `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [{name: ${parent}}]
  rules:
${rules.join("\n")}
`;

// Upstream runs this on listeners bound to 80, 8080 and 443. Here every listener has a free port,
// which makes the port rules visible: with no scheme and no port in the filter the Location must
// carry the listener's own port; with a scheme, that scheme's well-known port (left out).
conformance(
  {
    name: "HTTPRouteRedirectPortAndScheme",
    features: ["SupportHTTPRoutePortRedirect", "SupportGatewayPort8080 (any non-default port here)"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${gw8080}, namespace: ${ns}}
spec:
  gatewayClassName: "{{class}}"
  listeners:
  - {name: http, port: {{port:${gw8080}}}, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
---${route("http-route-for-listener-on-port-80", "same-namespace", [
        redirect("/scheme-nil-and-port-nil", ""),
        redirect("/scheme-nil-and-port-80", "port: 80"),
        redirect("/scheme-nil-and-port-8080", "port: 8080"),
        redirect("/scheme-https-and-port-nil", "scheme: https"),
        redirect("/scheme-https-and-port-443", "scheme: https, port: 443"),
        redirect("/scheme-https-and-port-8443", "scheme: https, port: 8443"),
      ])}---${route("http-route-for-listener-on-port-8080", gw8080, [
        redirect("/scheme-nil-and-port-nil", ""),
        redirect("/scheme-nil-and-port-80", "port: 80"),
        redirect("/scheme-https-and-port-nil", "scheme: https"),
      ])}---${route("http-route-for-listener-on-port-443", "same-namespace-with-https-listener", [
        redirect("/scheme-nil-and-port-nil", ""),
        redirect("/scheme-nil-and-port-443", "port: 443"),
        redirect("/scheme-nil-and-port-8443", "port: 8443"),
        redirect("/scheme-http-and-port-nil", "scheme: http"),
        redirect("/scheme-http-and-port-80", "scheme: http, port: 80"),
        redirect("/scheme-http-and-port-8080", "scheme: http, port: 8080"),
      ])}`,
    },
    accepted: [
      { gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "http-route-for-listener-on-port-80" }] },
      { gateway: { namespace: ns, name: gw8080 }, routes: [{ namespace: ns, name: "http-route-for-listener-on-port-8080" }] },
      { gateway: { namespace: ns, name: "same-namespace-with-https-listener" }, routes: [{ namespace: ns, name: "http-route-for-listener-on-port-443" }] },
    ],
  },
  (ctx) => {
    const listenerPort = (key: string) => ({
      get port(): string {
        return String(ctx.env.port(key));
      },
    });
    const c = (path: string, scheme: string, port?: string | { port: string }, host?: string): Expectation => ({
      name: `request to '${path}' should redirect to ${scheme}://example.org${typeof port === "string" ? `:${port}` : port ? ":<listener port>" : ""}`,
      request: { path, ...(host ? { host } : {}) },
      status: 302,
      redirect: Object.defineProperties({ scheme, host: "example.org" } as Record<string, string>, {
        port: { enumerable: true, get: () => (typeof port === "string" ? port : port?.port) },
      }),
    });

    // http listener (upstream: port 80).
    expectCases(ctx, "same-namespace", [
      c("/scheme-nil-and-port-nil", "http", listenerPort("same-namespace")),
      c("/scheme-nil-and-port-80", "http"),
      c("/scheme-nil-and-port-8080", "http", "8080"),
      c("/scheme-https-and-port-nil", "https"),
      c("/scheme-https-and-port-443", "https"),
      c("/scheme-https-and-port-8443", "https", "8443"),
    ]);
    // Second http listener (upstream: port 8080).
    expectCases(ctx, gw8080, [
      c("/scheme-nil-and-port-nil", "http", listenerPort(gw8080)),
      c("/scheme-nil-and-port-80", "http"),
      c("/scheme-https-and-port-nil", "https"),
    ]);
    // https listener (upstream: port 443); requests with SNI and Host example.org.
    const tlsOpts = {
      get tls() {
        return { servername: "example.org", ca: ctx.env.certs.get(`${ns}/tls-validity-checks-certificate`)!.certPem };
      },
    };
    expectCases(
      ctx,
      "same-namespace-with-https-listener",
      [
        c("/scheme-nil-and-port-nil", "https", listenerPort("same-namespace-with-https-listener"), "example.org"),
        c("/scheme-nil-and-port-443", "https", undefined, "example.org"),
        c("/scheme-nil-and-port-8443", "https", "8443", "example.org"),
        c("/scheme-http-and-port-nil", "http", undefined, "example.org"),
        c("/scheme-http-and-port-80", "http", undefined, "example.org"),
        c("/scheme-http-and-port-8080", "http", "8080", "example.org"),
      ],
      tlsOpts,
    );
  },
);
