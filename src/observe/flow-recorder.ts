// Worker side of the flow stream: every finished HTTP request (l7) and L4 connection/session (l4)
// is written into a fixed ring of reused slots — raw fields only, no record object, no string
// building, no IPC — so the hot path pays a few field stores. Records are built from the ring only
// when someone asks:
//   flows-recent  the control process asks for the last N matching records (GET /flows)
//   flows-follow  while someone follows the stream, the ring is shipped in batches every
//                 FLUSH_MS; what the ring overwrote before it was shipped, or what could not be
//                 sent because the IPC channel was backed up, is dropped and counted, never waited for.
// In a cluster worker the module answers those control messages itself (it is loaded by every
// worker through the request log), so the worker entry needs no flow code.
import cluster from "node:cluster";
import { hostOf } from "../proxy/hostname.js";
import { compileFlowFilter, type FlowFilterSpec } from "./flow-filter.js";
import { l7Verdict, plainIp, type FlowRecord, type FlowVerdict } from "./flow-record.js";

export const RING_SIZE = 2048;
/**
 * Bytes per slot for the request's path, copied in rather than kept as a string: a string made for
 * one request and kept in the (long-lived) ring survives the young-generation collections while the
 * ring holds it and gets promoted, and at 2,048 slots that made every scavenge copy the strings of
 * ~2,000 requests (scavenges ~1.1 ms -> ~0.4 ms without). Longer paths, or ones with characters
 * above U+00FF, are kept as strings. Hosts repeat: the previous request's host string is kept when
 * the new one is equal, so only a change of host keeps a new string.
 */
const TEXT_BYTES = 256;
const FLUSH_MS = 50;
/** Batches sent and not yet taken by the IPC channel before further batches are dropped. */
const MAX_PENDING_SENDS = 4;

const KIND_L7 = 0;
const KIND_L4 = 1;

class Slot {
  constructor(
    /** Where this slot's host and path bytes start in the ring's text buffer. */
    readonly textAt: number,
  ) {}
  kind = KIND_L7;
  /** l7: performance.now() at the start; l4: Date.now() at the start. */
  startMs = 0;
  durationMs = 0;
  listener = "";
  lport = 0;
  laddr: string | undefined = "";
  raddr: string | undefined = "";
  rport: number | undefined = 0;
  method = "";
  host = "";
  /** Length of the path's bytes in the text buffer, or -1 when it is held in pathText. */
  pathLen = 0;
  pathText = "";
  version = "";
  status = 0;
  upstreamStatus = 0;
  route: string | null = null;
  /** l7: what the access log calls backend: the endpoint once connected, else the backend label. */
  backend: string | null = null;
  /** l7: the backend label ("" when the gateway answered itself). */
  label = "";
  bytesIn = 0;
  bytesOut = 0;
  protocol = "";
  app: "TLS" | undefined = undefined;
  sni: string | null = null;
  verdict: FlowVerdict = "forwarded";
}

/** What an HTTP request passes in: the port listener and the request (structural, no proxy import). */
interface ListenerLike {
  name: string;
  port: number;
  /** The Gateway listeners sharing the port, by Host ("<namespace>/<gateway>/<listener>"). */
  gateways: { lookup(host: string): { name: string } | null };
}
interface RequestLike {
  method?: string;
  url?: string;
  httpVersion: string;
  headers: Record<string, string | string[] | undefined>;
  socket: { remoteAddress?: string; remotePort?: number; localAddress?: string } | null;
}

/** An L4 session as src/l4/session-log.ts describes it (structural: no l4 import). */
export interface L4SessionLike {
  /** Date.now() at accept (UDP: first datagram). */
  start: number;
  protocol: "TCP" | "TLS" | "UDP";
  listener: string;
  /** "addr:port" or "[v6addr]:port" */
  client: string;
  sni: string | null;
  route: string | null;
  backend: string | null;
  /** The listener's port. */
  port?: number;
}

/** L4 results (src/observe/l4-metrics.ts) -> verdicts: the backend was reached, not chosen, or not reachable. */
export function l4Verdict(result: string): FlowVerdict {
  if (result === "ok") return "forwarded";
  if (result === "connect_error") return "error";
  return "dropped";
}

export class FlowRecorder {
  private readonly slots: Slot[];
  /** Path bytes of every slot (TEXT_BYTES each). */
  private readonly text: Buffer;
  /** Number of records ever written; slot = seq % size. */
  private seq = 0;
  /** First sequence number not yet shipped to followers. */
  private shipped = 0;
  private lost = 0;
  private following = false;
  private timer: NodeJS.Timeout | null = null;
  private pendingSends = 0;
  /**
   * The latest port listener per port: the Gateway listener a request came through is looked up by
   * its Host when the record is read, not on the hot path (after a config change, with the newer
   * configuration). Only the latest is kept so old snapshots are not held by the ring.
   */
  private readonly byPort = new Map<number, ListenerLike>();

