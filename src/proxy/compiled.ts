// Shapes of a compiled snapshot: everything a request needs, resolved and pre-bound.
import type { AccessLog } from "../observe/access-log.js";
import type { RequestCounters } from "../observe/proxy-metrics.js";
import type { HeaderEdit } from "./filters/header-mods.js";
import type { RequestGuard } from "./guards.js";
import type { CompiledRedirect } from "./filters/request-redirect.js";
import type { CompiledRewrite } from "./filters/url-rewrite.js";
import type { HostTable, RouteTable } from "./router.js";
import type { CompiledMatch } from "./router-match.js";
import type { TlsSelector } from "./tls.js";
import type { PortLimits } from "./guards/request-limits.js";
import type { Breaker } from "./upstream/breaker.js";
import type { ClusterRuntime } from "./upstream/cluster.js";
import type { WeightedPicker } from "./weighted.js";

export const ACTION_FORWARD = 0;
export const ACTION_REDIRECT = 1;
export const ACTION_DIRECT = 2;

export interface CompiledMirror {
  cluster: ClusterRuntime;
  /** 0..1 */
  fraction: number;
}

export interface CompiledBackendRef {
  /** Metrics label: the cluster name, or "unresolved". */
  label: string;
  cluster: ClusterRuntime | null;
  /** Rule-level then backend-level edits, chained. */
  requestEdit: HeaderEdit | null;
  responseEdit: HeaderEdit | null;
  rewrite: CompiledRewrite | null;
  mirrors: CompiledMirror[] | null;
  /** A backendRef-level RequestRedirect: this share is answered with it, never forwarded. */
  redirect: CompiledRedirect | null;
  counters: RequestCounters;
  /** The cluster's circuit breaker and retry budget (this worker's counts); null when unresolved. */
  breaker: Breaker | null;
}

/** Failures without a response that a retry covers (CompiledRetry.on). */
export const RETRY_CONNECT = 1;
/** Reset, closed before headers, per-try timeout. */
export const RETRY_RESET = 2;
export const RETRY_REFUSED_STREAM = 4;
/** An HTTPRoute rule's GEP-1731 retry: every failure without a response. */
export const RETRY_ALL_FAILURES = RETRY_CONNECT | RETRY_RESET | RETRY_REFUSED_STREAM;

export interface CompiledRetry {
  attempts: number;
  /** Indexed by status code. */
  codes: Uint8Array;
  backoffMs: number;
  /** Cap of the exponential backoff. */
  maxBackoffMs: number;
  /** Indexed by gRPC status code (trailers-only responses); null when none are retried. */
  grpcCodes: Uint8Array | null;
  /** RETRY_* bits: which failures without a response are retried. */
  on: number;
  /** Non-idempotent methods are retried after reaching the backend too. */
  nonIdempotent: boolean;
}

export interface CompiledRoute {
  name: string;
  match: CompiledMatch;
  action: number;
  redirect: CompiledRedirect | null;
  directStatus: number;
  directBody: Buffer;
  backends: WeightedPicker<CompiledBackendRef>;
  /** Two or more backends with session persistence: a request's session picks among them first; else null. */
  sticky: CompiledBackendRef[] | null;
  /** Rule-level response edit, used for responses the gateway makes itself (redirect, direct). */
  responseEdit: HeaderEdit | null;
  requestMs: number;
  backendRequestMs: number;
  retry: CompiledRetry | null;
  /** Buffer small request bodies so they can be replayed (retries) or copied (mirrors). */
  wantsReplayableBody: boolean;
  /** Counters for responses the gateway makes itself on this route (backend ""). */
  counters: RequestCounters;
  duration: { observe(v: number): void };
  /** Checks run before the route answers (auth, CORS, limits ...); null when there are none. */
  guards: RequestGuard[] | null;
  /** Request bodies over this many bytes are refused with 413 (streamed ones are cut); 0: no limit. */
  maxBodyBytes?: number;
}

export interface CompiledGateway {
  name: string;
  hostname: string | null;
  vhosts: HostTable<RouteTable<CompiledRoute>>;
  notFound: RequestCounters;
}

export interface SnapshotState {
  version: number;
  /** Requests started on this snapshot and not finished yet. */
  inflight: number;
  /** Set when a newer snapshot replaced this one; called when inflight reaches 0. */
  onIdle: (() => void) | null;
  endpointKeys: Set<string>;
  log: AccessLog;
}

export interface CompiledListener {
  name: string;
  port: number;
  protocol: "HTTP" | "HTTPS";
  scheme: "http" | "https";
  gateways: HostTable<CompiledGateway>;
  tls: TlsSelector | null;
  /** Header size/count and target length every request on the port is held to (the largest of its Gateway listeners'). */
  limits?: PortLimits;
  /** For requests no gateway listener accepts. */
  notFound: RequestCounters;
  snapshot: SnapshotState;
}
