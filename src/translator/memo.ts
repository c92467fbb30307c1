// Memoised translation: what translate() computed for an HTTPRoute, a virtual host and their
// canonical copies is reused by the next translate() when it would compute the same thing again.
//
// The rule that keeps this exact: a route's translation (compile, parent attachment, status,
// diagnostics, the clusters it resolves) depends only on the route object and on the objects that
// are not HTTPRoutes (Gateways, Services, Backends, grants, namespaces, policies ...: "the
// environment"). So while the environment is unchanged, an HTTPRoute object seen last time (the
// same object: the file provider keeps unchanged objects' identity) gets last time's results, with
// their side effects replayed in the same order. Any change to the environment drops everything.
// A virtual host whose ordered route entries are the same compiled pieces as last time is last
// time's object, unless policies exist (their appliers write into the routes as they are built).
// Objects handed to translate() with a memo must not be changed afterwards.
// The whole-config steps that remain cost about a lookup per object instead of a rebuild: while only
// HTTPRoutes changed, last time's resource index is patched with the routes that came and went
// (otherwise it takes each object's keys and HTTPRoute item from a per-object cache); sorted lists
// (index keys, routes, statuses) are patched from last time's order (sorted-patch.ts); each
// listener's hostname groups are updated with the routes that changed (hostGroups), and its list of
// virtual hosts is last time's with the changed hostnames replaced (listenerVhosts). What is still
// per route: replaying each unchanged route's outcome (its attachments hold this translate()'s
// listener states) and the passes over the attachments that follow.
import type { IrCluster, IrVirtualHost } from "../ir/types.js";
import type { K8sObject, StatusEntry } from "../resources/types.js";
import type { Attachment } from "./attachment.js";
import type { Context } from "./context.js";
import type { GatewayState } from "./gateways.js";
import { compareHostSpecificity } from "./hostnames.js";
import { compareAge, dedupKey, type HTTPRouteItem, type IndexMemo, lookupKey, type ObjectKeys, ResourceIndex } from "./kinds.js";
import type { CompiledRoute } from "./routes.js";
import { SortedPatch } from "./sorted-patch.js";
import { canonicalJson, cmpStr } from "./util.js";
import { groupOf, refKey } from "../resources/types.js";
import { lowerBound } from "../util/lower-bound.js";
import { ArrayCopies, changedStretch, indexNear, type ChangedStretch } from "../util/changed-stretch.js";

/** What the HTTPRoute loop produces for one route. */
export interface RouteOutcome {
  attachments: Attachment[];
  /** null: the route has none of our Gateways as parent (no status). */
  status: StatusEntry | null;
}

type Report = Parameters<Context["report"]>;

interface RouteRecord {
  /** Every ctx.report() call the route made, replayed through report() (which drops repeats). */
  reports: Report[];
  clusters: [string, IrCluster][];
  compiled: CompiledRoute | null;
  /** Attachments by gateway key and listener position (listener states are rebuilt each time). */
  attachments: { gateway: string; listener: number; hostnames: string[] }[];
  status: StatusEntry | null;
  /** The outcome as handed out, valid while the Gateway states are those of `gen` (GatewayRecord). */
  outcome: RouteOutcome | null;
  gen: number;
  /** The last translate() that used the record. */
  pass: number;
}

/** The Gateway phase's results: the same states while the environment is unchanged. */
export interface GatewayPhase {
  gateways: GatewayState[];
  byName: Map<string, GatewayState>;
  /** Keys of every Gateway in the input, ours or not. */
  allGateways: Set<string>;
}

interface GatewayRecord extends GatewayPhase {
  reports: Report[];
  statuses: StatusEntry[];
}

/** Where two object lists differ: [from, prevEnd) of the old list became [from, nextEnd) of the new. */
type ListDiff = ChangedStretch;

/** A positional diff covering more than this many objects is not used (the set-based path is). */
const MAX_DIFF = 128;

/** Arrays at least this long are copied by canonicalize() against last time's copy (mapReusing). */
const LONG_ARRAY = 64;

/** One listener's routes by hostname, as last built (see hostGroups). */
interface ListenerRecord {
  /** Attached route -> its hostnames, its position in the attachments and the translate() that saw it last. */
  routes: Map<CompiledRoute, { hosts: string[]; pos: number; pass: number }>;
  /** Routes per hostname, in attachment order. */
  byHost: Map<string, CompiledRoute[]>;
}

