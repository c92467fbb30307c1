// The hangup watcher that stands in for the event loop on spliced sockets: data arriving on a
// watched socket does not fire it, a FIN or a reset does (once), and a cancelled watch stays quiet.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { hangupWatch } from "../../../src/l4/hangup-watch.js";
import { socketFd } from "../../../src/ebpf/splice.js";

const skip = process.platform !== "linux" ? "epoll is Linux only" : undefined;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A connected pair on 127.0.0.1: `server` is the accepted side, not read by the event loop. */
async function pair(): Promise<{ client: net.Socket; server: net.Socket; close: () => void }> {
  const listener = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const accepted = new Promise<net.Socket>((r) => listener.once("connection", r));
  const client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: "127.0.0.1", allowHalfOpen: true });
  client.on("error", () => {});
  await new Promise((r) => client.once("connect", r));
  const server = await accepted;
  server.on("error", () => {});
  return {
    client,
    server,
    close: () => {
      client.destroy();
      server.destroy();
      listener.close();
    },
  };
}

/** Resolves with the time the callback fired, or null after `ms`. */
function firedWithin(register: (cb: () => void) => void, ms: number): Promise<number | null> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(null), ms);
    register(() => {
      clearTimeout(t);
      resolve(Date.now());
    });
  });
}

test("data does not fire the watch; the peer's FIN does, once", { skip, timeout: 10_000 }, async () => {
  const w = hangupWatch();
  assert.ok(w, "the watcher is available on Linux");
  const p = await pair();
  try {
    let calls = 0;
    let fired: () => void = () => {};
    const firstCall = new Promise<void>((r) => (fired = r));
    const cancel = w.watch(socketFd(p.server)!, () => {
      calls++;
      fired();
    });
    assert.ok(cancel, "the fd registers");
    for (let i = 0; i < 20; i++) {
      p.client.write(Buffer.alloc(1000, i));
      await sleep(5);
    }
    await sleep(100);
    assert.equal(calls, 0, "20 writes of data woke nobody");
    const t0 = Date.now();
    p.client.end();
    await Promise.race([firstCall, sleep(3_000)]);
    assert.equal(calls, 1, "the FIN fired the watch");
    assert.ok(Date.now() - t0 < 3_000);
    // The bytes are all still there for whoever reads next, then the EOF.
    let got = 0;
    p.server.on("data", (c: Buffer) => (got += c.length));
    p.server.resume();
    await new Promise((r) => p.server.once("end", r));
    assert.equal(got, 20_000);
    await sleep(50);
    assert.equal(calls, 1, "fired once");
  } finally {
    p.close();
  }
});

test("a reset fires the watch; a cancelled watch does not fire", { skip, timeout: 10_000 }, async () => {
  const w = hangupWatch()!;
  const reset = await pair();
  const cancelled = await pair();
  try {
    const onReset = firedWithin((cb) => assert.ok(w.watch(socketFd(reset.server)!, cb)), 3_000);
    const cancel = w.watch(socketFd(cancelled.server)!, () => assert.fail("a cancelled watch fired"));
    assert.ok(cancel);
    cancel();
    reset.client.resetAndDestroy();
    cancelled.client.end();
    assert.notEqual(await onReset, null, "the reset fired the watch");
    await sleep(200);
  } finally {
    reset.close();
    cancelled.close();
  }
});
