// Our policy kinds (sluice.dev/v1alpha1, field names after Envoy Gateway's policies): one JSON
// Schema per kind compiled with ajv, so their errors go through the same converter as the Gateway
// API's generated validators, plus the attachment rules a schema cannot say (which kinds a policy
// may target, which sections a Service/Backend target may carry).
import { Ajv, type AnySchema } from "ajv";
import { closest, quote } from "../describe.js";
import type { Reporter } from "../reporter.js";
import type { SchemaValidator } from "../schema.js";
import type { K8sObject } from "../types.js";
import { asArr, asObj, asStr } from "../rules/util.js";

export const POLICY_GROUP = "sluice.dev";
export const POLICY_VERSION = "v1alpha1";

/** Gateway API Duration (GEP-2257): "1h", "500ms", "1m30s". */
export const DURATION_SCHEMA = { type: "string", pattern: "^([0-9]{1,5}(h|m|s|ms)){1,4}$" } as const;

/**
 * Where a spec section acts. "route": per request of a route rule (retries, auth, limits ...).
 * "backend": per backend a rule sends to (load balancing, health, breaker ...) and may also come
 * from a policy that targets the Service/Backend itself. "listener": per Gateway listener.
 */
export type SectionScope = "route" | "backend" | "listener";

export interface TargetKind {
  group: string;
  kind: string;
  /** What sectionName names on this kind, or null when it is not allowed. */
  sectionName: string | null;
}

export const TARGET_GATEWAY: TargetKind = { group: "gateway.networking.k8s.io", kind: "Gateway", sectionName: "a listener name of the Gateway" };
export const TARGET_HTTPROUTE: TargetKind = { group: "gateway.networking.k8s.io", kind: "HTTPRoute", sectionName: "a rule name of the route" };
export const TARGET_GRPCROUTE: TargetKind = { group: "gateway.networking.k8s.io", kind: "GRPCRoute", sectionName: "a rule name of the route" };
export const TARGET_SERVICE: TargetKind = { group: "", kind: "Service", sectionName: null };
export const TARGET_BACKEND: TargetKind = { group: POLICY_GROUP, kind: "Backend", sectionName: null };

export interface PolicyKindSpec {
  kind: string;
  targets: TargetKind[];
  /** Every spec section (top-level field other than targetRefs) with its scope and schema. */
  sections: Record<string, { scope: SectionScope; schema: AnySchema }>;
  /** Rules the schema cannot express, run after it (field paths start at the object root). */
  check?: (obj: K8sObject, rep: Reporter) => void;
}

const ajv = new Ajv({ allErrors: true, strict: false });

const NAME = { type: "string", minLength: 1, maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" };
const SECTION_NAME = { type: "string", minLength: 1, maxLength: 253, pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" };
const GROUP = { type: "string", maxLength: 253, pattern: "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" };
const KIND = { type: "string", minLength: 1, maxLength: 63, pattern: "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$" };

export const TARGET_REFS_SCHEMA = {
  type: "array",
  minItems: 1,
  maxItems: 16,
  items: { type: "object", required: ["group", "kind", "name"], properties: { group: GROUP, kind: KIND, name: NAME, sectionName: SECTION_NAME } },
} as const;

/** The KindInfo parts the loader needs: a validator for v1alpha1 and the attachment rules. */
export function policyKind(spec: PolicyKindSpec): {
  group: string;
  kind: string;
  namespaced: true;
  versions: Record<string, SchemaValidator>;
  check: (obj: K8sObject, rep: Reporter) => void;
} {
  const properties: Record<string, AnySchema> = { targetRefs: TARGET_REFS_SCHEMA };
  for (const [name, s] of Object.entries(spec.sections)) properties[name] = s.schema;
  const schema = {
    type: "object",
    required: ["spec"],
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: { type: "object" },
      spec: { type: "object", required: ["targetRefs"], properties },
    },
  };
  const validate = ajv.compile(schema) as unknown as SchemaValidator;
  return {
    group: POLICY_GROUP,
    kind: spec.kind,
    namespaced: true,
    versions: { [POLICY_VERSION]: validate },
    check: (obj, rep) => {
      checkTargets(spec, obj, rep);
      spec.check?.(obj, rep);
    },
  };
}

function checkTargets(spec: PolicyKindSpec, obj: K8sObject, rep: Reporter): void {
  const s = asObj(obj.spec);
  if (!s) return;
  const allowed = spec.targets.map((t) => `${t.group || "core"}/${t.kind}`).join(", ");
  const seen = new Set<string>();
  asArr(s.targetRefs).forEach((raw, i) => {
    const ref = asObj(raw);
    if (!ref) return;
    const group = asStr(ref.group) ?? "";
    const kind = asStr(ref.kind) ?? "";
    const at = ["spec", "targetRefs", i];
    const t = spec.targets.find((x) => x.group === group && x.kind === kind);
    if (!t) {
      const sameKind = spec.targets.find((x) => x.kind === kind);
      if (sameKind) rep.error([...at, "group"], `${kind} is in group ${quote(sameKind.group)}, not ${quote(group)}`, `group: ${quote(sameKind.group)}`);
      else {
        const guess = closest(kind, spec.targets.map((x) => x.kind));
        rep.error([...at, "kind"], `a ${spec.kind} cannot target kind ${quote(kind)} (group ${quote(group)})`, `${guess ? `did you mean ${quote(guess)}? ` : ""}one of ${allowed}`);
      }
      return;
    }
    const sectionName = asStr(ref.sectionName);
    if (sectionName !== undefined && t.sectionName === null) {
      rep.error([...at, "sectionName"], `sectionName is not supported when targeting a ${kind}`, "no sectionName (the policy applies to the whole object)");
    }
    const key = `${group}/${kind}/${asStr(ref.name) ?? ""}/${sectionName ?? ""}`;
    if (seen.has(key)) rep.error(at, `the same target is listed twice`, "each target once");
    seen.add(key);
    if (t === TARGET_SERVICE || t === TARGET_BACKEND) {
      for (const name of Object.keys(s)) {
        const sec = spec.sections[name];
        if (sec && sec.scope !== "backend") {
          rep.error(["spec", name], `${name} acts per route, but targetRefs[${i}] is a ${kind}`, `${name} in a policy that targets a Gateway or a route; a ${kind} target takes only ${backendSections(spec)}`);
        }
      }
    }
  });
}

function backendSections(spec: PolicyKindSpec): string {
  return Object.entries(spec.sections).filter(([, s]) => s.scope === "backend").map(([n]) => n).sort().join(", ");
}