interface VhostRecord {
  /** Ordered entries: compiled route, rule index, match index. */
  entries: unknown[];
  vhost: IrVirtualHost;
}

/** A Map that logs the keys looked up while a route is translated (the clusters it resolves). */
export class RecordingMap<K, V> extends Map<K, V> {
  log: K[] | null = null;

  override has(k: K): boolean {
    this.log?.push(k);
    return super.has(k);
  }

  override get(k: K): V | undefined {
    this.log?.push(k);
    return super.get(k);
  }
}

function isHttpRoute(o: K8sObject): boolean {
  return o.kind === "HTTPRoute" && typeof o.apiVersion === "string" && o.apiVersion.startsWith("gateway.networking.k8s.io/");
}

export class TranslateMemo implements IndexMemo {
  private env: K8sObject[] = [];
  private envSame = false;
  /** The last completed translate()'s input (a copy), whether it held no object twice, and this one's diff to it. */
  private lastList: K8sObject[] | null = null;
  private lastUnique = false;
  private diff: ListDiff | null = null;
  /** The Gateway phase of the last translate() and its number (bumped whenever the states are rebuilt). */
  private gatewayRec: GatewayRecord | null = null;
  private gen = 0;
  /** Route records; those a translate() did not use are dropped at its end (RouteRecord.pass). */
  private routes = new Map<K8sObject, RouteRecord>();
  private pass = 0;
  private routesUsed = 0;
  /**
   * The last completed translate()'s HTTPRoute loop: the items in the order route() saw them and
   * their records, and this translate()'s so far. The loop visits the routes in a patched sorted
   * order, so walking last time's list beside it finds most records by an identity compare
   * instead of a lookup in `routes` (cursor: where the walk is).
   */
  private loopItems: HTTPRouteItem[] = [];
  private loopRecs: RouteRecord[] = [];
  private nextLoopItems: HTTPRouteItem[] = [];
  private nextLoopRecs: RouteRecord[] = [];
  private cursor = 0;
  /** Virtual hosts by listener key, then hostname. */
  private vhosts = new Map<string, Map<string, VhostRecord>>();
  private nextVhosts = new Map<string, Map<string, VhostRecord>>();
  private hostOrder = new Map<string, string[]>();
  /** Each listener's hostnames in order and their virtual hosts, as last handed out (kept while reuse is on). */
  private listenerOut = new Map<string, { hosts: string[]; vhosts: IrVirtualHost[] }>();
  private nextListenerOut = new Map<string, { hosts: string[]; vhosts: IrVirtualHost[] }>();
  private readonly vhostClusters = new WeakMap<IrVirtualHost, readonly string[]>();
  /** Per listener: its virtual hosts as last listed and how many of them send to each cluster (usedClusters). */
  private readonly clusterCounts = new Map<string, { vhosts: readonly IrVirtualHost[]; counts: Map<string, number> }>();
  private readonly clusterCountsSeen = new Set<string>();
  private listeners = new Map<string, ListenerRecord>();
  private readonly dupListeners = new Set<string>();
  private nextListeners = new Map<string, ListenerRecord>();
  private readonly copies = new WeakMap<object, object>();
  private readonly stable = new WeakSet<object>();
  private readonly sharedCopies = new WeakSet<object>();
  /** canonicalize()'s long arrays, matched with last time's by the order it met them. */
  private readonly arrayCopies = new ArrayCopies();
  private vhostReuse = false;
  private reports: Report[] | null = null;
  /** A translate() that began and did not end (it threw): its records are not to be trusted. */
  private open = false;
  private readonly objectKeys = new WeakMap<K8sObject, ObjectKeys>();
  private readonly keyOrder = new SortedPatch<string>();
  private readonly routeOrder = new SortedPatch<HTTPRouteItem>();
  private readonly statusOrder = new SortedPatch<StatusEntry>();
  private readonly statusKeys = new WeakMap<StatusEntry, string>();
  /** The last completed translate()'s index and objects (an index being built belongs to `building`). */
  private lastIndex: ResourceIndex | null = null;
  private lastObjects: Set<K8sObject> | null = null;
  private building: { index: ResourceIndex; objects: Set<K8sObject>; list: K8sObject[]; unique: boolean } | null = null;
  /** Counters for tests and the change profile: what the last translate() reused. */
  stats = { routesReused: 0, routesTranslated: 0, vhostsReused: 0, vhostsBuilt: 0, indexPatched: false, gatewaysReused: false };

