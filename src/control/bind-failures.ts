// A Gateway listener is only Programmed if every worker could bind its port. The translator
// cannot know that (it is pure); the workers tell the control process, and this folds their
// answer into the Gateway's status before it is shown.
import type { K8sObject } from "../resources/types.js";

interface ConditionLike {
  type?: unknown;
  [k: string]: unknown;
}

interface Failure {
  error: string;
  /** When the failure was first seen: the condition's lastTransitionTime. */
  since: string;
}

export class BindFailures {
  private readonly byPort = new Map<number, Failure>();

  /** Records the failed ports the workers report now; a port that binds again is forgotten. */
  observe(workers: { listeners: { port: number; ok: boolean; error?: string }[] }[], now: Date = new Date()): void {
    const failed = new Map<number, string>();
    for (const w of workers) for (const l of w.listeners) if (!l.ok && !failed.has(l.port)) failed.set(l.port, l.error ?? "failed");
    for (const port of this.byPort.keys()) if (!failed.has(port)) this.byPort.delete(port);
    const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    for (const [port, error] of failed) {
      const prev = this.byPort.get(port);
      this.byPort.set(port, { error, since: prev?.since ?? time });
    }
  }

  /** The Gateway's status with Programmed False on listeners whose port failed (and on the Gateway). */
  apply(gateway: K8sObject, status: Record<string, unknown>): Record<string, unknown> {
    if (this.byPort.size === 0) return status;
    const spec = gateway.spec as { listeners?: { name?: string; port?: number }[] } | undefined;
    const portOf = new Map((spec?.listeners ?? []).map((l) => [l.name, l.port]));
    const listeners = status.listeners as { name?: string; conditions?: ConditionLike[] }[] | undefined;
    if (!listeners) return status;
    let latest = "";
    const next = listeners.map((l) => {
      const port = portOf.get(l.name);
      const f = port === undefined ? undefined : this.byPort.get(port);
      if (f === undefined) return l;
      if (f.since > latest) latest = f.since;
      return { ...l, conditions: replaceProgrammed(l.conditions ?? [], `port ${port} could not be bound: ${f.error}`, f.since) };
    });
    if (latest === "") return status;
    const conditions = replaceProgrammed((status.conditions as ConditionLike[] | undefined) ?? [], "one or more listeners could not bind their port", latest);
    return { ...status, listeners: next, conditions };
  }
}

function replaceProgrammed(conditions: ConditionLike[], message: string, since: string): ConditionLike[] {
  return conditions.map((c) =>
    c.type === "Programmed" && c.status !== "False"
      ? { ...c, status: "False", reason: "Invalid", message, lastTransitionTime: since }
      : c,
  );
}
