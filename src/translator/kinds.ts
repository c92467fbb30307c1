// Typed views of the input objects, indexed for lookups. Defaults the CRDs would apply are filled
// in defensively where the translator reads them, so a loader that skipped one does no harm.
import type { IGatewayClass } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GatewayClass";
import type { IGateway } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Gateway";
import type { IHTTPRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute";
import type { IReferenceGrantSpec } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/ReferenceGrantSpec";
import type { IService } from "kubernetes-models/v1/Service";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IEndpointSlice } from "kubernetes-models/discovery.k8s.io/v1/EndpointSlice";
import type { K8sObject } from "../resources/types.js";
import { groupOf } from "../resources/types.js";
import { canonicalJson, cmpStr } from "./util.js";
import { lowerBound } from "../util/lower-bound.js";

export const GW_GROUP = "gateway.networking.k8s.io";
export const SLUICE_GROUP = "sluice.dev";
export const NS_NAME_LABEL = "kubernetes.io/metadata.name";
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

/** Our static-endpoint backend kind (sluice.dev/v1alpha1 Backend). */
export interface BackendEndpoint {
  ip?: { address: string; port: number };
  fqdn?: { hostname: string; port: number };
  unix?: { path: string };
  weight?: number;
}
export interface BackendSpec {
  endpoints?: BackendEndpoint[];
  appProtocols?: string[];
}

/** One input object with its identity resolved (namespace defaulted) and its typed body. */
export interface Item<T> {
  obj: K8sObject;
  typed: T;
  namespace: string;
  name: string;
  generation: number | undefined;
  /** creationTimestamp or "" when absent (sorts as oldest). */
  created: string;
}

/** The shape every policy kind shares (policy attachment, GEP-713). */
export interface PolicyTargetRef {
  group: string;
  kind: string;
  name: string;
  sectionName?: string;
}
export interface PolicyObject {
  spec: { targetRefs: PolicyTargetRef[] } & Record<string, unknown>;
}
export type PolicyItem = Item<PolicyObject>;

export type GatewayClassItem = Item<IGatewayClass>;
export type GatewayItem = Item<IGateway>;
export type HTTPRouteItem = Item<IHTTPRoute>;

function item<T>(obj: K8sObject, clusterScoped = false): Item<T> {
  return {
    obj,
    typed: obj as unknown as T,
    namespace: clusterScoped ? "" : obj.metadata.namespace || "default",
    name: obj.metadata.name,
    generation: obj.metadata.generation,
    created: obj.metadata.creationTimestamp ?? "",
  };
}

/** Oldest first, then namespace/name: the spec's tie-breaker between objects. */
export function compareAge(a: Item<unknown>, b: Item<unknown>): number {
  return cmpStr(a.created, b.created) || cmpStr(a.namespace, b.namespace) || cmpStr(a.name, b.name);
}

/** Identity key used to find objects that are defined more than once. */
export function dedupKey(obj: K8sObject): string {
  return `${groupOf(obj.apiVersion)}/${obj.kind}/${obj.metadata.namespace || ""}/${obj.metadata.name}`;
}

/** Key of ResourceIndex.byKey (namespace defaulted for namespaced kinds). */
export function lookupKey(obj: K8sObject): string {
  return `${groupOf(obj.apiVersion)}/${obj.kind}/${obj.metadata.namespace || (obj.kind === "GatewayClass" || obj.kind === "Namespace" ? "" : "default")}/${obj.metadata.name}`;
}

/** Keys of one object, kept per object by the memo; `item` is its HTTPRoute item once made (items are never changed). */
export interface ObjectKeys {
  dedup: string;
  lookup: string;
  group: string;
  item?: HTTPRouteItem;
}

/** What ResourceIndex reuses from earlier builds (implemented by TranslateMemo). */
export interface IndexMemo {
  keys(obj: K8sObject): ObjectKeys;
  sortedKeys(keys: string[]): string[];
  sortedRoutes(routes: HTTPRouteItem[]): HTTPRouteItem[];
}

/** An HTTPRoute of the Gateway API group (what the index lists in httpRoutes). */
function isGwRoute(obj: K8sObject): boolean {
  return !!obj && typeof obj === "object" && !!obj.metadata && obj.kind === "HTTPRoute" && typeof obj.apiVersion === "string" && groupOf(obj.apiVersion) === GW_GROUP;
}

