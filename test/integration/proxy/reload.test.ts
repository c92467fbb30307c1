// Snapshot swaps: in-flight requests finish on the snapshot they started with, listeners come and go
// gracefully, bind failures are reported, a bad snapshot changes nothing.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, cluster, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

let a: EchoServer;
let b: EchoServer;
let dp: ProxyDataPlane;

before(async () => {
  a = await startEchoServer({ pod: "a" });
  b = await startEchoServer({ pod: "b" });
  dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1", drainMs: 3000 });
});

after(async () => {
  await dp.close();
  agent.destroy();
  await Promise.all([a.close(), b.close()]);
});

const cl = (): ReturnType<typeof cluster>[] => [cluster("a", [a]), cluster("b", [b])];

test("in-flight slow requests complete on their old route while a new snapshot serves new ones", async () => {
  const port = await freePort();
  await dp.apply(snapshot([listener(port, [gateway([route({}, forward("a"))])])], cl()));
  const seenBefore = a.requests.filter((r) => r.path === "/slow").length;
  const slow = Array.from({ length: 5 }, () => request(port, "/slow", { headers: { "x-echo-delay-ms": "300" } }));
  // Swap only once all five are in flight at the backend (a fixed sleep raced on a loaded machine).
  for (let i = 0; i < 200 && a.requests.filter((r) => r.path === "/slow").length < seenBefore + 5; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(a.requests.filter((r) => r.path === "/slow").length, seenBefore + 5, "the slow requests reached backend a");
  // The new snapshot drops cluster "a" entirely: its pool must stay until the slow requests end.
  await dp.apply(snapshot([listener(port, [gateway([route({}, forward("b"))])])], [cluster("b", [b])]));
  const fresh = await request(port, "/new");
  assert.equal(fresh.json<EchoResponse>().pod, "b");
  for (const r of await Promise.all(slow)) {
    assert.equal(r.status, 200);
    assert.equal(r.json<EchoResponse>().pod, "a");
  }
});

test("no request fails while snapshots are swapped under a request loop", async () => {
  const port = await freePort();
  await dp.apply(snapshot([listener(port, [gateway([route({}, forward("a"))])])], cl()));
  let failures = 0;
  let done = 0;
  let stop = false;
  const loops = Array.from({ length: 4 }, async () => {
    while (!stop && done < 2000) {
      const r = await request(port, "/x").catch(() => null);
      if (!r || r.status !== 200) failures++;
      done++;
    }
  });
  for (let i = 0; i < 20; i++) {
    await dp.apply(snapshot([listener(port, [gateway([route({}, forward(i % 2 ? "a" : "b"))])])], cl()));
    await new Promise((r) => setTimeout(r, 10));
  }
  stop = true;
  await Promise.all(loops);
  assert.ok(done > 20);
  assert.equal(failures, 0);
});

test("listeners are added and removed; a removed one lets its in-flight request finish", async () => {
  const p1 = await freePort();
  const p2 = await freePort();
  await dp.apply(snapshot([listener(p1, [gateway([route({}, forward("a"))])])], cl()));
  let res = await dp.apply(snapshot([listener(p1, [gateway([route({}, forward("a"))])]), listener(p2, [gateway([route({}, forward("b"))])])], cl()));
  assert.deepEqual(res.map((r) => r.ok), [true, true]);
  assert.equal((await request(p2, "/")).json<EchoResponse>().pod, "b");
  const inflight = request(p1, "/slow", { headers: { "x-echo-delay-ms": "300" } });
  await new Promise((r) => setTimeout(r, 50));
  res = await dp.apply(snapshot([listener(p2, [gateway([route({}, forward("b"))])])], cl()));
  assert.deepEqual(res.map((r) => r.port), [p2]);
  const r = await inflight;
  assert.equal(r.status, 200);
  // The removed port no longer accepts connections.
  await assert.rejects(
    new Promise<void>((resolve, reject) => {
      const s = net.connect(p1, "127.0.0.1", () => {
        s.destroy();
        resolve();
      });
      s.on("error", reject);
    }),
  );
});

test("an unchanged port keeps its connections across a swap", async () => {
  const port = await freePort();
  await dp.apply(snapshot([listener(port, [gateway([route({}, forward("a"))])])], cl()));
  const s = net.connect(port, "127.0.0.1");
  await new Promise((r) => s.once("connect", r));
  const ask = (): Promise<string> =>
    new Promise((resolve) => {
      let buf = "";
      const on = (d: Buffer): void => {
        buf += d.toString();
        if (buf.includes("}")) {
          s.off("data", on);
          resolve(buf);
        }
      };
      s.on("data", on);
      s.write("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    });
  assert.match(await ask(), /"pod":"a"/);
  await dp.apply(snapshot([listener(port, [gateway([route({}, forward("b"))])])], cl()));
  assert.match(await ask(), /"pod":"b"/);
  s.destroy();
});

test("bind failure is reported without throwing; a bad snapshot keeps the previous one", async () => {
  const blocker = net.createServer();
  const taken = await new Promise<number>((r) => blocker.listen(0, "127.0.0.1", () => r((blocker.address() as net.AddressInfo).port)));
  const good = await freePort();
  const res = await dp.apply(snapshot([listener(good, [gateway([route({}, forward("a"))])]), listener(taken, [gateway([route({}, forward("a"))])])], cl()));
  const byPort = new Map(res.map((r) => [r.port, r]));
  assert.equal(byPort.get(good)!.ok, true);
  assert.equal(byPort.get(taken)!.ok, false);
  assert.match(byPort.get(taken)!.error ?? "", /EADDRINUSE/);
  await assert.rejects(dp.apply(snapshot([listener(good, [gateway([route({}, forward("missing-cluster"))])])], cl())));
  assert.equal((await request(good, "/")).json<EchoResponse>().pod, "a");
  await new Promise((r) => blocker.close(r));
});

test("HTTP -> HTTPS on the same port re-creates the listener", async () => {
  const port = await freePort();
  await dp.apply(snapshot([listener(port, [gateway([route({}, forward("a"))])])], cl()));
  assert.equal((await request(port, "/")).status, 200);
  const { execFileSync } = await import("node:child_process");
  const { mkdtempSync, readFileSync, rmSync } = await import("node:fs");
  const { tmpdir } = await import("node:os");
  const { join } = await import("node:path");
  const dir = mkdtempSync(join(tmpdir(), "sluice-tls-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(dir, "k"), "-out", join(dir, "c"), "-days", "1", "-subj", "/CN=example.com"], { stdio: "ignore" });
  const cert = { name: "default/c", certPem: readFileSync(join(dir, "c"), "utf8"), keyPem: readFileSync(join(dir, "k"), "utf8") };
  rmSync(dir, { recursive: true, force: true });
  const res = await dp.apply(
    snapshot(
      [listener(port, [{ name: "default/gw/https", hostname: null, tls: { certificates: [cert] }, virtualHosts: [{ hostname: "*", routes: [route({}, forward("b"))] }] }], "HTTPS")],
      cl(),
    ),
  );
  assert.equal(res[0]!.ok, true, JSON.stringify(res));
  const https = await import("node:https");
  const body = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: "127.0.0.1", port, path: "/", rejectUnauthorized: false, agent: false, headers: { host: "example.com" } }, (r) => {
        let d = "";
        r.on("data", (c) => (d += c));
        r.on("end", () => resolve(d));
      })
      .on("error", reject);
  });
  assert.equal(JSON.parse(body).pod, "b");
});
