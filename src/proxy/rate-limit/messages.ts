// IPC between workers and the control process for rate-limit counters. Kept apart from the
// snapshot messages: the worker pool ignores them, the rate-limit service and client own them.

/** Worker -> control: grant up to `want` requests of counter `key` in window `window`. */
export interface AcquireMessage {
  type: "rl-acquire";
  id: number;
  key: string;
  /** floor(now / windowMs) as the worker saw it. */
  window: number;
  windowMs: number;
  limit: number;
  want: number;
  global: boolean;
  failClosed: boolean;
}

/** Control -> worker: how many were granted (0..want); fewer than asked means the window is spent. */
export interface GrantMessage {
  type: "rl-grant";
  id: number;
  granted: number;
}

export function isAcquire(m: unknown): m is AcquireMessage {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "rl-acquire";
}

export function isGrant(m: unknown): m is GrantMessage {
  return typeof m === "object" && m !== null && (m as { type?: unknown }).type === "rl-grant";
}

export const UNIT_MS = { Second: 1_000, Minute: 60_000, Hour: 3_600_000, Day: 86_400_000 } as const;
