// TCP load generator for the L4 comparison (wrk speaks only HTTP). One Node process, one thread,
// pinned by the caller with taskset, against an echo server behind the proxy under test:
//
//   pingpong  N connections, each sends one message of --size bytes and waits for all of it to
//             come back before sending the next: round trips/s and their latency (p50, p99).
//   stream    N connections, each keeps writing --size byte buffers (with back-pressure) and reads
//             the echo: bytes/s that made the round trip through the proxy (each byte crosses the
//             proxy twice, once each way).
//
// Prints one JSON object (TcpLoadResult in bench/lib/l4.ts) on stdout. Why Node and not a C tool:
// it needs nothing installed, runs the same on every machine the bench runs on, and the "direct to
// backend" row of the same run shows where it (with the echo server, on the same core) tops out.
//
// Usage: node --import tsx bench/tcp-load.ts --port P --mode pingpong|stream --conns N --seconds S --size B
import net from "node:net";
import { parseArgs } from "node:util";

const { values: o } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    mode: { type: "string", default: "pingpong" },
    conns: { type: "string", default: "64" },
    seconds: { type: "string", default: "5" },
    size: { type: "string", default: "64" },
  },
});

const port = Number(o.port);
const conns = Number(o.conns);
const seconds = Number(o.seconds);
const size = Number(o.size);
const mode = o.mode;
if (!Number.isInteger(port) || port < 1 || !(conns >= 1) || !(seconds > 0) || !(size >= 1) || (mode !== "pingpong" && mode !== "stream")) {
  console.error("usage: tcp-load.ts --port P [--mode pingpong|stream] [--conns N] [--seconds S] [--size B]");
  process.exit(2);
}

/** Round-trip latency histogram: 1 us buckets up to 1 s, one overflow bucket. */
const MAX_US = 1_000_000;
const hist = new Uint32Array(MAX_US + 1);
const payload = Buffer.alloc(size, 0x61);

let measuring = false;
let stopped = false;
let ops = 0;
let bytes = 0;
let errors = 0;
const sockets: net.Socket[] = [];

function percentileUs(p: number): number {
  if (ops === 0) return NaN;
  const want = Math.ceil(ops * p);
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= want) return i;
  }
  return MAX_US;
}

function open(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, o.host!);
    s.setNoDelay(true);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

/** One message in flight per connection; the next goes when all `size` bytes came back. */
function pingpong(s: net.Socket): void {
  let got = 0;
  let sentAt = 0;
  const send = (): void => {
    sentAt = performance.now();
    s.write(payload);
  };
  s.on("data", (d: Buffer) => {
    got += d.length;
    if (got < size) return;
    got -= size;
    if (measuring) {
      const us = Math.round((performance.now() - sentAt) * 1000);
      hist[us < MAX_US ? us : MAX_US]!++;
      ops++;
    }
    if (!stopped) send();
  });
  send();
}

/** Writes as fast as the socket takes them; counts the echoed bytes. */
function stream(s: net.Socket): void {
  s.on("data", (d: Buffer) => {
    if (measuring) bytes += d.length;
  });
  // Writes until the socket buffers are full, but at most a few buffers per event-loop turn: when
  // the kernel takes every write at once (a spliced path can), an unbounded loop would starve the
  // reads and the timer that ends the run.
  const pump = (): void => {
    for (let i = 0; i < 8; i++) {
      if (stopped) return;
      if (!s.write(payload)) return; // "drain" calls pump again
    }
    setImmediate(pump);
  };
  s.on("drain", pump);
  pump();
}

async function main(): Promise<void> {
  for (let i = 0; i < conns; i++) {
    const s = await open();
    s.on("error", () => {
      if (!stopped) errors++;
    });
    s.on("close", () => {
      if (!stopped) errors++;
    });
    sockets.push(s);
  }
  for (const s of sockets) (mode === "pingpong" ? pingpong : stream)(s);
  // A short settle (connections started, buffers filled) before the window opens.
  await new Promise((r) => setTimeout(r, Math.min(500, seconds * 100)));
  const t0 = performance.now();
  measuring = true;
  await new Promise((r) => setTimeout(r, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  stopped = true;
  for (const s of sockets) s.destroy();
  const out = {
    mode,
    conns,
    size,
    seconds: elapsed,
    ops,
    opsPerSec: ops / elapsed,
    bytesPerSec: mode === "stream" ? bytes / elapsed : (ops * size) / elapsed,
    p50us: mode === "pingpong" ? percentileUs(0.5) : NaN,
    p99us: mode === "pingpong" ? percentileUs(0.99) : NaN,
    errors,
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
