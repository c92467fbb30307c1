// The relay threads (src/l4/relay-thread.ts): io_uring ("uring") and splice(2) ("thread"), each
// through the same checks on the wire. In-process: a small proxy on 127.0.0.1 hands each accepted
// client and its backend connection to spliceSockets(..., mode). Checked: 64 MiB each way
// byte-exact while both readers are slow (send buffers, pipes and buffer rings fill:
// back-pressure, no deadlock), small messages behind a stalled reader, half-close in both
// directions, resets passed on as resets, many concurrent pairs (more than the io_uring relay has
// buffers), byte counts in onDone, and no fd left behind once pairs and thread are gone. Through a
// real `sluice run --l4-relay MODE`: a TCPRoute relays a multi-MiB exchange and the connection
// counter says which path carried it.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import net from "node:net";
import { spliceSockets, type SpliceStats } from "../../../src/l4/splice.js";
import { relayThread, stopRelayThreads } from "../../../src/l4/relay-thread.js";
import { spliceConnections } from "../../../src/ebpf/splice.js";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { backendRef, backendYaml, gatewayYaml, l4RouteYaml } from "../../helpers/gateway-yaml.js";
import { tcpExchange } from "../../helpers/tcp-echo.js";

const skip = process.platform !== "linux" ? "splice(2) is Linux only" : undefined;
const fdCount = (): number => readdirSync("/proc/self/fd").length;
const sha = (): ReturnType<typeof createHash> => createHash("sha256");

interface Proxy {
  port: number;
  done: SpliceStats[];
  close(): Promise<void>;
}

type Mode = "uring" | "thread";
const MODES: Mode[] = ["uring", "thread"];
const KIND = { uring: "uring", thread: "splice" } as const;

/** A proxy on 127.0.0.1 relaying every connection to `backendPort` through the `mode` relay. */
async function proxyTo(backendPort: number, mode: Mode): Promise<Proxy> {
  const done: SpliceStats[] = [];
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    const backend = net.connect({ port: backendPort, host: "127.0.0.1", allowHalfOpen: true });
    backend.once("error", () => client.destroy());
    backend.once("connect", () => spliceSockets(client, backend, (s) => done.push(s), mode));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, done, close: () => new Promise((r) => server.close(() => r())) };
}

async function listen(onConn: (s: net.Socket) => void): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, onConn);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** Resolves when `cond` holds, polling; rejects after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Writes `total` deterministic bytes in 1 MiB chunks honouring back-pressure and ends; reads
 * everything the peer sends, pausing 30 ms after every 4 MiB (a slow reader). Resolves, once it
 * has written everything and the peer has ended, with the hashes of what it wrote and read.
 */
function slowDuplex(s: net.Socket, total: number, seed: number): Side {
  return new Promise((resolve, reject) => {
    const out = sha();
    const inn = sha();
    let gotBytes = 0;
    let sinceNap = 0;
    let written = 0;
    const chunk = Buffer.alloc(1024 * 1024);
    const writeMore = (): void => {
      while (written < total) {
        chunk.fill((seed + written / chunk.length) % 256);
        written += chunk.length;
        out.update(chunk);
        if (!s.write(Buffer.from(chunk))) return void s.once("drain", writeMore);
      }
      s.end();
      sentHash = out.digest("hex");
      settle();
    };
    // Done when both our writes are finished and the peer has ended.
    let sentHash: string | null = null;
    let peerEnded = false;
    const settle = (): void => {
      if (sentHash !== null && peerEnded) resolve({ sent: sentHash, got: inn.digest("hex"), gotBytes });
    };
    s.on("data", (c: Buffer) => {
      inn.update(c);
      gotBytes += c.length;
      sinceNap += c.length;
      if (sinceNap >= 4 * 1024 * 1024) {
        sinceNap = 0;
        s.pause();
        setTimeout(() => s.resume(), 30);
      }
    });
    s.on("end", () => {
      peerEnded = true;
      settle();
    });
    s.on("error", reject);
    writeMore();
  });
}

after(async () => {
  await stopRelayThreads();
});

type Side = Promise<{ sent: string; got: string; gotBytes: number }>;

/**
 * One connection through the relay with `side` running on both ends (the backend with seed
 * `seeds[0]`, the client with `seeds[1]`): every byte arrives intact both ways and the relay counts
 * `total` each way. `relayed` runs once the client's side is done.
 */
async function bothWays(mode: Mode, total: number, side: (s: net.Socket, seed: number) => Side, seeds: [number, number], relayed?: () => void): Promise<void> {
  let backendSide: Side | null = null;
  const { server, port } = await listen((s) => (backendSide = side(s, seeds[0])));
  const proxy = await proxyTo(port, mode);
  try {
    const c = net.connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
    await new Promise((r) => c.once("connect", r));
    const clientSide = await side(c, seeds[1]);
    relayed?.();
    await until(() => backendSide !== null, 5_000, "the backend connection");
    const b = await backendSide!;
    assert.equal(clientSide.gotBytes, total);
    assert.equal(b.gotBytes, total);
    assert.equal(b.got, clientSide.sent, "client -> backend bytes identical");
    assert.equal(clientSide.got, b.sent, "backend -> client bytes identical");
    await until(() => proxy.done.length === 1, 5_000, "onDone");
    assert.deepEqual(proxy.done[0], { up: total, down: total });
    c.destroy();
  } finally {
    await proxy.close();
    server.close();
  }
}

