// Access log: one JSON line per request to stdout, a file, or nowhere. Lines are batched and written
// every FLUSH_MS (or when the batch is large), so the hot path never blocks on I/O. Writing once
// per event-loop turn instead cost about a third of a worker's CPU under load: one write call for
// every request or two.
import { createWriteStream, type WriteStream } from "node:fs";

export interface AccessEntry {
  time: string;
  method: string;
  authority: string;
  path: string;
  protocol: string;
  status: number;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  route: string | null;
  backend: string | null;
  upstreamStatus: number | null;
  requestId: string | null;
}

/** One L4 session (TCP/TLS connection or UDP client session), written when it ends. */
export interface L4AccessEntry {
  /** Session start. */
  time: string;
  protocol: "TCP" | "TLS" | "UDP";
  /** L4 listener, e.g. "tcp-9000". */
  listener: string;
  /** "address:port" of the client. */
  client: string;
  sni: string | null;
  /** TLS listeners: "passthrough" or "terminate". */
  tls: "passthrough" | "terminate" | null;
  route: string | null;
  backend: string | null;
  /** Endpoint connected to. */
  upstream: string | null;
  /** ok, no_route, unresolved, no_endpoint, connect_error, tls_error, bad_hello, limit. */
  result: string;
  /** Client -> backend, backend -> client (UDP: datagram payloads). */
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
}

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 100;

export class AccessLog {
  private batch: string[] = [];
  private size = 0;
  private scheduled = false;
  private readonly file: WriteStream | null;
  readonly enabled: boolean;

  constructor(target: string) {
    this.enabled = target !== "off";
    this.file = this.enabled && target !== "stdout" ? createWriteStream(target, { flags: "a" }) : null;
    this.file?.on("error", (e) => {
      process.stderr.write(`access log: ${e.message}\n`);
    });
  }

  write(e: AccessEntry | L4AccessEntry): void {
    if (!this.enabled) return;
    const line = JSON.stringify(e) + "\n";
    this.batch.push(line);
    this.size += line.length;
    if (this.size >= FLUSH_BYTES) this.flush();
    else if (!this.scheduled) {
      this.scheduled = true;
      // Unref'd: a pending flush must not keep a stopping worker alive (close() flushes).
      setTimeout(flushLog, FLUSH_MS, this).unref();
    }
  }

  flush(): void {
    this.scheduled = false;
    if (this.batch.length === 0) return;
    const data = this.batch.join("");
    this.batch = [];
    this.size = 0;
    if (this.file) this.file.write(data);
    else process.stdout.write(data);
  }

  close(): Promise<void> {
    this.flush();
    const f = this.file;
    if (!f) return Promise.resolve();
    return new Promise((resolve) => f.end(() => resolve()));
  }
}

function flushLog(log: AccessLog): void {
  log.flush();
}
