// Small YAML builders for Gateway cases (every listener port is a {{port:KEY}} placeholder).
export const HTTP_ROUTE_KIND = [{ kind: "HTTPRoute" }];

export function gatewayYaml(ns: string, name: string, listeners: string[], extraSpec = "", annotations = ""): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ${ns}${annotations ? `, annotations: ${annotations}` : ""}}
spec:
  gatewayClassName: "{{class}}"
${extraSpec}  listeners:
${listeners.map((l) => `  - ${l}`).join("\n")}
`;
}

export function routeYaml(ns: string, name: string, parentRef: string, backend = "infra-backend-v1", extra = ""): string {
  return `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}, namespace: ${ns}}
spec:
  parentRefs: [${parentRef}]
${extra}  rules:
  - backendRefs: [{name: ${backend}, port: 8080}]
`;
}