  /**
   * Starts a translate(): decides whether last time's route results are still valid. When the input
   * differs from last time's in one stretch of HTTPRoutes (what the provider gives for a route
   * change), that is known from an identity scan, without looking into any object.
   */
  begin(objects: K8sObject[]): void {
    const diff = this.open ? null : listDiff(this.lastList, objects);
    this.diff = null;
    let env: K8sObject[];
    if (diff !== null && onlyRoutes(this.lastList!, diff.from, diff.prevEnd) && onlyRoutes(objects, diff.from, diff.nextEnd)) {
      env = this.env;
      this.envSame = true;
      this.diff = diff;
    } else {
      env = [];
      for (const o of objects) if (o && typeof o === "object" && !isHttpRoute(o)) env.push(o);
      this.envSame = !this.open && sameObjects(this.env, env);
    }
    this.env = env;
    this.open = true;
    if (!this.envSame) {
      this.lastIndex = null;
      this.gatewayRec = null;
      this.listenerOut.clear();
      this.routes.clear();
      this.loopItems = [];
      this.loopRecs = [];
      this.vhosts.clear();
      this.listeners.clear();
      this.dupListeners.clear();
    }
    this.pass++;
    this.routesUsed = 0;
    this.cursor = 0;
    this.nextLoopItems = [];
    this.nextLoopRecs = [];
    this.nextVhosts = new Map();
    this.nextListeners = new Map();
    this.nextListenerOut = new Map();
    this.stats = { routesReused: 0, routesTranslated: 0, vhostsReused: 0, vhostsBuilt: 0, indexPatched: false, gatewaysReused: false };
  }

  /**
   * The resource index of `objects`: while no other object changed, last time's index with the
   * HTTPRoutes that came and went patched in (ResourceIndex.patched), else a new build.
   */
  index(objects: K8sObject[]): ResourceIndex {
    const prev = this.lastObjects;
    const last = this.lastIndex;
    const lastList = this.lastList;
    // The index and the object set are changed in place from here: until this translate() ends they are not last time's.
    this.lastIndex = null;
    this.lastObjects = null;
    let index: ResourceIndex | null = null;
    let now: Set<K8sObject> | null = null;
    const diff = this.diff;
    if (this.envSame && last !== null && prev !== null && diff !== null && lastList !== null && this.lastUnique) {
      // Only the changed stretch is looked at; everything around it is the same objects in the same places.
      const before = lastList.slice(diff.from, diff.prevEnd);
      const after = objects.slice(diff.from, diff.nextEnd);
      const beforeSet = new Set(before);
      const afterSet = new Set(after);
      const added = after.filter((o) => !beforeSet.has(o));
      const removed = before.filter((o) => !afterSet.has(o));
      // An added object already in the list (outside the stretch) would be there twice: left to the set-based path.
      if (afterSet.size === after.length && !added.some((o) => prev.has(o))) {
        index = last.patched(removed, added, this);
        if (index !== null) {
          for (const o of removed) prev.delete(o);
          for (const o of added) prev.add(o);
          now = prev;
        }
      }
    } else if (this.envSame && last !== null && prev !== null) {
      now = new Set(objects);
      if (now.size === objects.length) {
        const added = objects.filter((o) => !prev.has(o));
        const removed: K8sObject[] = [];
        if (prev.size > objects.length - added.length) for (const o of prev) if (!now.has(o)) removed.push(o);
        if (added.length + removed.length <= 64) index = last.patched(removed, added, this);
      }
    }
    this.stats.indexPatched = index !== null;
    index ??= new ResourceIndex(objects, this);
    now ??= new Set(objects);
    this.building = { index, objects: now, list: objects.slice(), unique: now.size === objects.length };
    return index;
  }

  /** The objects of this translate() that are not HTTPRoutes (what the L4 and network-policy passes look at). */
  get environment(): K8sObject[] {
    return this.env;
  }

