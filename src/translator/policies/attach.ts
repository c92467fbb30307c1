// Policy attachment (GEP-713) for our policy kinds: which policy applies where, and its status.
//
// A policy targets a Gateway (optionally one listener via sectionName), an HTTPRoute/GRPCRoute
// (optionally one named rule), or a Service/Backend. For a request of a route rule served on a
// Gateway listener, each top-level spec section (retry, jwt, cors ...) comes from the most specific
// policy that sets it:
//   route rule > route > [Service/Backend, backend sections only] > listener > Gateway.
// Resolving per section (not per whole policy) lets a Service keep its health check while a route
// sets its own retries. Two policies of one kind on the same target: the older one wins, the other
// is reported Conflicted for that target.
import type { Condition, ObjectRef, StatusEntry } from "../../resources/types.js";
import { policyKindSpec } from "../../resources/policies/index.js";
import { condition } from "../conditions.js";
import type { Context } from "../context.js";
import type { GatewayState } from "../gateways.js";
import { GW_GROUP, type PolicyItem, type PolicyTargetRef, SLUICE_GROUP } from "../kinds.js";
import { cmpStr } from "../util.js";

/** Where a route rule is served: the scope a route-level section is resolved for. */
export interface RouteScope {
  gateway: GatewayState;
  listener: string;
  routeKind: "HTTPRoute" | "GRPCRoute";
  routeNamespace: string;
  routeName: string;
  ruleName?: string;
}

export interface BackendTarget {
  kind: "Service" | "Backend";
  namespace: string;
  name: string;
}

/** One resolved section: its value and the policy (and targetRef) it came from. */
export interface AppliedSection {
  value: unknown;
  policy: PolicyItem;
  targetIndex: number;
  /** "spec.<section>", for diagnostics about the value. */
  field: string;
}

export type Sections = Map<string, AppliedSection>;

interface Attached {
  policy: PolicyItem;
  targetIndex: number;
}

interface TargetOutcome {
  ref: PolicyTargetRef;
  index: number;
  /** null: accepted. */
  problem: { reason: "TargetNotFound" | "Conflicted" | "Invalid"; message: string } | null;
  /** Gateways this target is reached through: "<ns>/<name>" -> ancestorRef. */
  ancestors: Map<string, Record<string, unknown>>;
}

const LEVELS = ["rule", "route", "backend", "listener", "gateway"] as const;

export class PolicyIndex {
  /** kind -> target key -> winning attachment. */
  private readonly winners = new Map<string, Map<string, Attached>>();
  private readonly outcomes = new Map<PolicyItem, TargetOutcome[]>();
  /** Sections some applier consumes, by kind: the rest is reported as not supported. */
  private readonly consumed = new Map<string, Set<string>>();

  constructor(
    private readonly ctx: Context,
    private readonly gateways: Map<string, GatewayState>,
  ) {
    for (const [kind, list] of ctx.index.policies) {
      const byTarget = new Map<string, Attached>();
      this.winners.set(kind, byTarget);
      for (const p of list) {
        // list is oldest first: the first policy to claim a target keeps it.
        const outcomes: TargetOutcome[] = [];
        (p.typed.spec?.targetRefs ?? []).forEach((ref, index) => {
          const out: TargetOutcome = { ref, index, problem: this.checkTarget(p, ref), ancestors: new Map() };
          outcomes.push(out);
          if (out.problem) return;
          this.structuralAncestors(p.namespace, ref, out.ancestors);
          const key = targetKey(ref.group, ref.kind, p.namespace, ref.name, ref.sectionName);
          const prev = byTarget.get(key);
          if (prev) {
            out.problem = {
              reason: "Conflicted",
              message: `${kind} ${prev.policy.namespace}/${prev.policy.name} is older and targets the same ${describeTarget(ref)}; it applies there instead`,
            };
            return;
          }
          byTarget.set(key, { policy: p, targetIndex: index });
        });
        this.outcomes.set(p, outcomes);
      }
    }
  }

  /** Declares that an applier consumes these sections of a kind (called by the appliers' registry). */
  consume(kind: string, sections: readonly string[]): void {
    const set = this.consumed.get(kind) ?? new Set<string>();
    for (const s of sections) set.add(s);
    this.consumed.set(kind, set);
  }

