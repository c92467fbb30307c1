// The IR: a plain, serialisable snapshot handed to data planes. No Kubernetes types leak in.
// Everything is pre-resolved: references, defaults, policy. Arrays are in their final order.
import type { IrCors, IrRouteSecurity } from "./security.js";
import type { IrRateLimit } from "./rate-limit.js";
import type { IrHealthCheck, IrLoadBalancer, IrSessionPersistence } from "./backend-traffic.js";
import type { IrClientCertificate, IrClientValidation, IrRequestLimits, IrXfcc } from "./client-traffic.js";
import type { IrCircuitBreaker, IrRetryOn, IrUpstreamConnection } from "./resilience.js";
export type * from "./security.js";
export type * from "./rate-limit.js";
export type * from "./backend-traffic.js";
export type * from "./client-traffic.js";
export type * from "./resilience.js";

export interface Snapshot {
  /** Monotonic; bumped by the control plane only when `hash` changes. */
  version: number;
  /** configHash(config) (src/util/canonical-json.ts): sha256 (hex) of its canonical JSON, long arrays as chunk digests. */
  hash: string;
  config: IrConfig;
}

export interface IrConfig extends IrL4Config {
  /** Sorted by port. One entry per bound port. */
  listeners: IrListener[];
  /** Sorted by name. */
  clusters: IrCluster[];
  /** Network policy (CiliumNetworkPolicy) selecting our Gateways; absent when none does. */
  networkPolicy?: IrNetworkPolicy;
}

export interface IrListener {
  /** Unique, e.g. "http-8080". */
  name: string;
  port: number;
  protocol: "HTTP" | "HTTPS";
  /**
   * Gateway listeners sharing this port, most specific hostname first (exact, then wildcards
   * longest first, then no hostname). A request is served by the first one whose hostname matches
   * its Host (listener isolation); on HTTPS the SNI picks the certificate the same way.
   */
  gatewayListeners: IrGatewayListener[];
}

export interface IrGatewayListener {
  /** "<namespace>/<gateway>/<listener name>" */
  name: string;
  /** Listener hostname: exact or "*.suffix"; null matches any host. */
  hostname: string | null;
  /** Present on HTTPS listeners (mode Terminate). */
  tls: IrTls | null;
  /** Most specific hostname first; "*" (any host) last. */
  virtualHosts: IrVirtualHost[];
  /** HTTPS: client certificates are asked for and validated (Gateway tls.frontend, ClientTrafficPolicy tls). */
  clientValidation?: IrClientValidation;
  /** Client certificate details to the backend (ClientTrafficPolicy headers.xForwardedClientCert). */
  xfcc?: IrXfcc;
  /** Header size/count and URL length limits (ClientTrafficPolicy); absent: the defaults. */
  limits?: IrRequestLimits;
}

export interface IrTls {
  /** The first certificate is the default when several are configured. */
  certificates: IrCertificate[];
}

export interface IrCertificate {
  /** "<namespace>/<secret name>" */
  name: string;
  certPem: string;
  keyPem: string;
}

export interface IrVirtualHost {
  /** Exact host, "*.suffix" wildcard, or "*" for any host. Lowercase, no port. */
  hostname: string;
  /** In precedence order: the first route whose match succeeds serves the request. */
  routes: IrRoute[];
}

export interface IrRouteRef {
  /** A GRPCRoute's routes carry gRPC semantics: gRPC-aware errors, retries on grpc-status. */
  kind: "HTTPRoute" | "GRPCRoute";
  namespace: string;
  name: string;
  /** Index of the rule in spec.rules. */
  rule: number;
  ruleName?: string;
  /** Index of the match in rule.matches (0 when the rule has none). */
  match: number;
}

