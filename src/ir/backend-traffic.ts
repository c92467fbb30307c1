// IR for how a request picks an endpoint of a cluster: load balancer, session persistence, health
// checks (active and passive). Set on IrCluster by the translator (BackendTrafficPolicy
// loadBalancer/healthCheck, HTTPRoute sessionPersistence, Cilium Service annotations); the data plane
// compiles it into one picker per cluster (src/proxy/upstream/lb-*.ts, health-*.ts).

export interface IrLoadBalancer {
  /** Absent IrCluster.loadBalancer means RoundRobin (weighted). */
  type: "RoundRobin" | "LeastRequest" | "Random" | "ConsistentHash";
  consistentHash?: IrConsistentHash;
  /** RoundRobin/LeastRequest: a new (or newly healthy) endpoint's weight ramps up linearly over this window. */
  slowStartMs?: number;
}

export interface IrConsistentHash {
  /** Maglev (Envoy Gateway's) or a ring of virtual nodes. */
  algorithm: "Maglev" | "RingHash";
  /** Maglev: prime table size. RingHash: virtual nodes of an endpoint with the largest weight. */
  tableSize: number;
  /** What is hashed. A request without the input gets a random endpoint (Cookie: see ttlMs). */
  on: IrHashInput;
}

export type IrHashInput =
  | { type: "SourceIP" }
  /** Lowercase header names; values of all of them (in this order) are hashed together. */
  | { type: "Header"; names: string[] }
  /** Query parameter names as written (case-sensitive). */
  | { type: "QueryParams"; names: string[] }
  /**
   * Cookie value. When the request has no such cookie and ttlMs is set, the gateway makes one up,
   * hashes it and sets it on the response (Max-Age from ttlMs) so the client's next requests stick.
   */
  | { type: "Cookie"; name: string; ttlMs?: number; attributes?: { name: string; value: string }[] };

/** Gateway API HTTPRoute rule sessionPersistence, compiled. */
export interface IrSessionPersistence {
  type: "Cookie" | "Header";
  /** Cookie or header name. */
  name: string;
  absoluteTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Cookie: a Permanent cookie carries Max-Age (absoluteTimeout); a Session cookie does not. */
  permanent?: boolean;
  /** Cookie Path attribute (the rule's path match, "/" when it has several). */
  path?: string;
}

export interface IrHealthCheck {
  active?: IrActiveHealthCheck;
  passive?: IrPassiveHealthCheck;
}

export interface IrActiveHealthCheck {
  type: "HTTP" | "TCP" | "GRPC";
  intervalMs: number;
  timeoutMs: number;
  /** Failed checks in a row that make a healthy endpoint unhealthy. */
  unhealthyThreshold: number;
  /** Passed checks in a row that make an unhealthy endpoint healthy. */
  healthyThreshold: number;
  http?: { path: string; method: string; expectedStatuses: number[]; expectedBody?: IrPayload };
  tcp?: { send?: IrPayload; receive?: IrPayload };
  grpc?: { service?: string };
}

/** Bytes as base64 (Text payloads are stored encoded too, so one form reaches the data plane). */
export interface IrPayload {
  base64: string;
}

export interface IrPassiveHealthCheck {
  /** 0 disables the check. */
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
  /** Only with splitExternalLocalOriginErrors. */
  consecutiveLocalOriginFailures: number;
  splitExternalLocalOriginErrors: boolean;
  /** How often ejections are reviewed (ended, multiplier decayed). */
  intervalMs: number;
  /** An endpoint's n-th ejection in a row lasts n x this (capped at max(300 s, base)). */
  baseEjectionMs: number;
  maxEjectionPercent: number;
}