/**
 * Writes `total` bytes as 1 KiB messages, yielding to the event loop after each (so the relay finds
 * many small reads), while reading nothing for the first `stallMs`: the destination's buffers fill
 * and the relay has to hold bytes back. Resolves with the hashes and counts.
 */
function smallWritesStalledReader(s: net.Socket, total: number, seed: number, stallMs: number): Side {
  return new Promise((resolve, reject) => {
    const out = sha();
    const inn = sha();
    let gotBytes = 0;
    let sentHash: string | null = null;
    let peerEnded = false;
    const settle = (): void => {
      if (sentHash !== null && peerEnded) resolve({ sent: sentHash, got: inn.digest("hex"), gotBytes });
    };
    s.pause();
    setTimeout(() => s.resume(), stallMs);
    s.on("data", (c: Buffer) => {
      inn.update(c);
      gotBytes += c.length;
    });
    s.on("end", () => {
      peerEnded = true;
      settle();
    });
    s.on("error", reject);
    void (async () => {
      for (let i = 0; i * 1024 < total; i++) {
        const m = Buffer.alloc(1024, (seed + i) % 256);
        m.writeUInt32LE(i, 0);
        out.update(m);
        if (!s.write(m)) await new Promise((r) => s.once("drain", r));
        else await new Promise((r) => setImmediate(r));
      }
      s.end();
      sentHash = out.digest("hex");
      settle();
    })();
  });
}