  /** Called once the index is built: virtual hosts are reused only when no policy can write into routes. */
  indexed(policyCount: number): void {
    this.vhostReuse = policyCount === 0;
  }

  /** Ends a translate(): only what this one used is kept for the next. */
  end(): void {
    this.open = false;
    this.lastIndex = this.building?.index ?? null;
    this.lastObjects = this.building?.objects ?? null;
    this.lastList = this.building?.list ?? null;
    this.lastUnique = this.building?.unique ?? false;
    this.building = null;
    if (this.routesUsed < this.routes.size) for (const [obj, rec] of this.routes) if (rec.pass !== this.pass) this.routes.delete(obj);
    this.vhosts = this.nextVhosts;
    this.listeners = this.nextListeners;
    this.listenerOut = this.nextListenerOut;
    this.loopItems = this.nextLoopItems;
    this.loopRecs = this.nextLoopRecs;
    for (const k of this.clusterCounts.keys()) if (!this.clusterCountsSeen.has(k)) this.clusterCounts.delete(k);
    this.clusterCountsSeen.clear();
  }

  /** ResourceIndex's keys of an object, computed once per object (objects are not changed, see above). */
  keys(obj: K8sObject): ObjectKeys {
    let k = this.objectKeys.get(obj);
    if (k === undefined) {
      k = { dedup: dedupKey(obj), lookup: lookupKey(obj), group: groupOf(obj.apiVersion) };
      this.objectKeys.set(obj, k);
    }
    return k;
  }

  sortedKeys(keys: string[]): string[] {
    return this.keyOrder.sort(keys, cmpStr);
  }

  sortedRoutes(routes: HTTPRouteItem[]): HTTPRouteItem[] {
    return this.routeOrder.sort(routes, compareAge);
  }

  /** Sorts statuses in place by object ref, as translate() does, patching last time's order. */
  sortStatuses(statuses: StatusEntry[]): void {
    const key = (s: StatusEntry): string => {
      let k = this.statusKeys.get(s);
      if (k === undefined) {
        k = refKey(s.ref);
        this.statusKeys.set(s, k);
      }
      return k;
    };
    const sorted = this.statusOrder.sort(statuses, (a, b) => cmpStr(key(a), key(b)));
    for (let i = 0; i < sorted.length; i++) statuses[i] = sorted[i]!;
  }

  newClusterMap(): Map<string, IrCluster> {
    return new RecordingMap<string, IrCluster>();
  }

  /**
   * The Gateway phase (GatewayClasses, Gateways, their listeners): while the environment is unchanged,
   * last time's states, with their reports replayed, the class statuses pushed again and the route
   * counts cleared; else `run`, recorded. Keeping the states lets an unchanged route's outcome (whose
   * attachments point at listener states) be handed out again as it is.
   */
  gateways(ctx: Context, statuses: StatusEntry[], run: (statuses: StatusEntry[]) => GatewayPhase): GatewayPhase {
    const prev = this.gatewayRec;
    if (this.envSame && prev !== null) {
      for (const r of prev.reports) ctx.report(...r);
      for (const st of prev.statuses) statuses.push(st);
      for (const g of prev.gateways) for (const l of g.listeners) l.attachedRoutes = 0;
      this.stats.gatewaysReused = true;
      return prev;
    }
    const reports: Report[] = [];
    const own: StatusEntry[] = [];
    this.reports = reports;
    let phase: GatewayPhase;
    try {
      phase = run(own);
    } finally {
      this.reports = null;
    }
    for (const st of own) {
      this.stable.add(st);
      statuses.push(st);
    }
    this.gatewayRec = { ...phase, reports, statuses: own };
    this.gen++;
    return phase;
  }

