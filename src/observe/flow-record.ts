// One record of the flow stream (`sluice observe`, GET /flows). Three sources feed it:
//   kernel  the edge program's ring buffer: "new" (first passed packet of a 5-tuple) and "drop"
//   l4      one record per TCP / TLS-passthrough connection or UDP session, when it ends
//   l7      one record per HTTP request, when it ends
// Verdicts:
//   forwarded  passed on (kernel: allowed; l4/l7: a backend got it)
//   dropped    refused (kernel: policy drop; l4: no route; l7: the gateway answered 4xx/5xx itself)
//   answered   the gateway answered itself without error (redirects, direct responses)
//   error      a backend was chosen but could not be reached (l4 connect failure; l7 502/503/504
//              made by the gateway)
export type FlowSource = "kernel" | "l4" | "l7";
export type FlowType = "new" | "drop" | "session" | "request";
export type FlowVerdict = "forwarded" | "dropped" | "answered" | "error";

export const FLOW_VERDICTS: readonly FlowVerdict[] = ["forwarded", "dropped", "answered", "error"];

export interface FlowEndpoint {
  ip: string;
  port: number;
}

export interface FlowRecord {
  /** ISO time: the packet (kernel), the connection's or request's start (l4, l7). */
  time: string;
  source: FlowSource;
  type: FlowType;
  verdict: FlowVerdict;
  /** Transport: TCP, UDP, SCTP, ICMP, ICMPv6, or the IP protocol number. */
  protocol: string;
  /** Application protocol carried, when the gateway knows it: HTTP (l7) or TLS (passthrough). */
  app?: "HTTP" | "TLS";
  src: FlowEndpoint;
  dst: FlowEndpoint;
  /** Gateway listener, "<namespace>/<gateway>/<listener>" (l4, l7). */
  listener?: string;
  route?: string | null;
  backend?: string | null;
  /** l7: the backend endpoint the request went to ("host:port" or a socket path). */
  upstream?: string;
  /** Kernel: the network policy rule that decided ("default-allow" / "default-deny" when none did). */
  rule?: string;
  /** Kernel: packets this event stands for (a drop event sums the drops since the previous one). */
  packets?: number;
  /** Kernel: bytes of those packets; l4/l7: bytes received from the client. */
  bytes?: number;
  /** l4/l7: bytes sent to the client. */
  bytesOut?: number;
  durationMs?: number;
  /** Kernel drop events: when this tuple's previous drop event went out (the packets count covers the time since). */
  since?: string;
  ifindex?: number;
  /** l7 */
  http?: { method: string; host: string; path: string; status: number; version: string };
  /** TLS passthrough: the ClientHello's server name. */
  sni?: string | null;
}

/** A line of the stream that is not a flow: records were lost (slow reader, full buffer). */
export interface FlowLost {
  type: "lost";
  time: string;
  count: number;
  where: string;
}

const PROTOCOLS: Record<number, string> = { 1: "ICMP", 6: "TCP", 17: "UDP", 58: "ICMPv6", 132: "SCTP" };

export function protocolName(n: number): string {
  return PROTOCOLS[n] ?? String(n);
}

/** "::ffff:10.0.0.1" (an IPv4 client on a dual-stack socket) -> "10.0.0.1", so IPv4 filters match it. */
export function plainIp(ip: string | undefined): string {
  if (!ip) return "";
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

export function l7Verdict(status: number, backend: string | null, upstreamStatus: number): FlowVerdict {
  if (backend !== null) {
    // The gateway's own 502/503/504 (no upstream answer) means the backend was not reached.
    if (upstreamStatus === 0 && (status === 502 || status === 503 || status === 504)) return "error";
    return "forwarded";
  }
  return status >= 400 ? "dropped" : "answered";
}

function hostPort(e: FlowEndpoint): string {
  return e.ip.includes(":") ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** One human line, as `sluice observe` prints it. */
export function formatFlow(r: FlowRecord): string {
  const parts = [r.time, `${hostPort(r.src)} -> ${hostPort(r.dst)}`, r.verdict.toUpperCase(), r.app ?? r.protocol];
  if (r.source === "kernel") {
    parts.push(r.type === "new" ? "new flow" : `drop x${r.packets ?? 1}`);
    if (r.rule) parts.push(`rule=${r.rule}`);
    if (r.bytes !== undefined) parts.push(`${r.bytes}B`);
  } else if (r.http) {
    const h = r.http;
    parts.push(`${h.method} ${h.host}${h.path} ${h.status}`);
  } else {
    parts.push(r.protocol === "UDP" ? "session" : "connection");
    if (r.sni) parts.push(`sni=${r.sni}`);
  }
  if (r.source !== "kernel") {
    if (r.listener) parts.push(`listener=${r.listener}`);
    if (r.route) parts.push(`route=${r.route}`);
    if (r.backend) parts.push(`backend=${r.backend}`);
    if (r.upstream) parts.push(`upstream=${r.upstream}`);
    if (r.bytes !== undefined || r.bytesOut !== undefined) parts.push(`in=${r.bytes ?? 0}B out=${r.bytesOut ?? 0}B`);
    if (r.durationMs !== undefined) parts.push(`${r.durationMs}ms`);
  }
  return parts.join("  ");
}
