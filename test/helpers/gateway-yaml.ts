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