  /** The HTTPRoute loop body for one route: last time's outcome replayed, or `run` recorded. */
  route(ctx: Context, route: HTTPRouteItem, gateways: Map<string, GatewayState>, run: (route: HTTPRouteItem) => RouteOutcome | null): RouteOutcome | null {
    const prev = this.walkTo(route) ?? this.routes.get(route.obj);
    if (prev) {
      if (prev.pass !== this.pass) this.routesUsed++;
      prev.pass = this.pass;
      this.stats.routesReused++;
      this.nextLoopItems.push(route);
      this.nextLoopRecs.push(prev);
      return replay(ctx, prev, gateways, this.gen);
    }
    this.stats.routesTranslated++;
    const clusters = ctx.clusters as RecordingMap<string, IrCluster>;
    const reports: Report[] = [];
    const log: string[] = [];
    clusters.log = log;
    this.reports = reports;
    let out: RouteOutcome | null;
    try {
      out = run(route);
    } finally {
      clusters.log = null;
      this.reports = null;
    }
    const rec: RouteRecord = {
      outcome: out,
      gen: this.gen,
      reports,
      clusters: [...new Set(log)].filter((n) => Map.prototype.has.call(clusters, n)).map((n) => [n, Map.prototype.get.call(clusters, n) as IrCluster]),
      compiled: out?.attachments[0]?.route ?? null,
      attachments: [],
      status: out?.status ?? null,
      pass: this.pass,
    };
    for (const a of out?.attachments ?? []) {
      rec.attachments.push({ gateway: `${a.listener.gateway.item.namespace}/${a.listener.gateway.item.name}`, listener: a.listener.gateway.listeners.indexOf(a.listener), hostnames: a.hostnames });
    }
    if (rec.status) this.stable.add(rec.status);
    // Cluster objects come from the environment: the same object while it is unchanged.
    for (const [, c] of rec.clusters) this.stable.add(c);
    this.routes.set(route.obj, rec);
    this.routesUsed++;
    this.nextLoopItems.push(route);
    this.nextLoopRecs.push(rec);
    return out;
  }

  /**
   * The record of `route` when it is next in last time's loop, or a few places on (the routes in
   * between left); undefined otherwise (a route that arrived or moved: looked up by object). Last
   * time's records are all still in `routes`: the environment is unchanged (else the lists are
   * empty, begin()), and a record is an item's for good (an item is built for one object).
   */
  private walkTo(route: HTTPRouteItem): RouteRecord | undefined {
    const at = indexNear(this.loopItems, this.cursor, route);
    if (at < 0) return undefined;
    this.cursor = at + 1;
    return this.loopRecs[at];
  }

  /** Called by Context.report(): records the call while a route is being translated. */
  onReport(...args: Report): void {
    this.reports?.push(args);
  }

  /** Hostnames of one gateway listener, most specific first: last order patched when it is close. */
  sortedHosts(listenerKey: string, hosts: Iterable<string>): string[] {
    const want = new Set(hosts);
    const prev = this.hostOrder.get(listenerKey);
    let out: string[];
    if (!prev || want.size < 64) out = [...want].sort(compareHostSpecificity);
    else {
      out = prev.filter((h) => want.has(h));
      const have = new Set(out);
      const added = [...want].filter((h) => !have.has(h));
      if (added.length > 16) out = [...want].sort(compareHostSpecificity);
      // compareHostSpecificity is a total order on distinct names: inserting gives the sorted list.
      else for (const h of added) out.splice(hostIndex(out, h), 0, h);
    }
    this.hostOrder.set(listenerKey, out);
    return out;
  }