export interface IrRoute {
  /** Stable, unique: "httproute/<ns>/<name>/rule/<i>/match/<j>"; used as a metrics label. */
  name: string;
  ref: IrRouteRef;
  match: IrMatch;
  /** Rule-level filters. */
  filters: IrFilters;
  action: IrAction;
  timeouts?: IrTimeouts;
  retry?: IrRetry;
  /** CORS, authentication, authorization (SecurityPolicy and the CORS filter). */
  security?: IrRouteSecurity;
  /** BackendTrafficPolicy rateLimit. */
  rateLimit?: IrRateLimit;
  /** BackendTrafficPolicy requestBuffer.limit: request bodies over this many bytes get 413. */
  maxRequestBodyBytes?: number;
}

export interface IrPathMatch {
  type: "Exact" | "PathPrefix" | "RegularExpression";
  value: string;
}

export interface IrValueMatch {
  type: "Exact" | "RegularExpression";
  /** Header names are lowercase; query parameter names are kept as written (case-sensitive). */
  name: string;
  value: string;
}

export interface IrMatch {
  path: IrPathMatch;
  /** Uppercase HTTP method; absent matches any. */
  method?: string;
  headers: IrValueMatch[];
  queryParams: IrValueMatch[];
}

export interface IrHeader {
  name: string;
  value: string;
}

export interface IrHeaderMods {
  set: IrHeader[];
  add: IrHeader[];
  /** Lowercase names. */
  remove: string[];
}

export type IrPathModifier =
  | { type: "ReplaceFullPath"; value: string }
  | { type: "ReplacePrefixMatch"; value: string };

export interface IrUrlRewrite {
  hostname?: string;
  path?: IrPathModifier;
}

export interface IrMirror {
  /** Cluster name; a mirror whose backend did not resolve is left out by the translator. */
  cluster: string;
  /** Share of requests mirrored, 0..100 (fractions allowed). */
  percent: number;
}

export interface IrFilters {
  requestHeaders?: IrHeaderMods;
  responseHeaders?: IrHeaderMods;
  urlRewrite?: IrUrlRewrite;
  mirrors?: IrMirror[];
  /**
   * A RequestRedirect given on a backendRef: requests whose weighted pick is this backend are
   * answered with this redirect instead of being forwarded. Only set on backendRef-level filters;
   * a rule-level RequestRedirect is the route's action instead.
   */
  redirect?: IrRedirect;
  /** The HTTPRoute CORS filter (rule level only); wins over a SecurityPolicy's cors. */
  cors?: IrCors;
}

export interface IrRedirect {
  type: "redirect";
  scheme?: "http" | "https";
  hostname?: string;
  /** Explicit port; when absent the spec's rules for inferring one apply (see proxy). */
  port?: number;
  path?: IrPathModifier;
  statusCode: 301 | 302 | 303 | 307 | 308;
}

export interface IrForward {
  type: "forward";
  /** Weighted; weight 0 entries are omitted. An empty list means 500. */
  backends: IrBackend[];
}

export interface IrDirectResponse {
  type: "direct";
  status: number;
  body: string;
}

export type IrAction = IrRedirect | IrForward | IrDirectResponse;

export interface IrBackend {
  /** null: the backendRef could not be resolved or is not permitted -> 500 for its share. */
  cluster: string | null;
  weight: number;
  /** backendRef-level filters, applied after the rule's. */
  filters: IrFilters;
}

export interface IrTimeouts {
  /** Whole request, gateway receive to response start, retries included. */
  requestMs?: number;
  /** Each attempt to the backend. */
  backendRequestMs?: number;
}

export interface IrRetry {
  /** Retries after the first attempt. */
  attempts: number;
  /**
   * Response statuses that are retried. Connection errors (refused, reset, closed before the
   * response) and attempts that hit `backendRequestMs` are always retriable.
   */
  codes: number[];
  backoffMs?: number;
  /**
   * gRPC status codes that are retried (GRPCRoute routes): read from a trailers-only response
   * (grpc-status in the response headers), the only form that can still be retried.
   */
  grpcCodes?: number[];
  /** A BackendTrafficPolicy retry: which failures are retried (absent: the GEP-1731 rule above). */
  on?: IrRetryOn;
  /** Longest wait between attempts (default 10 x backoffMs). */
  maxBackoffMs?: number;
  /**
   * Retry a request whose method is not idempotent (POST, PATCH ...) after it reached the backend.
   * Default false: such a request is retried only when nothing was sent (connect failure, refused stream).
   */
  retryNonIdempotent?: boolean;
}

