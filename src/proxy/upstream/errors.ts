// Classification of upstream failures into metric reasons and client statuses.
import type { UpstreamErrorReason } from "../../observe/proxy-metrics.js";

export class UpstreamTimeoutError extends Error {
  readonly code = "SLUICE_UPSTREAM_TIMEOUT";
  constructor(what: string) {
    super(what);
  }
}

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ENOENT",
  "UND_ERR_CONNECT_TIMEOUT",
  "SLUICE_CONNECT_TIMEOUT",
  "UND_ERR_DESTROYED",
  "UND_ERR_CLOSED",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_INVALID_SESSION",
]);

export function classify(err: unknown): UpstreamErrorReason {
  if (err instanceof UpstreamTimeoutError) return "timeout";
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && CONNECT_CODES.has(code)) return "connect";
  return "reset";
}
