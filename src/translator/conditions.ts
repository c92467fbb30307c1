// Status conditions as the Gateway API spells them. lastTransitionTime is left to the control plane.
import type { Condition } from "../resources/types.js";
import { cmpStr } from "./util.js";

export function condition(type: string, ok: boolean, reason: string, message: string, generation: number | undefined): Condition {
  const c: Condition = { type, status: ok ? "True" : "False", reason, message };
  if (generation !== undefined) c.observedGeneration = generation;
  return c;
}

/** Conditions are listed by type so the output does not depend on evaluation order. */
export function sortConditions(list: Condition[]): Condition[] {
  return [...list].sort((a, b) => cmpStr(a.type, b.type));
}
