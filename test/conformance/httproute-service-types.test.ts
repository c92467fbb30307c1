import { INFRA_NS } from "./harness/env.js";
import { conformance, expectCases } from "./harness/suite.js";

const ns = INFRA_NS;
const pod = (i: number): string => `{{endpoint:${ns}/infra-backend-v1-pod-${i}/http}}`;
const slice = (name: string, service: string, family: "IPv4" | "IPv6", podIndex: number | null): string => `
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: ${ns}, labels: {kubernetes.io/service-name: ${service}}}
addressType: ${family}
ports: [{name: first-port, protocol: TCP, port: ${podIndex === null ? 3000 : pod(podIndex)}}]
${podIndex === null ? "" : `endpoints: [{addresses: ["127.0.0.1"], conditions: {ready: true, serving: true, terminating: false}, targetRef: {kind: Pod, namespace: ${ns}, name: infra-backend-v1-pod-${podIndex}}}]\n`}`;
const service = (name: string, extra: string): string => `
apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: ${ns}}
spec:
${extra}  ports: [{name: first-port, protocol: TCP, port: 8080, targetPort: 3000}]
`;

// Upstream fills the manual slices with infra-backend-v1's pod IPs (IPv4 only on most clusters: the
// IPv6 slices stay empty) and relies on the cluster to make the headless Service's slices from its
// selector. Here the slices are written out, one per pod since each pod has its own port.
conformance(
  {
    name: "HTTPRouteServiceTypes",
    features: ["core"],
    manifests: {
      "case.yaml": [
        `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: service-types, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: Exact, value: /manual-endpointslices}}]
    backendRefs: [{name: manual-endpointslices, port: 8080}]
  - matches: [{path: {type: Exact, value: /headless}}]
    backendRefs: [{name: headless, port: 8080}]
  - matches: [{path: {type: Exact, value: /headless-manual-endpointslices}}]
    backendRefs: [{name: headless-manual-endpointslices, port: 8080}]
`,
        service("manual-endpointslices", ""),
        slice("manual-endpointslices-ip4", "manual-endpointslices", "IPv4", 0),
        slice("manual-endpointslices-ip4-1", "manual-endpointslices", "IPv4", 1),
        slice("manual-endpointslices-ip6", "manual-endpointslices", "IPv6", null),
        service("headless", "  clusterIP: None\n  selector: {app: infra-backend-v1}\n"),
        slice("headless-pod-0", "headless", "IPv4", 0),
        slice("headless-pod-1", "headless", "IPv4", 1),
        service("headless-manual-endpointslices", "  clusterIP: None\n"),
        slice("headless-manual-endpointslices-ip4", "headless-manual-endpointslices", "IPv4", 0),
        slice("headless-manual-endpointslices-ip4-1", "headless-manual-endpointslices", "IPv4", 1),
        slice("headless-manual-endpointslices-ip6", "headless-manual-endpointslices", "IPv6", null),
      ].join("---"),
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "service-types" }] }],
  },
  (ctx) => {
    expectCases(
      ctx,
      "same-namespace",
      ["manual-endpointslices", "headless-manual-endpointslices", "headless"].map((p) => ({ request: { path: `/${p}` }, backend: "infra-backend-v1", namespace: ns })),
    );
  },
);
