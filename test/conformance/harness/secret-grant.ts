// Gateway cases referencing the Secret "certificate" in the web-backend namespace.
import { INFRA_NS, WEB_NS } from "./env.js";
import { gatewayYaml } from "./gateway-yaml.js";

export function secretGateway(name: string): string {
  return gatewayYaml(INFRA_NS, name, [
    `{name: https, port: {{port:${name}}}, protocol: HTTPS, allowedRoutes: {namespaces: {from: All}}, tls: {certificateRefs: [{group: "", kind: Secret, name: certificate, namespace: ${WEB_NS}}]}}`,
  ]);
}

export function grantYaml(name: string, ns: string, from: string, to: string): string {
  return `
apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: {name: ${name}, namespace: ${ns}}
spec:
  from: [${from}]
  to: [${to}]
`;
}
