// Shared state of one translate() call: the resource index, referenced clusters and diagnostics.
import type { IrCluster } from "../ir/types.js";
import type { Diagnostic, ObjectRef, Severity } from "../resources/types.js";
import { groupOf } from "../resources/types.js";
import type { Item, ResourceIndex } from "./kinds.js";
import type { TranslateMemo } from "./memo.js";

export class Context {
  readonly diagnostics: Diagnostic[] = [];
  /** Clusters referenced by some route or mirror, by name. */
  readonly clusters: Map<string, IrCluster>;

  constructor(
    readonly index: ResourceIndex,
    readonly controllerName: string,
    /** Reuse of an earlier translate()'s results (see memo.ts); null for a plain translation. */
    readonly memo: TranslateMemo | null = null,
  ) {
    this.clusters = memo ? memo.newClusterMap() : new Map<string, IrCluster>();
  }

  private readonly reported = new Set<string>();

  /** One diagnostic per distinct problem, however many routes or listeners run into it. */
  report(severity: Severity, ref: ObjectRef, field: string | undefined, message: string, expected?: string): void {
    this.memo?.onReport(severity, ref, field, message, expected);
    const key = `${severity}\u0000${ref.group}/${ref.kind}/${ref.namespace ?? ""}/${ref.name}\u0000${field ?? ""}\u0000${message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const d: Diagnostic = { severity, ref, message };
    if (field) d.field = field;
    if (expected) d.expected = expected;
    this.diagnostics.push(d);
  }
}

export function refOfItem(it: Item<unknown>): ObjectRef {
  const ref: ObjectRef = { group: groupOf(it.obj.apiVersion), kind: it.obj.kind, name: it.name };
  if (it.namespace !== "") ref.namespace = it.namespace;
  return ref;
}
