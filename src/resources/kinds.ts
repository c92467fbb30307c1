// The kinds Sluice accepts, with their schema validators and scope.
import { validate as gatewayClassV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1GatewayClass";
import { validate as gatewayV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1Gateway";
import { validate as httpRouteV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1HTTPRoute";
import { validate as grpcRouteV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1GRPCRoute";
import { validate as referenceGrantV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1ReferenceGrant";
import { validate as backendTLSPolicyV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1BackendTLSPolicy";
import { validate as tlsRouteV1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1TLSRoute";
import { validate as gatewayClassV1beta1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1beta1GatewayClass";
import { validate as gatewayV1beta1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1beta1Gateway";
import { validate as httpRouteV1beta1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1beta1HTTPRoute";
import { validate as referenceGrantV1beta1 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1beta1ReferenceGrant";
import { validate as grpcRouteV1alpha2 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2GRPCRoute";
import { validate as referenceGrantV1alpha2 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2ReferenceGrant";
import { validate as tcpRouteV1alpha2 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2TCPRoute";
import { validate as tlsRouteV1alpha2 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2TLSRoute";
import { validate as udpRouteV1alpha2 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha2UDPRoute";
import { validate as backendTLSPolicyV1alpha3 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha3BackendTLSPolicy";
import { validate as tlsRouteV1alpha3 } from "@kubernetes-models/gateway-api/_schemas/IoK8sSigsGatewayApiApisV1alpha3TLSRoute";
import { validate as serviceV1 } from "kubernetes-models/_schemas/IoK8sApiCoreV1Service";
import { validate as secretV1 } from "kubernetes-models/_schemas/IoK8sApiCoreV1Secret";
import { validate as configMapV1 } from "kubernetes-models/_schemas/IoK8sApiCoreV1ConfigMap";
import { validate as namespaceV1 } from "kubernetes-models/_schemas/IoK8sApiCoreV1Namespace";
import { validate as endpointSliceV1 } from "kubernetes-models/_schemas/IoK8sApiDiscoveryV1EndpointSlice";
import type { Reporter } from "./reporter.js";
import type { K8sObject } from "./types.js";
import type { SchemaValidator } from "./schema.js";
import { checkGateway, checkGatewayClass } from "./rules/gateway.js";
import { checkHTTPRoute } from "./rules/httproute.js";
import { checkGRPCRoute } from "./rules/grpcroute.js";
import { checkBackend } from "./backend.js";
import { checkEndpointSlice, checkService } from "./rules/core.js";
import { POLICY_KINDS, policyKind } from "./policies/index.js";
import { checkCiliumNetworkPolicy, CILIUM_GROUP } from "./rules/cilium-network-policy.js";

export const GATEWAY_GROUP = "gateway.networking.k8s.io";
export const SLUICE_GROUP = "sluice.dev";

export interface KindInfo {
  group: string;
  kind: string;
  namespaced: boolean;
  /** version -> generated schema validator (undefined when a hand validator covers the kind). */
  versions: Record<string, SchemaValidator | undefined>;
  /** Rules the schema cannot express (the CRDs' CEL rules, our own kinds' validators). */
  check?: (obj: K8sObject, rep: Reporter) => void;
}

const v = (f: (data: unknown) => boolean): SchemaValidator => f as SchemaValidator;

const registry = new Map<string, KindInfo>();

/** Adds a kind; other parts (policies ...) register theirs here. */
export function registerKind(info: KindInfo): void {
  registry.set(`${info.group}/${info.kind}`, info);
}

export function lookupKind(group: string, kind: string): KindInfo | undefined {
  return registry.get(`${group}/${kind}`);
}

export function knownKinds(): KindInfo[] {
  return [...registry.values()].sort((a, b) => (a.group + a.kind).localeCompare(b.group + b.kind));
}

/** "Gateway (gateway.networking.k8s.io/v1, v1beta1)" for every kind: what a user may write. */
export function describeKnownKinds(): string {
  return knownKinds()
    .map((k) => `${k.kind} (${Object.keys(k.versions).map((ver) => (k.group ? `${k.group}/${ver}` : ver)).join(", ")})`)
    .join("; ");
}

registerKind({ group: GATEWAY_GROUP, kind: "GatewayClass", namespaced: false, versions: { v1: v(gatewayClassV1), v1beta1: v(gatewayClassV1beta1) }, check: checkGatewayClass });
registerKind({ group: GATEWAY_GROUP, kind: "Gateway", namespaced: true, versions: { v1: v(gatewayV1), v1beta1: v(gatewayV1beta1) }, check: checkGateway });
registerKind({ group: GATEWAY_GROUP, kind: "HTTPRoute", namespaced: true, versions: { v1: v(httpRouteV1), v1beta1: v(httpRouteV1beta1) }, check: checkHTTPRoute });
registerKind({ group: GATEWAY_GROUP, kind: "GRPCRoute", namespaced: true, versions: { v1: v(grpcRouteV1), v1alpha2: v(grpcRouteV1alpha2) }, check: checkGRPCRoute });
registerKind({ group: GATEWAY_GROUP, kind: "TLSRoute", namespaced: true, versions: { v1: v(tlsRouteV1), v1alpha3: v(tlsRouteV1alpha3), v1alpha2: v(tlsRouteV1alpha2) } });
registerKind({ group: GATEWAY_GROUP, kind: "TCPRoute", namespaced: true, versions: { v1alpha2: v(tcpRouteV1alpha2) } });
registerKind({ group: GATEWAY_GROUP, kind: "UDPRoute", namespaced: true, versions: { v1alpha2: v(udpRouteV1alpha2) } });
registerKind({ group: GATEWAY_GROUP, kind: "ReferenceGrant", namespaced: true, versions: { v1: v(referenceGrantV1), v1beta1: v(referenceGrantV1beta1), v1alpha2: v(referenceGrantV1alpha2) } });
registerKind({ group: GATEWAY_GROUP, kind: "BackendTLSPolicy", namespaced: true, versions: { v1: v(backendTLSPolicyV1), v1alpha3: v(backendTLSPolicyV1alpha3) } });
registerKind({ group: "", kind: "Service", namespaced: true, versions: { v1: v(serviceV1) }, check: checkService });
registerKind({ group: "", kind: "Secret", namespaced: true, versions: { v1: v(secretV1) } });
// CA bundles for BackendTLSPolicy (key ca.crt).
registerKind({ group: "", kind: "ConfigMap", namespaced: true, versions: { v1: v(configMapV1) } });
registerKind({ group: "", kind: "Namespace", namespaced: false, versions: { v1: v(namespaceV1) } });
registerKind({ group: "discovery.k8s.io", kind: "EndpointSlice", namespaced: true, versions: { v1: v(endpointSliceV1) }, check: checkEndpointSlice });
registerKind({ group: SLUICE_GROUP, kind: "Backend", namespaced: true, versions: { v1alpha1: undefined }, check: checkBackend });
for (const p of POLICY_KINDS) registerKind(policyKind(p));
// Network policy at the gateway's edge: the Cilium shapes, validated by hand (no generated schema).
registerKind({ group: CILIUM_GROUP, kind: "CiliumNetworkPolicy", namespaced: true, versions: { v2: undefined }, check: checkCiliumNetworkPolicy });
registerKind({ group: CILIUM_GROUP, kind: "CiliumClusterwideNetworkPolicy", namespaced: false, versions: { v2: undefined }, check: checkCiliumNetworkPolicy });