export interface IrCluster {
  /** "<kind>/<namespace>/<name>/<port>", e.g. "service/default/echo/8080". */
  name: string;
  /**
   * From Service appProtocol: kubernetes.io/h2c -> h2c, kubernetes.io/ws -> ws, else http1.
   * A GRPCRoute backend without an appProtocol is h2c (gRPC needs HTTP/2). "h2c" with `tls` set is
   * HTTP/2 over TLS (ALPN h2).
   */
  protocol: "http1" | "h2c" | "ws";
  /** Sorted; empty means no healthy endpoint -> 503. */
  endpoints: IrEndpoint[];
  /** TLS to the endpoints (BackendTLSPolicy); absent: plain text. */
  tls?: IrClusterTls;
  /** BackendTrafficPolicy loadBalancer (or a Cilium lb-l7-algorithm annotation); absent: weighted round robin. */
  loadBalancer?: IrLoadBalancer;
  /** BackendTrafficPolicy healthCheck; absent: every endpoint takes traffic. */
  healthCheck?: IrHealthCheck;
  /** HTTPRoute rule sessionPersistence; wins over the load balancer for requests carrying a live session. */
  sessionPersistence?: IrSessionPersistence;
  /** BackendTrafficPolicy circuitBreaker; absent: no limits, the default retry budget. */
  circuitBreaker?: IrCircuitBreaker;
  /** BackendTrafficPolicy timeout.tcp / timeout.http connection settings; absent: defaults. */
  connection?: IrUpstreamConnection;
}

export interface IrClusterTls {
  /** Trusted CA certificates (PEM bundle); absent: the system's well-known CAs. */
  caPem?: string;
  /** Sent as SNI; also the name the certificate must carry when `subjectAltNames` is absent. */
  servername: string;
  /** When present, the certificate must carry at least one of these (and `servername` is not checked). */
  subjectAltNames?: IrSubjectAltName[];
  /** The policy cannot be applied (e.g. no valid CA certificate): requests fail with 503 and this reason. */
  error?: string;
  /** Presented to the backend when it asks (Gateway spec.tls.backend.clientCertificateRef). */
  clientCertificate?: IrClientCertificate;
}

export interface IrSubjectAltName {
  type: "Hostname" | "URI";
  value: string;
}

export type IrEndpoint =
  | { address: string; port: number; weight: number }
  | { path: string; weight: number };

// ---- L4 routes (TCPRoute, TLSRoute passthrough/terminate, UDPRoute), served by src/l4 ----

/** Additive section of IrConfig; absent when no L4 listener is programmed. */
export interface IrL4Config {
  /** Sorted by protocol family (tcp before udp), then port. */
  l4Listeners?: IrL4Listener[];
  /**
   * Service cluster IPs with their ready endpoints, for kernel L4 load balancing of local clients
   * (src/ebpf/l4-lb.ts). Sorted by name; absent when no Service has a cluster IP.
   */
  serviceVips?: IrServiceVip[];
}

export interface IrServiceVip {
  /** "service/<ns>/<name>/<port>/<tcp|udp>" */
  name: string;
  /** spec.clusterIPs (or spec.clusterIP), IP literals only, in the Service's order. */
  addresses: string[];
  port: number;
  protocol: "TCP" | "UDP";
  /** Ready endpoints of the EndpointSlice port named like the Service port; sorted. */
  endpoints: IrEndpoint[];
}

