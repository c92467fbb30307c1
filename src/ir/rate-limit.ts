// IR for API-aware rate limits (BackendTrafficPolicy rateLimit), evaluated per request by the
// proxy. Counting is exact across worker processes (the control process keeps the counters) and,
// for global rules, across gateways (counters in Redis).
import type { IrClientIp } from "./security.js";

export interface IrRateLimit {
  rules: IrRateLimitRule[];
  /** Where the client address comes from (ClientTrafficPolicy clientIPDetection). */
  clientIp?: IrClientIp;
}

export interface IrRateLimitRule {
  /** Counter identity, stable across snapshots: "<policy ns>/<policy>/<local|global>/<rule index>@<route rule>". */
  key: string;
  /** For metrics: "<policy ns>/<policy>/<rule index>". */
  name: string;
  global: boolean;
  /** Global rules when Redis cannot be reached: refuse (true) or let requests through (false). */
  failClosed: boolean;
  requests: number;
  unit: "Second" | "Minute" | "Hour" | "Day";
  /** Count, never refuse: a would-be refusal shows in metrics only. */
  shadow: boolean;
  /** Every condition must hold for the rule to apply; Distinct ones give each value its own counter. */
  conditions: IrRateLimitCondition[];
}

export type IrRateLimitCondition =
  | { kind: "header"; name: string; match: "Exact" | "RegularExpression" | "Distinct"; value?: string; invert: boolean }
  | { kind: "sourceCIDR"; cidr: string; distinct: boolean }
  | { kind: "method"; values: string[]; invert: boolean }
  | { kind: "path"; match: "Exact" | "PathPrefix" | "RegularExpression"; value: string; invert: boolean }
  | { kind: "jwtClaim"; name: string; match: "Exact" | "Distinct"; value?: string };