  constructor(
    readonly size = RING_SIZE,
    private readonly send: ((m: unknown, done: () => void) => boolean) | null = null,
  ) {
    this.slots = Array.from({ length: size }, (_, i) => new Slot(i * TEXT_BYTES));
    this.text = Buffer.alloc(size * TEXT_BYTES);
  }

  private next(): Slot {
    const s = this.slots[this.seq % this.size]!;
    this.seq++;
    return s;
  }

  /** One finished HTTP request (hot path: field stores only). */
  http(
    L: ListenerLike,
    req: RequestLike,
    isH2: boolean,
    /** performance.now() when the request started (no clock read here). */
    start: number,
    durationMs: number,
    status: number,
    bytesOut: number,
    route: string | null,
    backend: string | null,
    upstreamStatus: number,
    label: string,
  ): void {
    const s = this.next();
    const h = req.headers;
    const sock = req.socket;
    if (this.byPort.get(L.port) !== L) this.byPort.set(L.port, L);
    s.kind = KIND_L7;
    s.startMs = start;
    s.durationMs = durationMs;
    s.listener = L.name;
    s.lport = L.port;
    s.laddr = sock?.localAddress;
    s.raddr = sock?.remoteAddress;
    s.rport = sock?.remotePort;
    s.method = req.method ?? "";
    const host = isH2 ? (h[":authority"] ?? h.host) : h.host;
    this.keepHost(s, typeof host === "string" ? host : "");
    this.keepPath(s, req.url ?? "");
    s.version = isH2 ? "HTTP/2" : httpVersion(req.httpVersion);
    s.status = status;
    s.upstreamStatus = upstreamStatus;
    s.route = route;
    s.backend = backend;
    s.label = label;
    const cl = h["content-length"];
    s.bytesIn = typeof cl === "string" ? Number(cl) || 0 : 0;
    s.bytesOut = bytesOut;
  }

  /** The host of the previous request, reused while requests carry an equal one. */
  private lastHost = "";

  private keepHost(s: Slot, host: string): void {
    if (host !== this.lastHost) this.lastHost = host;
    s.host = this.lastHost;
  }

  /** Copies the path into the slot's bytes, or keeps the string when it does not fit. */
  private keepPath(s: Slot, path: string): void {
    if (copyLatin1(path, this.text, s.textAt, s.textAt + TEXT_BYTES) < 0) {
      s.pathLen = -1;
      s.pathText = path;
      return;
    }
    s.pathLen = path.length;
    s.pathText = "";
  }

  private pathOf(s: Slot): string {
    return s.pathLen < 0 ? s.pathText : this.text.toString("latin1", s.textAt, s.textAt + s.pathLen);
  }

  /** One finished L4 connection or UDP session (the client "addr:port" is split only when read). */
  l4(f: L4SessionLike, result: string, bytesIn: number, bytesOut: number): void {
    const s = this.next();
    s.kind = KIND_L4;
    s.startMs = f.start;
    s.durationMs = Date.now() - f.start;
    s.listener = f.listener;
    s.lport = f.port ?? 0;
    s.laddr = undefined;
    s.raddr = f.client;
    s.rport = undefined;
    s.protocol = f.protocol === "UDP" ? "UDP" : "TCP";
    s.app = f.protocol === "TLS" ? "TLS" : undefined;
    s.sni = f.sni;
    s.route = f.route;
    s.backend = f.backend;
    s.verdict = l4Verdict(result);
    s.bytesIn = bytesIn;
    s.bytesOut = bytesOut;
  }

  private record(s: Slot): FlowRecord {
    // l7 start times are performance.now() values; l4 ones are Date.now().
    const startMs = s.kind === KIND_L7 ? performance.timeOrigin + s.startMs : s.startMs;
    const src = s.rport === undefined ? splitHostPort(s.raddr ?? "") : { ip: plainIp(s.raddr), port: s.rport };
    const base = {
      time: new Date(startMs).toISOString(),
      src,
      dst: { ip: plainIp(s.laddr), port: s.lport },
      listener: s.listener,
      route: s.route,
      backend: s.backend,
      bytes: s.bytesIn,
      bytesOut: s.bytesOut,
      durationMs: Math.round(s.durationMs * 1000) / 1000,
    };
    if (s.kind === KIND_L7) {
      const gw = this.byPort.get(s.lport)?.gateways.lookup(hostOf(s.host));
      const upstream = s.backend !== null && s.backend !== s.label ? s.backend : undefined;
      return {
        ...base,
        listener: gw?.name ?? s.listener,
        backend: s.label || (upstream === undefined ? s.backend : null),
        ...(upstream !== undefined ? { upstream } : {}),
        source: "l7",
        type: "request",
        verdict: l7Verdict(s.status, s.backend, s.upstreamStatus),
        protocol: "TCP",
        app: "HTTP",
        http: { method: s.method, host: s.host, path: this.pathOf(s), status: s.status, version: s.version },
      };
    }
    return {
      ...base,
      source: "l4",
      type: "session",
      verdict: s.verdict,
      protocol: s.protocol,
      ...(s.app ? { app: s.app, sni: s.sni } : {}),
    };
  }

