// An idle worker keeps the optimised code of its proxying path through V8's memory-reducing
// collections (src/proxy/shape-keeper.ts). The worker runs over real IPC with V8's optimisation
// traces on; traffic makes the path hot, then the worker goes quiet and gets one low-memory
// collection through its inspector (the kind V8's memory reducer runs when a process goes idle:
// it keeps no hidden class that only optimised code refers to).
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import WebSocket from "ws";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import { freePort } from "../../helpers/gateway.js";
import { cluster, forward, gateway, listener, route, snapshot } from "./helpers.js";
import { forkWorker } from "./worker-process.js";

/** Functions of the proxying path whose optimised code depends on per-request objects' maps. */
const HOT = ["FastReq", "FastRes", "PoolAttempt", "parseRequestHead", "writeHead", "upstreamHeaders", "route", "answer", "onUpstreamHeaders", "onRequest"];

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function lowMemoryCollection(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on("open", () => ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" })));
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { id?: number; error?: unknown };
      if (m.id !== 1) return;
      ws.close();
      if (m.error !== undefined) reject(new Error(JSON.stringify(m.error)));
      else resolve();
    });
    ws.on("error", reject);
  });
}

/** `total` keep-alive GETs over `conns` connections, one at a time on each. */
async function load(port: number, total: number, conns: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  let left = total;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: "127.0.0.1", port, path: "/hot", agent }, (res) => {
        res.resume();
        res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`status ${res.statusCode}`))));
      });
      req.setTimeout(10_000, () => req.destroy(new Error("client timeout")));
      req.on("error", reject);
    });
  await Promise.all(
    Array.from({ length: conns }, async () => {
      while (left-- > 0) await one();
    }),
  );
  agent.destroy();
}

test("idle worker: a memory-reducing collection leaves the proxying path's optimised code in place", async () => {
  const echo = await startEchoServer({ pod: "idle" });
  const { child, exited, waitMsg, send, output } = forkWorker(["--trace-opt", "--trace-deopt", "--inspect=127.0.0.1:0"]);
  try {
    const port = await freePort();
    assert.equal((await waitMsg()).type, "ready");
    send({ type: "init", init: { listenAddress: "127.0.0.1", accessLog: "off" } });
    send({ type: "snapshot", snapshot: snapshot([listener(port, [gateway([route({}, forward("c"))])])], [cluster("c", [echo])]) });
    assert.equal((await waitMsg()).type, "applied");
    await load(port, 12_000, 32);
    // The last request's connections close; nothing is in flight any more.
    await sleep(1_000);
    const url = /Debugger listening on (ws:\/\/\S+)/.exec(output())?.[1];
    assert.ok(url, `the worker's inspector did not say where it listens:\n${output().slice(-2000)}`);
    const mark = output().length;
    await lowMemoryCollection(url);
    await sleep(500);
    const before = output().slice(0, mark);
    const optimised = HOT.filter((f) => new RegExp(`completed (optimizing|compiling) [^\\n]*<JSFunction ${f}[ >]`).test(before));
    // Without traffic enough to optimise the path there is nothing to lose: the check would say nothing.
    assert.ok(optimised.length >= 3, `too few hot functions optimised to judge (${optimised.join(", ") || "none"})`);
    const dropped = [...output().slice(mark).matchAll(/<SharedFunctionInfo ([^>]*)>\)[^\n]*reason: weak objects/g)].map((m) => m[1]!);
    assert.deepEqual(
      HOT.filter((f) => dropped.includes(f)),
      [],
      `optimised code thrown away by the idle collection: ${dropped.join(", ")}`,
    );
    send({ type: "shutdown" });
    await exited;
  } finally {
    child.kill();
    await echo.close();
  }
});
