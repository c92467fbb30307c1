// Rate-limit counters in the status of BackendTrafficPolicies: summed from the workers'
// sluice_ratelimit_requests_total series (a rule's "<ns>/<policy>/<index>" label), so `sluice
// status` and GET /status show what each rule allowed and refused without a metrics stack.

export interface RuleCounts {
  rule: number;
  allowed: number;
  limited: number;
  shadowLimited: number;
}

const SERIES = /^sluice_ratelimit_requests_total\{([^}]*)\} (\S+)$/;
const LABEL = /(\w+)="((?:[^"\\]|\\.)*)"/g;

/** "<ns>/<policy>" -> counts per rule index, from Prometheus text. */
export function rateLimitCounts(metricsText: string): Map<string, RuleCounts[]> {
  const out = new Map<string, Map<number, RuleCounts>>();
  for (const line of metricsText.split("\n")) {
    const m = SERIES.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of m[1]!.matchAll(LABEL)) labels[l[1]!] = l[2]!;
    const rule = labels.rule ?? "";
    const slash = rule.lastIndexOf("/");
    const policy = rule.slice(0, slash);
    const index = Number(rule.slice(slash + 1));
    if (slash < 0 || !Number.isInteger(index)) continue;
    const byRule = out.get(policy) ?? new Map<number, RuleCounts>();
    out.set(policy, byRule);
    const c = byRule.get(index) ?? { rule: index, allowed: 0, limited: 0, shadowLimited: 0 };
    byRule.set(index, c);
    const v = Number(m[2]);
    if (labels.result === "allowed") c.allowed += v;
    else if (labels.result === "limited") c.limited += v;
    else if (labels.result === "shadow_limited") c.shadowLimited += v;
  }
  return new Map([...out].map(([k, v]) => [k, [...v.values()].sort((a, b) => a.rule - b.rule)]));
}
