// Passive health (outlier detection), after Envoy's: consecutive 5xx, consecutive gateway errors
// (502/503/504 and connection failures) and, when local-origin errors are split out, consecutive
// local failures (connect refused, reset, timeout) eject an endpoint. The n-th ejection in a row
// lasts n x baseEjectionTime (capped); a review every interval ends ejections that are due and
// decays the multiplier of endpoints that stayed in. At most maxEjectionPercent of the endpoints are
// out at once, but one may always be ejected (as in Envoy).
import type { IrPassiveHealthCheck } from "../../ir/types.js";

/** Minimum cap of one ejection (Envoy's default max_ejection_time). */
const MAX_EJECTION_MS = 300_000;

/** An attempt's outcome as the data plane reports it: an HTTP status, or a local-origin failure. */
export const OUTCOME_CONNECT = -1;
export const OUTCOME_RESET = -2;
export const OUTCOME_TIMEOUT = -3;

export interface OutlierCounters {
  c5xx: number;
  cGateway: number;
  cLocal: number;
  /** performance.now() until which the endpoint is out; 0 when it is in. */
  ejectedUntil: number;
  /** Ejections in a row (the multiplier). */
  ejections: number;
}

export function newCounters(): OutlierCounters {
  return { c5xx: 0, cGateway: 0, cLocal: 0, ejectedUntil: 0, ejections: 0 };
}

/** Whether the outcome makes `c` reach an ejection threshold (counters updated either way). */
export function countOutcome(cfg: IrPassiveHealthCheck, c: OutlierCounters, outcome: number): string | null {
  const local = outcome < 0;
  if (local && cfg.splitExternalLocalOriginErrors) {
    c.cLocal++;
    if (cfg.consecutiveLocalOriginFailures > 0 && c.cLocal >= cfg.consecutiveLocalOriginFailures) return `${c.cLocal} consecutive local-origin failures`;
    return null;
  }
  // Not split: a local failure stands for the status the gateway answers for it (504 on timeout, else 503).
  const status = local ? (outcome === OUTCOME_TIMEOUT ? 504 : 503) : outcome;
  if (!local) c.cLocal = 0; // the endpoint answered: its connection works
  if (status >= 500 && status <= 599) {
    c.c5xx++;
    if (status >= 502 && status <= 504) c.cGateway++;
    else c.cGateway = 0;
  } else {
    c.c5xx = 0;
    c.cGateway = 0;
    return null;
  }
  if (cfg.consecutive5xx > 0 && c.c5xx >= cfg.consecutive5xx) return `${c.c5xx} consecutive 5xx responses`;
  if (cfg.consecutiveGatewayErrors > 0 && c.cGateway >= cfg.consecutiveGatewayErrors) return `${c.cGateway} consecutive gateway errors`;
  return null;
}

/** Whether one more endpoint may be ejected when `ejected` of `total` already are. */
export function mayEject(cfg: IrPassiveHealthCheck, ejected: number, total: number): boolean {
  if (ejected >= total) return false;
  if (ejected === 0) return true;
  return (ejected + 1) * 100 <= cfg.maxEjectionPercent * total;
}

export function ejectionMs(cfg: IrPassiveHealthCheck, ejections: number): number {
  return Math.min(cfg.baseEjectionMs * ejections, Math.max(MAX_EJECTION_MS, cfg.baseEjectionMs));
}
