// ReferenceGrant: a cross-namespace reference is allowed only when a grant in the target's
// namespace names the referrer (group, kind, namespace) and the target (group, kind, optional name).
import type { ResourceIndex } from "./kinds.js";

export interface Referrer {
  group: string;
  kind: string;
  namespace: string;
}

export interface Target {
  group: string;
  kind: string;
  namespace: string;
  name: string;
}

export function referencePermitted(index: ResourceIndex, from: Referrer, to: Target): boolean {
  if (from.namespace === to.namespace) return true;
  for (const grant of index.referenceGrants.get(to.namespace) ?? []) {
    const fromOk = (grant.from ?? []).some(
      (f) => (f.group ?? "") === from.group && f.kind === from.kind && f.namespace === from.namespace,
    );
    if (!fromOk) continue;
    const toOk = (grant.to ?? []).some(
      (t) => (t.group ?? "") === to.group && t.kind === to.kind && (t.name === undefined || t.name === "" || t.name === to.name),
    );
    if (toOk) return true;
  }
  return false;
}
