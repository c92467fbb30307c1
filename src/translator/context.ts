// Shared state of one translate() call: the resource index, referenced clusters and diagnostics.
import type { IrCluster } from "../ir/types.js";
import type { Diagnostic, ObjectRef, Severity } from "../resources/types.js";
import { groupOf } from "../resources/types.js";
import type { Item, ResourceIndex } from "./kinds.js";

export class Context {
  readonly diagnostics: Diagnostic[] = [];
  /** Clusters referenced by some route or mirror, by name. */
  readonly clusters = new Map<string, IrCluster>();

  constructor(
    readonly index: ResourceIndex,
    readonly controllerName: string,
  ) {}

  report(severity: Severity, ref: ObjectRef, field: string | undefined, message: string, expected?: string): void {
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