  /**
   * Sections for a route rule served on a listener: rule > route > listener > Gateway. With
   * `backend`, a policy targeting that Service/Backend takes its place between route and listener.
   */
  sections(kind: string, scope: RouteScope, backend?: BackendTarget): Sections {
    const byTarget = this.winners.get(kind);
    const out: Sections = new Map();
    if (!byTarget || byTarget.size === 0) return out;
    const gw = scope.gateway.item;
    const routeGroup = GW_GROUP;
    const levels: Record<(typeof LEVELS)[number], Attached | undefined> = {
      rule: scope.ruleName !== undefined ? byTarget.get(targetKey(routeGroup, scope.routeKind, scope.routeNamespace, scope.routeName, scope.ruleName)) : undefined,
      route: byTarget.get(targetKey(routeGroup, scope.routeKind, scope.routeNamespace, scope.routeName, undefined)),
      backend: backend ? byTarget.get(targetKey(backend.kind === "Service" ? "" : SLUICE_GROUP, backend.kind, backend.namespace, backend.name, undefined)) : undefined,
      listener: byTarget.get(targetKey(GW_GROUP, "Gateway", gw.namespace, gw.name, scope.listener)),
      gateway: byTarget.get(targetKey(GW_GROUP, "Gateway", gw.namespace, gw.name, undefined)),
    };
    const spec = policyKindSpec(kind);
    for (const level of LEVELS) {
      const a = levels[level];
      if (!a) continue;
      if (level === "backend") this.noteAncestor(a, scope.gateway);
      for (const [section, value] of Object.entries(a.policy.typed.spec ?? {})) {
        if (section === "targetRefs" || value === undefined || out.has(section)) continue;
        // Listener sections are resolved per listener (listenerSections), not per route.
        if (spec?.sections[section]?.scope === "listener") continue;
        out.set(section, { value, policy: a.policy, targetIndex: a.targetIndex, field: `spec.${section}` });
      }
    }
    return out;
  }

  /** Sections for a Gateway listener (ClientTrafficPolicy and other listener-scoped sections). */
  listenerSections(kind: string, gateway: GatewayState, listener: string): Sections {
    const byTarget = this.winners.get(kind);
    const out: Sections = new Map();
    if (!byTarget) return out;
    const gw = gateway.item;
    for (const a of [byTarget.get(targetKey(GW_GROUP, "Gateway", gw.namespace, gw.name, listener)), byTarget.get(targetKey(GW_GROUP, "Gateway", gw.namespace, gw.name, undefined))]) {
      if (!a) continue;
      for (const [section, value] of Object.entries(a.policy.typed.spec ?? {})) {
        if (section === "targetRefs" || value === undefined || out.has(section)) continue;
        out.set(section, { value, policy: a.policy, targetIndex: a.targetIndex, field: `spec.${section}` });
      }
    }
    return out;
  }

  /** Status for every policy (GEP-713 ancestors), plus warnings for unsupported sections. */
  statuses(): StatusEntry[] {
    const out: StatusEntry[] = [];
    for (const [p, outcomes] of this.outcomes) {
      const ref: ObjectRef = { group: SLUICE_GROUP, kind: p.obj.kind, namespace: p.namespace, name: p.name };
      const consumed = this.consumed.get(p.obj.kind) ?? new Set<string>();
      const unsupported = Object.keys(p.typed.spec ?? {}).filter((s) => s !== "targetRefs" && !consumed.has(s)).sort(cmpStr);
      for (const s of unsupported) {
        this.ctx.report("warning", ref, `spec.${s}`, `${s} is not supported by this version of Sluice and is ignored`, "remove it, or use a Sluice release that supports it");
      }
      const ancestors: { ancestorRef: Record<string, unknown>; controllerName: string; conditions: Condition[] }[] = [];
      const byAncestor = new Map<string, { ancestorRef: Record<string, unknown>; conditions: Condition[] }>();
      for (const o of outcomes) {
        if (o.problem) {
          this.ctx.report("warning", ref, `spec.targetRefs[${o.index}]`, o.problem.message, o.problem.reason === "TargetNotFound" ? "the name of an existing object in the policy's namespace" : undefined);
        }
        const entries: [string, Record<string, unknown>][] =
          o.ancestors.size > 0 ? [...o.ancestors.entries()] : [[`target/${o.index}`, targetAsAncestor(o.ref, p.namespace)]];
        for (const [key, ancestorRef] of entries) {
          if (byAncestor.has(key)) continue;
          const conditions: Condition[] = [
            o.problem
              ? condition("Accepted", false, o.problem.reason, o.problem.message, p.generation)
              : condition("Accepted", true, "Accepted", unsupported.length ? `Policy has been accepted; not supported and ignored: ${unsupported.join(", ")}` : "Policy has been accepted.", p.generation),
          ];
          byAncestor.set(key, { ancestorRef, conditions });
        }
      }
      for (const key of [...byAncestor.keys()].sort(cmpStr)) {
        const a = byAncestor.get(key)!;
        ancestors.push({ ancestorRef: a.ancestorRef, controllerName: this.ctx.controllerName, conditions: a.conditions });
      }
      out.push({ ref, status: { ancestors } });
    }
    return out;
  }

