// YAML the wire tests start gateways with: the "sluice" GatewayClass with one Gateway, and a
// Backend with one endpoint on 127.0.0.1.

/**
 * The GatewayClass and a Gateway named `name` with these listeners, each one YAML flow mapping
 * (e.g. `{name: web, protocol: HTTP, port: 8080}`). `meta` adds to the Gateway's metadata
 * (e.g. `namespace: default, labels: {app: edge}`). No trailing document separator.
 */
export function gatewayYaml(name: string, listeners: string[], meta = ""): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: sluice}
spec: {controllerName: sluice.dev/gateway-controller}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}${meta ? `, ${meta}` : ""}}
spec:
  gatewayClassName: sluice
  listeners:
${listeners.map((l) => `  - ${l}`).join("\n")}
`;
}

/** A Backend (sluice.dev) with one endpoint, 127.0.0.1:port; ends with a document separator. */
export function backendYaml(name: string, port: number, namespace = "default", labels = ""): string {
  return `apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata: {name: ${name}, namespace: ${namespace}${labels ? `, labels: {${labels}}` : ""}}
spec: {endpoints: [{ip: {address: 127.0.0.1, port: ${port}}}]}
---
`;
}

/** The echo Backend as the security and rate limit tests name it (the port is the Backend's own). */
export const ECHO_REF = "{group: sluice.dev, kind: Backend, name: echo, port: 1}";

/**
 * An HTTPRoute on Gateway "gw" (namespace default) with one PathPrefix rule per entry: a path, or
 * [rule name, path]. No trailing document separator.
 */
export function prefixRouteYaml(name: string, rules: (string | [string, string])[], backendRef = ECHO_REF): string {
  const body = rules
    .map((r) => {
      const [ruleName, path] = typeof r === "string" ? [null, r] : r;
      return `${ruleName !== null ? `    - name: ${ruleName}\n      matches` : "    - matches"}: [{path: {type: PathPrefix, value: ${path}}}]\n      backendRefs: [${backendRef}]\n`;
    })
    .join("");
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules:
${body}`;
}

/** A sluice.dev Backend reference (L4 routes name them without a port). */
export const backendRef = (name: string, weight?: number): string => `{group: sluice.dev, kind: Backend, name: ${name}${weight !== undefined ? `, weight: ${weight}` : ""}}`;

/**
 * A TCPRoute, UDPRoute or TLSRoute with one rule, attached to listener `section` of Gateway
 * `gateway`. `backendRefs` is the YAML list body; `hostnames` (TLSRoute) likewise. TLSRoute is
 * served under v1 and v1alpha2; `version` picks one. No trailing document separator.
 */
export function l4RouteYaml(
  kind: "TCPRoute" | "UDPRoute" | "TLSRoute",
  name: string,
  gateway: string,
  section: string,
  backendRefs: string,
  opts: { hostnames?: string; version?: "v1" | "v1alpha2" } = {},
): string {
  return `apiVersion: gateway.networking.k8s.io/${opts.version ?? "v1alpha2"}
kind: ${kind}
metadata: {name: ${name}}
spec:
  parentRefs: [{name: ${gateway}, sectionName: ${section}}]
${opts.hostnames !== undefined ? `  hostnames: [${opts.hostnames}]\n` : ""}  rules: [{backendRefs: [${backendRefs}]}]
`;
}