  /**
   * A listener's attached routes grouped by hostname, each group in attachment order, and the
   * hostnames whose group may differ from last time's (null: all of them). Last time's grouping is
   * patched with the routes that arrived, left or changed hostnames: a change costs a lookup per
   * attachment plus the hostnames it touches.
   */
  hostGroups(listenerKey: string, attachments: readonly { route: CompiledRoute; hostnames: string[] }[]): { byHost: Map<string, CompiledRoute[]>; changed: Set<string> | null } {
    // Two listeners with one key (a Gateway with a repeated listener name): never patched or reused,
    // for as long as the environment (which holds the Gateways) is unchanged.
    if (this.dupListeners.has(listenerKey) || this.nextListeners.has(listenerKey)) {
      this.dupListeners.add(listenerKey);
      this.nextListeners.delete(listenerKey);
      return this.freshGroups(listenerKey, attachments, false);
    }
    const prev = this.listeners.get(listenerKey);
    if (!prev) return this.freshGroups(listenerKey, attachments);
    // Last time's record is brought up to date in place (one lookup per attachment): it belongs to
    // this translate() from now on; a translate() that throws leaves the memo distrusted (begin()).
    const pass = this.pass;
    const routes = prev.routes;
    const changed = new Set<string>();
    const moved: CompiledRoute[] = [];
    for (let i = 0; i < attachments.length; i++) {
      const a = attachments[i]!;
      const rec = routes.get(a.route);
      if (rec === undefined) {
        routes.set(a.route, { hosts: a.hostnames, pos: i, pass });
        for (const h of a.hostnames) changed.add(h);
        moved.push(a.route);
        continue;
      }
      // A route attaches to a listener once (attachRoute); if not, group from scratch.
      if (rec.pass === pass) {
        this.listeners.delete(listenerKey); // half updated: not for another listener with this key
        return this.freshGroups(listenerKey, attachments);
      }
      rec.pass = pass;
      rec.pos = i;
      const before = rec.hosts;
      const now = a.hostnames;
      if (before !== now && !sameStrings(before, now)) {
        for (const h of before) changed.add(h);
        for (const h of now) changed.add(h);
        moved.push(a.route);
      }
      rec.hosts = now;
    }
    if (routes.size > attachments.length) {
      for (const [r, rec] of routes) {
        if (rec.pass === pass) continue;
        for (const h of rec.hosts) changed.add(h);
        routes.delete(r);
      }
    }
    const byHost = prev.byHost;
    const movedSet = new Set(moved);
    for (const h of changed) {
      // Routes that kept their hostnames keep their place in the group; the others join (once per
      // listing of h, as a fresh grouping does) or leave.
      const list = (byHost.get(h) ?? []).filter((r) => routes.get(r)?.pass === pass && !movedSet.has(r));
      for (const r of moved) for (const x of routes.get(r)!.hosts) if (x === h) list.push(r);
      list.sort((a, b) => routes.get(a)!.pos - routes.get(b)!.pos);
      if (list.length > 0) byHost.set(h, list);
      else byHost.delete(h);
    }
    this.nextListeners.set(listenerKey, prev);
    return { byHost, changed };
  }

  private freshGroups(listenerKey: string, attachments: readonly { route: CompiledRoute; hostnames: string[] }[], record = true): { byHost: Map<string, CompiledRoute[]>; changed: null } {
    const byHost = new Map<string, CompiledRoute[]>();
    const routes: ListenerRecord["routes"] = new Map();
    let unique = true;
    attachments.forEach((a, i) => {
      if (routes.has(a.route)) unique = false;
      routes.set(a.route, { hosts: a.hostnames, pos: i, pass: this.pass });
      for (const h of a.hostnames) {
        const list = byHost.get(h);
        if (list) list.push(a.route);
        else byHost.set(h, [a.route]);
      }
    });
    if (unique && record) this.nextListeners.set(listenerKey, { routes, byHost });
    else this.nextListeners.delete(listenerKey);
    return { byHost, changed: null };
  }

  /**
   * A listener's virtual hosts, most specific hostname first, `make` building the one of a hostname
   * from its routes. While reuse is on and few hostnames changed (hostGroups), last time's list is
   * patched: only the changed hostnames are looked at (made, inserted or removed by binary search in
   * the hostname order). Otherwise every hostname is listed, and unchanged ones reuse last time's.
   */
  listenerVhosts(listenerKey: string, attachments: readonly { route: CompiledRoute; hostnames: string[] }[], make: (hostname: string, routes: CompiledRoute[]) => IrVirtualHost): IrVirtualHost[] {
    const { byHost, changed } = this.hostGroups(listenerKey, attachments);
    const prev = this.vhostReuse && changed !== null && changed.size <= 64 ? this.listenerOut.get(listenerKey) : undefined;
    let hosts: string[];
    let out: IrVirtualHost[];
    if (prev !== undefined && changed !== null) {
      // Last time's records of this listener's hosts carry over whole; the changed ones are replaced below.
      const recs = this.vhosts.get(listenerKey);
      if (recs) this.nextVhosts.set(listenerKey, recs);
      hosts = prev.hosts.slice();
      out = prev.vhosts.slice();
      for (const h of changed) {
        const i = hostIndex(hosts, h);
        const present = i < hosts.length && hosts[i] === h;
        const routes = byHost.get(h);
        if (routes !== undefined) {
          const v = make(h, routes);
          if (present) out[i] = v;
          else {
            hosts.splice(i, 0, h);
            out.splice(i, 0, v);
          }
        } else if (present) {
          hosts.splice(i, 1);
          out.splice(i, 1);
          recs?.delete(h);
        }
      }
      this.hostOrder.set(listenerKey, hosts);
      this.stats.vhostsReused += out.length - changed.size;
    } else {
      hosts = this.sortedHosts(listenerKey, byHost.keys());
      out = hosts.map((h) => (changed !== null && !changed.has(h) ? this.sameVhost(listenerKey, h) : null) ?? make(h, byHost.get(h)!));
    }
    if (this.vhostReuse) this.nextListenerOut.set(listenerKey, { hosts, vhosts: out });
    return out;
  }