function nsName(it: Item<unknown>): string {
  return `${it.namespace}/${it.name}`;
}

export interface DuplicateObject {
  obj: K8sObject;
}

export class ResourceIndex {
  readonly gatewayClasses: GatewayClassItem[] = [];
  readonly gateways: GatewayItem[] = [];
  /** Not readonly only for patched(), which replaces it. */
  httpRoutes: HTTPRouteItem[] = [];
  readonly services = new Map<string, Item<IService>>();
  readonly secrets = new Map<string, Item<ISecret>>();
  readonly backends = new Map<string, Item<{ spec?: BackendSpec }>>();
  /** "<ns>/<service name>" -> slices, sorted by name. */
  readonly endpointSlices = new Map<string, Item<IEndpointSlice>[]>();
  /** namespace -> grant specs living in it. */
  readonly referenceGrants = new Map<string, IReferenceGrantSpec[]>();
  private readonly namespaceLabels = new Map<string, Record<string, string>>();
  /** BackendTLSPolicy and GRPCRoute objects (Gateway API group), in key order, for backend-tls.ts and grpc-routes.ts. */
  readonly backendTlsPolicies: K8sObject[] = [];
  readonly grpcRoutes: K8sObject[] = [];
  /** Our policy kinds (sluice.dev *Policy), by kind, oldest first. */
  readonly policies = new Map<string, PolicyItem[]>();
  /** Every object by "<group>/<kind>/<namespace>/<name>" (namespace "" for cluster-scoped kinds). */
  readonly byKey = new Map<string, K8sObject>();
  /** Objects dropped because another object had the same identity. */
  readonly duplicates: K8sObject[] = [];

  /** `memo` (see memo.ts) keeps per-object keys and items and last time's sort orders: same index, less work. */
  constructor(objects: K8sObject[], memo: IndexMemo | null = null) {
    // Deduplicate by identity, keeping the canonically smallest copy so input order never matters.
    // The canonical form is only needed when two objects share an identity: computed on demand.
    const byKey = new Map<string, { obj: K8sObject; json?: string; keys?: ObjectKeys }>();
    for (const obj of objects) {
      if (!obj || typeof obj !== "object" || !obj.metadata || typeof obj.metadata.name !== "string") continue;
      const keys = memo?.keys(obj);
      const key = keys ? keys.dedup : dedupKey(obj);
      const prev = byKey.get(key);
      if (!prev) {
        byKey.set(key, keys ? { obj, keys } : { obj });
        continue;
      }
      const json = canonicalJson(obj);
      prev.json ??= canonicalJson(prev.obj);
      if (json < prev.json) {
        this.duplicates.push(prev.obj);
        byKey.set(key, keys ? { obj, json, keys } : { obj, json });
      } else if (json !== prev.json) this.duplicates.push(obj);
    }
    const keys = memo ? memo.sortedKeys([...byKey.keys()]) : [...byKey.keys()].sort(cmpStr);
    for (const k of keys) {
      const { obj, keys: cached } = byKey.get(k)!;
      this.byKey.set(cached ? cached.lookup : lookupKey(obj), obj);
      this.add(obj, cached);
    }
    for (const list of this.policies.values()) list.sort(compareAge);
    this.gatewayClasses.sort((a, b) => cmpStr(a.name, b.name));
    this.gateways.sort(compareAge);
    if (memo) {
      const sorted = memo.sortedRoutes(this.httpRoutes);
      for (let i = 0; i < sorted.length; i++) this.httpRoutes[i] = sorted[i]!;
    } else this.httpRoutes.sort(compareAge);
    for (const list of this.endpointSlices.values()) list.sort((a, b) => cmpStr(a.name, b.name));
  }

