// A Gateway listener is only Programmed if every worker could bind its port. The translator
// cannot know that (it is pure); the workers tell the control process, and this folds their
// answer into the Gateway's status before it is shown.
import type { K8sObject } from "../resources/types.js";

interface ConditionLike {
  type?: unknown;
  [k: string]: unknown;
}

/** Port -> why it could not be bound (from any worker). */
export type BindFailures = ReadonlyMap<number, string>;

export function withBindFailures(gateway: K8sObject, status: Record<string, unknown>, failures: BindFailures, now: string): Record<string, unknown> {
  if (failures.size === 0) return status;
  const spec = gateway.spec as { listeners?: { name?: string; port?: number }[] } | undefined;
  const portOf = new Map((spec?.listeners ?? []).map((l) => [l.name, l.port]));
  const listeners = status.listeners as { name?: string; conditions?: ConditionLike[] }[] | undefined;
  if (!listeners) return status;
  let anyFailed = false;
  const next = listeners.map((l) => {
    const port = portOf.get(l.name);
    const error = port === undefined ? undefined : failures.get(port);
    if (error === undefined) return l;
    anyFailed = true;
    const message = `port ${port} could not be bound: ${error}`;
    return { ...l, conditions: replaceProgrammed(l.conditions ?? [], message, now) };
  });
  if (!anyFailed) return status;
  const conditions = replaceProgrammed((status.conditions as ConditionLike[] | undefined) ?? [], "one or more listeners could not bind their port", now);
  return { ...status, listeners: next, conditions };
}

function replaceProgrammed(conditions: ConditionLike[], message: string, now: string): ConditionLike[] {
  return conditions.map((c) =>
    c.type === "Programmed" && c.status !== "False"
      ? { ...c, status: "False", reason: "Invalid", message, lastTransitionTime: now }
      : c,
  );
}

/** Collects the failed ports the workers reported for the snapshot they serve. */
export function bindFailuresOf(workers: { listeners: { port: number; ok: boolean; error?: string }[] }[]): Map<number, string> {
  const out = new Map<number, string>();
  for (const w of workers) for (const l of w.listeners) if (!l.ok && !out.has(l.port)) out.set(l.port, l.error ?? "failed");
  return out;
}