  /**
   * The clusters a listener's virtual hosts send to (`of` lists one host's), as a count of hosts per
   * cluster patched from last time's: only the stretch of the list that differs from last time's
   * (by identity: the hosts listenerVhosts replaced, added or removed) is looked into. A virtual
   * host is never changed once built, so the counts of the hosts outside the stretch still hold.
   */
  usedClusters(listenerKey: string, vhosts: readonly IrVirtualHost[], of: (vhost: IrVirtualHost) => readonly string[]): Iterable<string> {
    const cached = (vh: IrVirtualHost): readonly string[] => {
      // A virtual host the memo hands out again sends to the same clusters: listed once per object.
      let known = this.vhostClusters.get(vh);
      if (known === undefined) {
        known = of(vh);
        if (this.stable.has(vh)) this.vhostClusters.set(vh, known);
      }
      return known;
    };
    const prev = this.clusterCounts.get(listenerKey);
    let counts: Map<string, number>;
    if (prev !== undefined) {
      const { from, prevEnd, nextEnd, size } = changedStretch(prev.vhosts, vhosts);
      if (size > MAX_DIFF) counts = countClusters(vhosts, cached);
      else {
        counts = prev.counts;
        for (let i = from; i < prevEnd; i++)
          for (const c of cached(prev.vhosts[i]!)) {
            const n = counts.get(c)! - 1;
            if (n === 0) counts.delete(c);
            else counts.set(c, n);
          }
        for (let i = from; i < nextEnd; i++) for (const c of cached(vhosts[i]!)) counts.set(c, (counts.get(c) ?? 0) + 1);
      }
    } else counts = countClusters(vhosts, cached);
    // Two listeners with one key take turns: each call diffs against the other's list (still exact).
    this.clusterCounts.set(listenerKey, { vhosts: vhosts.slice(), counts });
    this.clusterCountsSeen.add(listenerKey);
    return counts.keys();
  }

  /** Last time's virtual host for a hostname whose routes are unchanged (hostGroups), when reuse is on. */
  sameVhost(listenerKey: string, hostname: string): IrVirtualHost | null {
    if (!this.vhostReuse) return null;
    const prev = this.vhosts.get(listenerKey)?.get(hostname);
    if (!prev) return null;
    this.keepVhost(listenerKey, hostname, prev);
    this.stats.vhostsReused++;
    return prev.vhost;
  }

  /** A virtual host built from these ordered entries: last time's object when they are the same. */
  vhost(listenerKey: string, hostname: string, entries: unknown[], build: () => IrVirtualHost): IrVirtualHost {
    if (this.vhostReuse) {
      const prev = this.vhosts.get(listenerKey)?.get(hostname);
      if (prev && prev.entries.length === entries.length && prev.entries.every((e, i) => e === entries[i])) {
        this.keepVhost(listenerKey, hostname, prev);
        this.stats.vhostsReused++;
        return prev.vhost;
      }
    }
    this.stats.vhostsBuilt++;
    const vhost = build();
    if (this.vhostReuse) {
      this.stable.add(vhost);
      this.keepVhost(listenerKey, hostname, { entries, vhost });
    }
    return vhost;
  }

  private keepVhost(listenerKey: string, hostname: string, rec: VhostRecord): void {
    let m = this.nextVhosts.get(listenerKey);
    if (!m) this.nextVhosts.set(listenerKey, (m = new Map()));
    m.set(hostname, rec);
  }

