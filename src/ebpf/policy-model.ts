// The IR's networkPolicy section -> the model compilePolicy() takes. Shared by the kernel manager
// (control process) and the accept-time check (workers), so both enforce one compiled structure.
import type { IrNetworkPolicy } from "../ir/types.js";
import type { PolicyModel } from "./policy-map.js";

export function policyModelOf(np: IrNetworkPolicy): PolicyModel {
  return {
    // Outside the selected Gateways' listener ports the policy has no say (see translator/network-policy.ts).
    defaultVerdict: "allow",
    // Among overlapping allow rules the first one decides (and counts). Rules without L7 HTTP rules
    // come first: one of them allowing a source means any request is allowed, as in Cilium, where
    // the allowed requests are the union over the matching rules.
    rules: [...np.rules.filter((r) => !r.http), ...np.rules.filter((r) => r.http)].map((r) => ({ id: r.id, verdict: r.verdict, from: r.from, ports: r.ports })),
    defaultDenyPorts: np.defaultDenyPorts,
  };
}

/** The verdict label of a counter slot's rule: deny rules and the default drop count drops. */
export function ruleVerdicts(np: IrNetworkPolicy | undefined): Map<string, "allow" | "deny"> {
  return new Map((np?.rules ?? []).map((r) => [r.id, r.verdict]));
}
