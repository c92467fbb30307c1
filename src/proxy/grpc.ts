// gRPC-aware answers: a gRPC client understands a grpc-status, not an HTML/text 5xx. Responses the
// gateway makes itself for a request whose content-type is application/grpc* are "trailers-only"
// responses (HTTP 200, one HEADERS frame with END_STREAM carrying grpc-status and grpc-message), as
// the gRPC over HTTP/2 protocol defines for calls that fail before any message.
import type http from "node:http";
import type http2 from "node:http2";
import type { IncomingHttpHeaders } from "node:http";
import { endResponse, type Res } from "./respond.js";
import type { FastRes } from "./h1/message.js";

export const GRPC_OK = 0;
export const GRPC_UNKNOWN = 2;
export const GRPC_DEADLINE_EXCEEDED = 4;
export const GRPC_PERMISSION_DENIED = 7;
export const GRPC_UNIMPLEMENTED = 12;
export const GRPC_INTERNAL = 13;
export const GRPC_UNAVAILABLE = 14;
export const GRPC_UNAUTHENTICATED = 16;

/** True for application/grpc, application/grpc+proto, application/grpc+json ... (not grpc-web). */
export function isGrpcRequest(headers: IncomingHttpHeaders): boolean {
  const ct = headers["content-type"];
  return typeof ct === "string" && ct.length >= 16 && ct.startsWith("application/grpc") && (ct.length === 16 || ct.charCodeAt(16) === 43 /* + */ || ct.charCodeAt(16) === 59 /* ; */);
}

/**
 * The gRPC code for a status the gateway would otherwise answer with (the mapping gRPC itself uses
 * for HTTP statuses, with 500 from the gateway meaning "no usable backend": UNAVAILABLE, as the
 * GRPCRoute spec asks for invalid backends).
 */
export function grpcCodeFor(status: number): number {
  switch (status) {
    case 400:
      return GRPC_INTERNAL;
    case 401:
      return GRPC_UNAUTHENTICATED;
    case 403:
      return GRPC_PERMISSION_DENIED;
    case 404:
      return GRPC_UNIMPLEMENTED;
    case 429:
    case 500:
    case 502:
    case 503:
      return GRPC_UNAVAILABLE;
    case 504:
      return GRPC_DEADLINE_EXCEEDED;
    default:
      return status >= 500 ? GRPC_UNAVAILABLE : GRPC_UNKNOWN;
  }
}

/** grpc-message is percent-encoded (the protocol allows printable ASCII except '%' as is). */
export function encodeGrpcMessage(msg: string): string {
  let out = "";
  for (const b of Buffer.from(msg, "utf8")) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * Answers a gRPC call with a status and no message. `extra` is a flat header list added to the
 * response (e.g. response headers a filter or policy adds). Returns the body bytes written (0).
 */
export function sendGrpcStatus(res: Res, isH2: boolean, code: number, message: string, extra: string[] | null): number {
  if (res.headersSent || res.destroyed) return 0;
  const text = encodeGrpcMessage(message.trim());
  if (isH2) {
    const stream = (res as http2.Http2ServerResponse).stream;
    if (stream.destroyed || stream.closed) return 0;
    const h: http2.OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc", "grpc-status": String(code), "grpc-message": text };
    if (extra !== null) for (let i = 0; i < extra.length; i += 2) h[extra[i]!] = extra[i + 1]!;
    // The compat API would send HEADERS then an empty DATA frame; gRPC clients need END_STREAM on
    // the HEADERS frame itself to read it as trailers.
    stream.respond(h, { endStream: true });
    return 0;
  }
  // HTTP/1.1 cannot carry trailers-only; the status goes in the headers of an empty response.
  const list = ["content-type", "application/grpc", "grpc-status", String(code), "grpc-message", text, "content-length", "0"];
  if (extra !== null) list.push(...extra);
  (res as http.ServerResponse | FastRes).writeHead(200, list);
  endResponse(res);
  return 0;
}

/** Upstream trailers-only responses pass through as trailers-only too (see sendGrpcStatus). */
export function respondTrailersOnly(res: Res, status: number, headers: string[]): void {
  const stream = (res as http2.Http2ServerResponse).stream;
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  const h: http2.OutgoingHttpHeaders = { ":status": status };
  for (let i = 0; i < headers.length; i += 2) {
    const k = headers[i]!;
    const prev = h[k];
    h[k] = prev === undefined ? headers[i + 1]! : `${String(prev)}, ${headers[i + 1]!}`;
  }
  stream.respond(h, { endStream: true });
}

/** The grpc-status of a header list, or -1 when it has none. */
export function grpcStatusOf(headers: string[]): number {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === "grpc-status") {
      const n = Number(headers[i + 1]);
      return Number.isInteger(n) && n >= 0 ? n : -1;
    }
  }
  return -1;
}

const TIMEOUT_UNIT_MS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/** The grpc-timeout request header ("100m", "5S" ...) in milliseconds, or 0 when absent/invalid. */
export function grpcTimeoutMs(value: string | string[] | undefined): number {
  if (typeof value !== "string" || value.length < 2 || value.length > 9) return 0;
  const unit = TIMEOUT_UNIT_MS[value[value.length - 1]!];
  const n = Number(value.slice(0, -1));
  if (unit === undefined || !Number.isInteger(n) || n < 0) return 0;
  // Below a millisecond rounds up, so a tiny deadline still expires rather than meaning "none".
  return Math.max(1, Math.ceil(n * unit));
}