  private checkTarget(p: PolicyItem, ref: PolicyTargetRef): TargetOutcome["problem"] {
    const key = `${ref.group}/${ref.kind}/${p.namespace}/${ref.name}`;
    const obj = this.ctx.index.byKey.get(key);
    if (!obj) return { reason: "TargetNotFound", message: `${describeTarget(ref)} not found in namespace ${p.namespace}` };
    if (ref.sectionName === undefined) return null;
    if (ref.kind === "Gateway") {
      const listeners = ((obj.spec as { listeners?: { name: string }[] } | undefined)?.listeners ?? []).map((l) => l.name);
      if (!listeners.includes(ref.sectionName)) {
        return { reason: "TargetNotFound", message: `Gateway ${p.namespace}/${ref.name} has no listener named "${ref.sectionName}" (listeners: ${listeners.join(", ") || "none"})` };
      }
    } else {
      const rules = ((obj.spec as { rules?: { name?: string }[] } | undefined)?.rules ?? []).map((r) => r.name).filter((n): n is string => !!n);
      if (!rules.includes(ref.sectionName)) {
        return { reason: "TargetNotFound", message: `${ref.kind} ${p.namespace}/${ref.name} has no rule named "${ref.sectionName}" (named rules: ${rules.join(", ") || "none"})` };
      }
    }
    return null;
  }

  /** Gateway and route targets: the Gateways they belong to; Service/Backend ones are noted on use. */
  private structuralAncestors(ns: string, ref: PolicyTargetRef, into: Map<string, Record<string, unknown>>): void {
    if (ref.group === GW_GROUP && ref.kind === "Gateway") {
      const gw = this.gateways.get(`${ns}/${ref.name}`);
      if (gw) into.set(`${ns}/${ref.name}`, gatewayAncestor(ns, ref.name, ref.sectionName));
      return;
    }
    if (ref.group === GW_GROUP && (ref.kind === "HTTPRoute" || ref.kind === "GRPCRoute")) {
      const obj = this.ctx.index.byKey.get(`${ref.group}/${ref.kind}/${ns}/${ref.name}`);
      const parents = (obj?.spec as { parentRefs?: { group?: string; kind?: string; namespace?: string; name: string; sectionName?: string }[] } | undefined)?.parentRefs ?? [];
      for (const pr of parents) {
        if ((pr.group ?? GW_GROUP) !== GW_GROUP || (pr.kind ?? "Gateway") !== "Gateway") continue;
        const gns = pr.namespace || ns;
        if (!this.gateways.has(`${gns}/${pr.name}`)) continue;
        into.set(`${gns}/${pr.name}`, gatewayAncestor(gns, pr.name, undefined));
      }
    }
  }

  private noteAncestor(a: Attached, gateway: GatewayState): void {
    const o = this.outcomes.get(a.policy)?.find((x) => x.index === a.targetIndex);
    const g = gateway.item;
    if (o && !o.ancestors.has(`${g.namespace}/${g.name}`)) o.ancestors.set(`${g.namespace}/${g.name}`, gatewayAncestor(g.namespace, g.name, undefined));
  }
}

function targetKey(group: string, kind: string, ns: string, name: string, sectionName: string | undefined): string {
  return `${group}/${kind}/${ns}/${name}/${sectionName ?? ""}`;
}

function describeTarget(ref: PolicyTargetRef): string {
  return `${ref.kind} ${ref.name}${ref.sectionName !== undefined ? ` (sectionName "${ref.sectionName}")` : ""}`;
}

function gatewayAncestor(namespace: string, name: string, sectionName: string | undefined): Record<string, unknown> {
  const r: Record<string, unknown> = { group: GW_GROUP, kind: "Gateway", namespace, name };
  if (sectionName !== undefined) r.sectionName = sectionName;
  return r;
}

function targetAsAncestor(ref: PolicyTargetRef, namespace: string): Record<string, unknown> {
  const r: Record<string, unknown> = { group: ref.group, kind: ref.kind, namespace, name: ref.name };
  if (ref.sectionName !== undefined) r.sectionName = ref.sectionName;
  return r;
}

/** "service/<ns>/<name>/<port>" or "backend/<ns>/<name>" -> what a policy would target. */
export function backendTargetOfCluster(cluster: string): BackendTarget | undefined {
  const parts = cluster.split("~")[0]!.split("/");
  if (parts[0] === "service" && parts.length >= 3) return { kind: "Service", namespace: parts[1]!, name: parts[2]! };
  if (parts[0] === "backend" && parts.length >= 3) return { kind: "Backend", namespace: parts[1]!, name: parts[2]! };
  return undefined;
}
