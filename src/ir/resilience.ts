// IR for request resilience (BackendTrafficPolicy retry, circuitBreaker, timeout): which failures a
// route retries and how, how many requests a worker lets reach a cluster at once, and the
// connection timeouts to its endpoints. Set by src/translator/policies/backend-{retry,breaker,timeout}.ts;
// compiled by src/proxy/compile.ts and enforced by src/proxy/exchange.ts and src/proxy/upstream/breaker.ts.

/**
 * Which failures a policy retry retries (Envoy Gateway retryOn triggers, as flags). Absent on
 * IrRetry (an HTTPRoute rule's GEP-1731 retry): every connection failure, reset and per-try
 * timeout is retried, plus the listed status codes.
 */
export interface IrRetryOn {
  /** No connection could be made (refused, unreachable, connect timeout). Nothing was sent. */
  connectFailure: boolean;
  /** The connection or stream broke, or the per-try timeout fired, before response headers. */
  reset: boolean;
  /** An HTTP/2 backend refused the stream (REFUSED_STREAM): the request was not processed. */
  refusedStream: boolean;
  /** Every 5xx response is retried (codes lists them too; kept for readers of the IR). */
  all5xx: boolean;
}

/** Per-cluster limits, counted per worker process (see src/proxy/upstream/breaker.ts). Absent: no limit. */
export interface IrCircuitBreaker {
  /** HTTP/1.1 connections busy at once; requests over it wait (up to maxPendingRequests). */
  maxConnections?: number;
  /** Requests waiting for a connection; one more is answered 503 at once. */
  maxPendingRequests?: number;
  /** Requests in flight (and waiting) at once; one more is answered 503 at once. */
  maxParallelRequests?: number;
  /** Retries in progress at once; a failure that would need one more is answered as it is. */
  maxParallelRetries?: number;
  /** Retries in progress may be at most this share of the requests in progress ... */
  retryBudgetPercent: number;
  /** ... but this many are always allowed. */
  retryBudgetMinConcurrency: number;
}

/** Connection settings to a cluster's endpoints (BackendTrafficPolicy timeout). Absent fields: defaults. */
export interface IrUpstreamConnection {
  /** TCP (and TLS) connection establishment. Default 10 s. */
  connectTimeoutMs?: number;
  /** A connection with no request for this long is closed. Default 4 s (below common server keep-alive timeouts). */
  idleTimeoutMs?: number;
  /** A connection is retired (once idle, or gracefully for HTTP/2) this long after it opened. Default: never. */
  maxConnectionDurationMs?: number;
}
