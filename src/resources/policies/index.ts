// Our policy kinds, registered with the loader by src/resources/kinds.ts.
import { BACKEND_TRAFFIC_POLICY } from "./backend-traffic-policy.js";
import { CLIENT_TRAFFIC_POLICY } from "./client-traffic-policy.js";
import type { PolicyKindSpec } from "./policy-kind.js";
import { SECURITY_POLICY } from "./security-policy.js";

export const POLICY_KINDS: readonly PolicyKindSpec[] = [BACKEND_TRAFFIC_POLICY, SECURITY_POLICY, CLIENT_TRAFFIC_POLICY];

export function policyKindSpec(kind: string): PolicyKindSpec | undefined {
  return POLICY_KINDS.find((k) => k.kind === kind);
}

export { policyKind, POLICY_GROUP, type PolicyKindSpec, type SectionScope, type TargetKind } from "./policy-kind.js";
