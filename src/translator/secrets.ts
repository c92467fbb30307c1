// Reading Secrets: values from data (base64) or stringData, and Secrets a policy references
// (same namespace, or another one when a ReferenceGrant allows it).
import type { Context } from "./context.js";
import type { PolicyItem } from "./kinds.js";
import { referencePermitted } from "./reference-grants.js";
import { SLUICE_GROUP } from "./kinds.js";

export function secretValue(data: Record<string, string> | undefined, stringData: Record<string, string> | undefined, key: string): string | null {
  if (stringData && typeof stringData[key] === "string") return stringData[key];
  if (data && typeof data[key] === "string") return Buffer.from(data[key], "base64").toString("utf8");
  return null;
}

/** Every key of a Secret, decoded. */
export function secretEntries(data: Record<string, string> | undefined, stringData: Record<string, string> | undefined): [string, string][] {
  const keys = new Set([...Object.keys(data ?? {}), ...Object.keys(stringData ?? {})]);
  return [...keys].sort().map((k) => [k, secretValue(data, stringData, k) ?? ""]);
}

export interface SecretRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

/**
 * The decoded entries of a Secret a policy names at `field`, or null after reporting why not
 * (wrong kind, missing, not permitted across namespaces).
 */
export function policySecret(ctx: Context, p: PolicyItem, ref: SecretRef, field: string): [string, string][] | null {
  const report = (message: string, expected: string): null => {
    ctx.report("error", { group: SLUICE_GROUP, kind: p.obj.kind, namespace: p.namespace, name: p.name }, field, message, expected);
    return null;
  };
  if ((ref.group ?? "") !== "" || (ref.kind ?? "Secret") !== "Secret") return report(`${ref.group ?? ""}/${ref.kind} is not a Secret`, 'a reference to a core Secret: {group: "", kind: Secret, name: ...}');
  const ns = ref.namespace || p.namespace;
  if (!referencePermitted(ctx.index, { group: SLUICE_GROUP, kind: p.obj.kind, namespace: p.namespace }, { group: "", kind: "Secret", namespace: ns, name: ref.name })) {
    return report(`Secret ${ns}/${ref.name} is in another namespace and no ReferenceGrant allows it`, `a ReferenceGrant in namespace ${ns} from ${p.obj.kind} in ${p.namespace} to Secrets`);
  }
  const s = ctx.index.secrets.get(`${ns}/${ref.name}`);
  if (!s) return report(`Secret ${ns}/${ref.name} not found`, "the name of an existing Secret");
  return secretEntries(s.typed.data as Record<string, string> | undefined, s.typed.stringData as Record<string, string> | undefined);
}