  /**
   * This index with the HTTPRoute objects `removed` taken out and `added` put in, everything else
   * being the same objects as when it was built: what a new build from the resulting objects gives
   * (byKey's iteration order aside: its readers sort what they take from it). Null, with nothing
   * changed, when only a full build is sure to give that: duplicates anywhere, other kinds among the
   * changes, an added route whose lookup key is taken, a tie in age order. The index is taken over
   * (changed in place): only the caller (the memo) may keep it.
   */
  patched(removed: readonly K8sObject[], added: readonly K8sObject[], memo: IndexMemo): ResourceIndex | null {
    if (this.duplicates.length > 0) return null;
    const gone = new Set<HTTPRouteItem>();
    const freed = new Set<string>();
    for (const obj of removed) {
      if (!isGwRoute(obj)) return null;
      const k = memo.keys(obj);
      if (this.byKey.get(k.lookup) !== obj || k.item === undefined) return null;
      gone.add(k.item);
      freed.add(k.lookup);
    }
    const taken = new Set<string>();
    const arriving: HTTPRouteItem[] = [];
    for (const obj of added) {
      if (!isGwRoute(obj) || typeof obj.metadata.name !== "string") return null;
      const k = memo.keys(obj);
      if ((this.byKey.has(k.lookup) && !freed.has(k.lookup)) || taken.has(k.lookup)) return null;
      taken.add(k.lookup);
      arriving.push((k.item ??= item<IHTTPRoute>(obj)));
    }
    const routes = gone.size > 0 ? this.httpRoutes.filter((r) => !gone.has(r)) : this.httpRoutes.slice();
    for (const it of arriving) {
      const lo = lowerBound(routes, it, compareAge);
      // A tie is decided by the order objects were added in a build: leave it to one.
      if ((lo < routes.length && compareAge(it, routes[lo]!) === 0) || (lo > 0 && compareAge(routes[lo - 1]!, it) === 0)) return null;
      routes.splice(lo, 0, it);
    }
    for (const obj of removed) this.byKey.delete(memo.keys(obj).lookup);
    for (const obj of added) this.byKey.set(memo.keys(obj).lookup, obj);
    this.httpRoutes = routes;
    return this;
  }

  private add(obj: K8sObject, cached: ObjectKeys | undefined): void {
    const group = cached ? cached.group : groupOf(obj.apiVersion);
    if (group === GW_GROUP) {
      switch (obj.kind) {
        case "GatewayClass":
          this.gatewayClasses.push(item<IGatewayClass>(obj, true));
          return;
        case "Gateway":
          this.gateways.push(item<IGateway>(obj));
          return;
        case "HTTPRoute":
          // The same item while the object is the same (items are never changed): memo.ts reuses by it.
          this.httpRoutes.push(cached ? (cached.item ??= item<IHTTPRoute>(obj)) : item<IHTTPRoute>(obj));
          return;
        case "BackendTLSPolicy":
          this.backendTlsPolicies.push(obj);
          return;
        case "GRPCRoute":
          this.grpcRoutes.push(obj);
          return;
        case "ReferenceGrant": {
          const it = item<{ spec?: IReferenceGrantSpec }>(obj);
          const spec = it.typed.spec;
          if (!spec) return;
          const list = this.referenceGrants.get(it.namespace) ?? [];
          list.push(spec);
          this.referenceGrants.set(it.namespace, list);
          return;
        }
      }
      return;
    }
    if (group === "" && obj.kind === "Service") {
      const it = item<IService>(obj);
      this.services.set(nsName(it), it);
    } else if (group === "" && obj.kind === "Secret") {
      const it = item<ISecret>(obj);
      this.secrets.set(nsName(it), it);
    } else if (group === "" && obj.kind === "Namespace") {
      this.namespaceLabels.set(obj.metadata.name, { ...(obj.metadata.labels ?? {}) });
    } else if (group === "discovery.k8s.io" && obj.kind === "EndpointSlice") {
      const it = item<IEndpointSlice>(obj);
      const svc = obj.metadata.labels?.[SERVICE_NAME_LABEL];
      if (!svc) return;
      const k = `${it.namespace}/${svc}`;
      const list = this.endpointSlices.get(k) ?? [];
      list.push(it);
      this.endpointSlices.set(k, list);
    } else if (group === SLUICE_GROUP && obj.kind === "Backend") {
      const it = item<{ spec?: BackendSpec }>(obj);
      this.backends.set(nsName(it), it);
    } else if (group === SLUICE_GROUP && obj.kind.endsWith("Policy")) {
      const list = this.policies.get(obj.kind) ?? [];
      list.push(item<PolicyObject>(obj));
      this.policies.set(obj.kind, list);
    }
  }

  /** Labels of a namespace; every namespace carries kubernetes.io/metadata.name, as in a cluster. */
  labelsOf(namespace: string): Record<string, string> {
    return { ...(this.namespaceLabels.get(namespace) ?? {}), [NS_NAME_LABEL]: namespace };
  }
}