  /** Records from sequence number `from` on (those the ring still holds), oldest first. */
  private since(from: number): { records: FlowRecord[]; overwritten: number } {
    const first = Math.max(from, this.seq - this.size);
    const records: FlowRecord[] = [];
    for (let i = first; i < this.seq; i++) records.push(this.record(this.slots[i % this.size]!));
    return { records, overwritten: first - from };
  }

  /** The last `limit` records matching the filter, oldest first. */
  recent(limit: number, filter: FlowFilterSpec = {}): FlowRecord[] {
    const match = compileFlowFilter(filter);
    const out: FlowRecord[] = [];
    const oldest = Math.max(0, this.seq - this.size);
    for (let i = this.seq - 1; i >= oldest && out.length < limit; i--) {
      const r = this.record(this.slots[i % this.size]!);
      if (match(r)) out.push(r);
    }
    return out.reverse();
  }

  /** Starts or stops shipping batches to the control process. */
  follow(on: boolean): void {
    if (on === this.following) return;
    this.following = on;
    if (on) {
      this.shipped = this.seq; // followers see what happens from now on
      this.timer = setInterval(() => this.flush(), FLUSH_MS);
      this.timer.unref();
    } else if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  /** Ships what was recorded since the last batch (called by the follow timer). */
  flush(): void {
    if (this.seq === this.shipped || !this.send) return;
    const { records, overwritten } = this.since(this.shipped);
    this.shipped = this.seq;
    this.lost += overwritten;
    if (this.pendingSends >= MAX_PENDING_SENDS) {
      this.lost += records.length;
      return;
    }
    const lost = this.lost;
    this.lost = 0;
    this.pendingSends++;
    const ok = this.send({ type: "flows", records, lost }, () => {
      this.pendingSends = Math.max(0, this.pendingSends - 1);
    });
    if (!ok) this.pendingSends = MAX_PENDING_SENDS; // backlog: skip batches until sends complete
  }
}

/** `text` into buf[at, limit) as latin1; the end, or -1 if it does not fit or is not latin1. */
function copyLatin1(text: string, buf: Buffer, at: number, limit: number): number {
  const n = text.length;
  if (at + n > limit) return -1;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 255) return -1;
    buf[at + i] = c;
  }
  return at + n;
}

/** "HTTP/1.1" without building a string per request for the usual versions. */
function httpVersion(v: string): string {
  if (v === "1.1") return "HTTP/1.1";
  if (v === "1.0") return "HTTP/1.0";
  return `HTTP/${v}`;
}

/** "1.2.3.4:5" or "[::1]:5" -> { ip, port }. */
export function splitHostPort(text: string): { ip: string; port: number } {
  const i = text.lastIndexOf(":");
  if (i < 0) return { ip: plainIp(text), port: 0 };
  const host = text.slice(0, i);
  return { ip: plainIp(host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host), port: Number(text.slice(i + 1)) || 0 };
}

function ipcSend(m: unknown, done: () => void): boolean {
  if (!process.send || !process.connected) {
    done();
    return true;
  }
  return process.send(m, undefined, {}, () => done());
}

/** The worker's recorder (each worker process has its own ring). */
export const flowRecorder = new FlowRecorder(RING_SIZE, ipcSend);

interface FlowControlMessage {
  type: string;
  on?: boolean;
  id?: number;
  limit?: number;
  filter?: FlowFilterSpec;
}

if (cluster.isWorker) {
  process.on("message", (raw: unknown) => {
    const m = raw as FlowControlMessage | null;
    if (!m || typeof m !== "object") return;
    if (m.type === "flows-follow") flowRecorder.follow(m.on === true);
    else if (m.type === "flows-recent" && typeof m.id === "number") {
      const records = flowRecorder.recent(Math.max(0, Math.min(m.limit ?? 100, RING_SIZE)), m.filter ?? {});
      ipcSend({ type: "flows-recent", id: m.id, records }, () => {});
    }
  });
}