export interface IrL4Listener {
  /** Unique, e.g. "tcp-9000", "tls-9443", "udp-5353". TCP/TLS and UDP may share a port number. */
  name: string;
  port: number;
  /** TLS: the ClientHello's SNI picks the route (see gatewayListeners for Terminate). */
  protocol: "TCP" | "TLS" | "UDP";
  /**
   * TCP/UDP: the first route serves every connection (the oldest attached route wins).
   * TLS: routes by hostname, most specific first; a connection takes the first whose hostname
   * matches its SNI; no match closes the connection. Kept for readers that route by SNI alone:
   * src/l4 serves TLS from `gatewayListeners` (listener isolation, Terminate).
   */
  routes: IrL4Route[];
  /**
   * TLS only: the Gateway listeners sharing this port, most specific hostname first. The SNI picks
   * the first whose hostname matches (listener isolation, as on HTTPS), then the first of its
   * routes whose hostname matches; no match closes the connection. Absent: `routes`, passthrough.
   */
  gatewayListeners?: IrL4GatewayListener[];
}

export interface IrL4GatewayListener {
  /** "<namespace>/<gateway>/<listener name>" */
  name: string;
  /** Exact or "*.suffix"; null matches any SNI, and connections without one. */
  hostname: string | null;
  /** tls.mode Terminate: the gateway completes the handshake with these certificates (picked by
   * SNI, the first by default) and relays plaintext to the backend. null: Passthrough. */
  tls: IrTls | null;
  /** Most specific hostname first. */
  routes: IrL4Route[];
}

export interface IrL4Route {
  /** "tcproute/<ns>/<name>/rule/<i>" (or tlsroute/udproute); used as a metrics label. */
  name: string;
  /** TLS only: one exact name, "*.suffix", or "*" (any SNI, also none). Empty on TCP/UDP. */
  hostname: string | null;
  /** Weighted; one backend is chosen per connection (UDP: per client session). Weight 0 omitted. */
  backends: IrL4Backend[];
}

export interface IrL4Backend {
  /** "service/<ns>/<name>/<port>" or "backend/<ns>/<name>"; null when unresolved (its share is refused). */
  name: string | null;
  weight: number;
  /** Sorted. Empty: the share is refused (connection closed / datagram dropped). */
  endpoints: IrEndpoint[];
  /**
   * BackendTLSPolicy of a TLSRoute backend: on a Terminate listener the gateway opens TLS again
   * towards the backend with these settings (passthrough listeners ignore it). Absent: plaintext.
   */
  tls?: IrClusterTls;
}

// ---- Network policy at the gateway's edge (cilium.io/v2 CiliumNetworkPolicy), see src/translator/network-policy.ts ----

/**
 * L3/L4 ingress policy, already scoped to the listener ports of the Gateways each policy selects.
 * Enforced by the kernel (src/ebpf) and at accept time by the workers, from the same compiled form.
 */
export interface IrNetworkPolicy {
  /** In order: deny rules beat allow rules; among allow rules the first one gets the counter. */
  rules: IrPolicyRule[];
  /** Listener ports of Gateways selected by a policy with ingress allow rules (default deny, as Cilium does). */
  defaultDenyPorts: IrPolicyPort[];
}

export interface IrPolicyRule {
  /** "<ns>/<policy>/spec.ingress[0]": stable, used as the counter's rule label. */
  id: string;
  verdict: "allow" | "deny";
  from: IrPolicyCidr[];
  /** Never empty: a rule is always scoped to some listener ports. */
  ports: IrPolicyPort[];
  /** L7 rules of an allow rule (toPorts.rules.http): a request on its ports must match one. */
  http?: IrPolicyHttpRule[];
}

export interface IrPolicyCidr {
  cidr: string;
  except?: string[];
}

export interface IrPolicyPort {
  protocol: "TCP" | "UDP" | "SCTP" | "ANY";
  port: number;
  endPort?: number;
}

export interface IrPolicyHttpRule {
  /** Regular expressions matched against the whole value (as Cilium's are). */
  method?: string;
  path?: string;
  host?: string;
  /** Required headers: lowercase name, and the exact value when given. */
  headers?: { name: string; value?: string }[];
}