for (const mode of MODES) {
  test(`${mode}: 64 MiB each way, both readers slow: byte-exact, counted, no deadlock`, { skip, timeout: 60_000 }, async () => {
    const total = 64 * 1024 * 1024;
    const before = spliceConnections[mode];
    await bothWays(mode, total, (s, seed) => slowDuplex(s, total, seed), [7, 3], () => assert.equal(spliceConnections[mode] - before, 1, `relayed by the ${mode} relay`));
  });

  test(`${mode}: small messages behind a stalled reader: held back, then delivered in order, both ways`, { skip, timeout: 60_000 }, async () => {
    const total = 12 * 1024 * 1024;
    await bothWays(mode, total, (s, seed) => smallWritesStalledReader(s, total, seed, 700), [11, 5]);
  });

  test(`${mode}: half-close both ways: each side still reads after the other's FIN`, { skip, timeout: 20_000 }, async () => {
    // Backend: after the client's FIN, answers with what it got, then ends.
    const { server, port } = await listen((s) => {
      const got: Buffer[] = [];
      s.on("data", (d: Buffer) => got.push(d));
      s.on("end", () => setTimeout(() => s.end(Buffer.concat([Buffer.from("got:"), ...got])), 30));
    });
    // Backend that ends first, then still reads the client's late bytes and reports them on its own socket close.
    let lateSeen = "";
    const late = await listen((s) => {
      s.end("bye");
      s.on("data", (d: Buffer) => (lateSeen += d.toString()));
    });
    const proxy = await proxyTo(port, mode);
    const proxyLate = await proxyTo(late.port, mode);
    try {
      // Client ends first.
      const c = net.connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
      const reply = await new Promise<string>((resolve, reject) => {
        let r = "";
        c.on("data", (d: Buffer) => (r += d.toString()));
        c.on("end", () => resolve(r));
        c.on("error", reject);
        c.on("connect", () => c.end("hello"));
      });
      assert.equal(reply, "got:hello");
      // Backend ends first; the client writes after the FIN reached it.
      const c2 = net.connect({ port: proxyLate.port, host: "127.0.0.1", allowHalfOpen: true });
      const first = await new Promise<string>((resolve, reject) => {
        let r = "";
        c2.on("data", (d: Buffer) => (r += d.toString()));
        c2.on("end", () => resolve(r));
        c2.on("error", reject);
      });
      assert.equal(first, "bye");
      c2.end("late words");
      await until(() => lateSeen === "late words", 5_000, "the late bytes at the backend");
      await until(() => proxy.done.length === 1 && proxyLate.done.length === 1, 5_000, "both pairs done");
      assert.deepEqual(proxy.done[0], { up: 5, down: 9 });
      assert.deepEqual(proxyLate.done[0], { up: 10, down: 3 });
    } finally {
      await proxy.close();
      await proxyLate.close();
      server.close();
      late.server.close();
    }
  });

  test(`${mode}: a reset on either side reaches the other as a reset`, { skip, timeout: 20_000 }, async () => {
    const backends: net.Socket[] = [];
    const { server, port } = await listen((s) => {
      backends.push(s);
      s.on("error", () => {});
    });
    const proxy = await proxyTo(port, mode);
    const outcome = (s: net.Socket): Promise<string> =>
      new Promise((resolve) => {
        s.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "error"));
        s.on("close", () => resolve("close"));
      });
    try {
      // Client resets.
      const c = net.connect({ port: proxy.port, host: "127.0.0.1" });
      await new Promise((r) => c.once("connect", r));
      await until(() => backends.length === 1, 5_000, "backend connection 1");
      const b1 = outcome(backends[0]!);
      c.resetAndDestroy();
      assert.equal(await b1, "ECONNRESET");
      // Backend resets.
      const c2 = net.connect({ port: proxy.port, host: "127.0.0.1" });
      const c2Outcome = outcome(c2);
      await new Promise((r) => c2.once("connect", r));
      await until(() => backends.length === 2, 5_000, "backend connection 2");
      backends[1]!.resetAndDestroy();
      assert.equal(await c2Outcome, "ECONNRESET");
      await until(() => proxy.done.length === 2, 5_000, "both pairs reported");
    } finally {
      await proxy.close();
      server.close();
    }
  });

  test(`${mode}: 200 concurrent pairs, then every fd is closed again (pairs and thread)`, { skip, timeout: 30_000 }, async () => {
    await stopRelayThreads();
    // The io_uring relay gets 4 buffers for 200 pairs: most recvs find none and wait for one.
    process.env.SLUICE_URING_BUFFERS = "4";
    const base = fdCount();
    const { server, port } = await listen((s) => s.pipe(s));
    const proxy = await proxyTo(port, mode);
    const before = spliceConnections[mode];
    try {
      const n = 200;
      const one = (i: number): Promise<boolean> =>
        new Promise((resolve) => {
          const payload = randomBytes(1000 + i * 97);
          const c = net.connect({ port: proxy.port, host: "127.0.0.1", allowHalfOpen: true });
          const got: Buffer[] = [];
          c.on("data", (d: Buffer) => got.push(d));
          c.on("end", () => {
            c.destroy();
            resolve(Buffer.concat(got).equals(payload));
          });
          c.on("error", () => resolve(false));
          c.on("connect", () => c.end(payload));
        });
      const results = await Promise.all(Array.from({ length: n }, (_, i) => one(i)));
      assert.equal(results.filter(Boolean).length, n, "every pair echoed its payload intact");
      assert.equal(spliceConnections[mode] - before, n, `every pair went through the ${mode} relay`);
      await until(() => proxy.done.length === n, 10_000, "every pair reported");
      assert.equal(relayThread(KIND[mode])?.active, 0);
    } finally {
      await proxy.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
    await stopRelayThreads();
    delete process.env.SLUICE_URING_BUFFERS;
    // The listeners are closed and the thread stopped: back to the baseline (a little slack for
    // fds node itself may open or close meanwhile, far below the 1,200 the pairs held).
    await until(() => fdCount() <= base + 2, 5_000, `fds back to ${base} (now ${fdCount()})`);
  });

  test(`sluice run --l4-relay ${mode}: a TCPRoute relays 8 MiB both ways, counts it as ${mode}, and stops cleanly with a connection open`, { skip, timeout: 60_000 }, async () => {
    const { server, port: echoPort } = await listen((s) => s.pipe(s));
    const listenPort = await freePort();
    const yaml = `${gatewayYaml("l4", [`{name: tcp, port: ${listenPort}, protocol: TCP}`])}---
${backendYaml("echo", echoPort)}${l4RouteYaml("TCPRoute", "plain", "l4", "tcp", backendRef("echo"))}`;
    const gw = await GatewayProcess.start({ files: { "l4.yaml": yaml }, workers: 1, args: ["--l4-relay", mode] });
    try {
      const payload = randomBytes(8 * 1024 * 1024);
      const got = await tcpExchange(listenPort, payload, 30_000);
      assert.ok(got.equals(payload), `echoed ${got.length} of ${payload.length} bytes intact`);
      const metrics = await (await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`)).text();
      assert.match(metrics, new RegExp(`sluice_l4_splice_connections_total\\{path="${mode}"\\} [1-9]`));
      // A connection still open at stop: the worker drains it (the client ends it meanwhile), and the
      // relay thread does not keep the worker from exiting.
      const open = net.connect({ port: listenPort, host: "127.0.0.1", allowHalfOpen: true });
      const openEnded = new Promise<void>((resolve) => open.on("end", () => resolve()));
      await new Promise<void>((resolve) => {
        open.once("data", () => resolve());
        open.on("connect", () => open.write("x"));
      });
      const t0 = Date.now();
      const stopped = gw.stop();
      await new Promise((r) => setTimeout(r, 300));
      open.end();
      await openEnded;
      assert.equal(await stopped, 0, "the gateway stopped cleanly");
      assert.ok(Date.now() - t0 < 8_000, `stop took ${Date.now() - t0} ms`);
      open.destroy();
    } finally {
      await gw.stop();
      server.close();
    }
  });
}