  /** canonicalize() with the canonical copies of reused objects kept: same output, less work. */
  canonicalize<T>(value: T): T {
    // Long arrays (virtual hosts, statuses) are matched with last time's by their order of
    // appearance: a stable element kept in place takes last time's copy for an identity compare.
    return this.arrayCopies.pass(() => this.sortKeys(value) as T);
  }

  private sortKeys(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    const hit = this.copies.get(value);
    if (hit !== undefined) return hit;
    let out: unknown;
    if (Array.isArray(value)) {
      out = value.length >= LONG_ARRAY ? this.arrayCopies.map(value, this.sortKeysOf, this.isStable) : value.map((v) => this.sortKeys(v));
    } else {
      const src = value as Record<string, unknown>;
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(src).sort(cmpStr)) {
        const v = src[k];
        if (v !== undefined) o[k] = this.sortKeys(v);
      }
      out = o;
    }
    if (this.stable.has(value)) {
      this.copies.set(value, out as object);
      this.sharedCopies.add(out as object);
    }
    return out;
  }

  private readonly sortKeysOf = (v: unknown): unknown => this.sortKeys(v);
  /** sortKeys(v) is the same object every time for a primitive or a stable object (its copy is kept). */
  private readonly isStable = (v: unknown): boolean => v === null || typeof v !== "object" || this.stable.has(v);

  /**
   * True for an output object that later translate() calls may return again (the same object, as
   * long as its inputs do not change): callers can cache what they derive from it by identity.
   */
  isShared(o: object): boolean {
    return this.sharedCopies.has(o);
  }
}

function replay(ctx: Context, rec: RouteRecord, gateways: Map<string, GatewayState>, gen: number): RouteOutcome | null {
  for (const r of rec.reports) ctx.report(...r);
  for (const [name, cluster] of rec.clusters) if (!ctx.clusters.has(name)) ctx.clusters.set(name, cluster);
  if (!rec.status) return null;
  // Same Gateway states as when the outcome was made: it is handed out again (attachRoute's side
  // effect on the listeners' route counts replayed).
  if (rec.gen === gen && rec.outcome !== null) {
    for (const a of rec.outcome.attachments) a.listener.attachedRoutes++;
    return rec.outcome;
  }
  const attachments: Attachment[] = [];
  for (const a of rec.attachments) {
    const listener = gateways.get(a.gateway)!.listeners[a.listener]!;
    listener.attachedRoutes++;
    attachments.push({ listener, route: rec.compiled!, hostnames: a.hostnames });
  }
  rec.outcome = { attachments, status: rec.status };
  rec.gen = gen;
  return rec.outcome;
}

function countClusters(vhosts: readonly IrVirtualHost[], of: (vhost: IrVirtualHost) => readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const vh of vhosts) for (const c of of(vh)) counts.set(c, (counts.get(c) ?? 0) + 1);
  return counts;
}

function sameStrings(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function hostIndex(sorted: string[], h: string): number {
  return lowerBound(sorted, h, compareHostSpecificity);
}

/** Same objects, by identity, or by content for the ones that are new objects (e.g. made-up namespaces). */
function sameObjects(prev: K8sObject[], next: K8sObject[]): boolean {
  if (prev.length !== next.length) return false;
  const before = new Set(prev);
  const after = new Set(next);
  const gone = prev.filter((o) => !after.has(o));
  const added = next.filter((o) => !before.has(o));
  if (gone.length !== added.length) return false;
  if (gone.length === 0) return true;
  const a = gone.map(canonicalJson).sort(cmpStr);
  const b = added.map(canonicalJson).sort(cmpStr);
  return a.every((x, i) => x === b[i]);
}

/**
 * The one stretch where `next` differs from `prev` (same objects, by identity, before and after it),
 * or null when there is no `prev` or the stretch is long.
 */
function listDiff(prev: readonly K8sObject[] | null, next: readonly K8sObject[]): ListDiff | null {
  if (prev === null) return null;
  const { from, prevEnd, nextEnd, size } = changedStretch(prev, next);
  return size > MAX_DIFF ? null : { from, prevEnd, nextEnd };
}

function onlyRoutes(list: readonly K8sObject[], from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const o = list[i];
    if (!o || typeof o !== "object" || !isHttpRoute(o)) return false;
  }
  return true;
}
