// Request limits on the wire: a real gateway, a backend on 127.0.0.1 that counts what reaches it.
// Defaults without any policy (60 KiB head, 100 fields, 16 KiB target), a ClientTrafficPolicy that
// lowers them on one listener and raises them on another (also two listeners sharing a port), a
// BackendTrafficPolicy requestBuffer.limit on one rule: Content-Length over it -> 413 before the
// backend sees anything, a chunked body growing past it -> 413. A live edit changes a limit.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { gatewayYaml } from "../../helpers/gateway-yaml.js";
import { httpCall, type HttpResult } from "../../helpers/http.js";
import { BACKEND } from "../control/fixtures.js";

interface Seen {
  path: string;
  host: string;
  /** The test's x-t* header fields that arrived. */
  fields: number;
  bodyBytes: number;
}

let backend: http.Server;
let backendPort: number;
const seen: Seen[] = [];
let gw: GatewayProcess;
let pDefault: number;
let pStrict: number;
let pLoose: number;
let pShared: number;

const GATEWAY = (): string => `${gatewayYaml("gw", [`{name: default, protocol: HTTP, port: ${pDefault}}`, `{name: strict, protocol: HTTP, port: ${pStrict}}`, `{name: loose, protocol: HTTP, port: ${pLoose}}`, `{name: shared-strict, protocol: HTTP, port: ${pShared}, hostname: strict.example}`, `{name: shared-open, protocol: HTTP, port: ${pShared}, hostname: open.example}`], "namespace: default")}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: app, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - name: upload
      matches: [{ path: { type: PathPrefix, value: /upload } }]
      backendRefs: [{ group: sluice.dev, kind: Backend, name: be, port: 1 }]
    - matches: [{ path: { type: PathPrefix, value: / } }]
      backendRefs: [{ group: sluice.dev, kind: Backend, name: be, port: 1 }]
---
${BACKEND("be", backendPort)}`;

const POLICIES = (strictHeaderBytes: number): string => `apiVersion: sluice.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: strict, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: strict }]
  headers: { maxRequestHeaderBytes: ${strictHeaderBytes}, maxHeadersCount: 10 }
  path: { maxLength: 256 }
---
apiVersion: sluice.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: loose, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: loose }]
  headers: { maxRequestHeaderBytes: 262144, maxHeadersCount: 300 }
  path: { maxLength: 65536 }
---
apiVersion: sluice.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: shared-strict, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw, sectionName: shared-strict }]
  headers: { maxRequestHeaderBytes: 4096, maxHeadersCount: 20 }
---
apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: upload-limit, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: upload }]
  requestBuffer: { limit: 1Ki }
`;

type Res = HttpResult;

const call = (port: number, path: string, opts: { headers?: Record<string, string>; host?: string; body?: string | Buffer; chunks?: Buffer[] } = {}): Promise<Res> =>
  httpCall(port, path, {
    method: opts.body !== undefined || opts.chunks ? "POST" : "GET",
    headers: { host: opts.host ?? "app.example", ...(opts.headers ?? {}) },
    setHost: false,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    ...(opts.chunks ? { chunks: opts.chunks } : {}),
  });

/** `n` extra header fields (the client adds host and connection). */
function fields(n: number): Record<string, string> {
  const h: Record<string, string> = {};
  for (let i = 0; i < n; i++) h[`x-t${i}`] = "v";
  return h;
}

const big = (bytes: number): Record<string, string> => ({ "x-big": "a".repeat(bytes) });

/**
 * The status line of the answer to a request head written whole on a raw connection. Used where
 * the gateway answers before reading everything the client sent (an oversized head): the client
 * library could meet the connection's close while still writing and never read the answer.
 */
function rawStatus(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const lines = Object.entries({ host: "app.example", ...headers }).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    const sock = net.connect(port, "127.0.0.1", () => sock.write(`GET ${path} HTTP/1.1\r\n${lines}connection: close\r\n\r\n`));
    let buf = "";
    const done = (): void => {
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(buf);
      if (m) resolve(Number(m[1]));
      else reject(new Error(`no status line in ${JSON.stringify(buf.slice(0, 80))}`));
    };
    sock.on("data", (d: Buffer) => (buf += d.toString()));
    sock.on("close", done);
    // A reset after the answer arrived still leaves the answer.
    sock.on("error", () => {});
    sock.setTimeout(5000, () => sock.destroy());
  });
}

before(async () => {
  backend = http.createServer({ maxHeaderSize: 1024 * 1024 }, (req, res) => {
    let bytes = 0;
    req.on("data", (c: Buffer) => (bytes += c.length));
    req.on("end", () => {
      const extra = req.rawHeaders.filter((h, i) => i % 2 === 0 && h.startsWith("x-t")).length;
      seen.push({ path: req.url ?? "", host: req.headers.host ?? "", fields: extra, bodyBytes: bytes });
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ bytes }));
    });
  });
  backend.maxHeadersCount = 0;
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  backendPort = (backend.address() as net.AddressInfo).port;
  [pDefault, pStrict, pLoose, pShared] = [await freePort(), await freePort(), await freePort(), await freePort()];
  gw = await GatewayProcess.start({ files: { "gw.yaml": GATEWAY(), "policies.yaml": POLICIES(2048) }, workers: 1 });
});

after(async () => {
  await gw?.stop();
  await new Promise((r) => backend?.close(r));
});

function seenCount(pathPrefix: string): number {
  return seen.filter((s) => s.path.startsWith(pathPrefix)).length;
}

test("defaults without a policy: 60 KiB head, 100 header fields, 16 KiB target", async () => {
  assert.equal((await call(pDefault, "/ok", { headers: big(50 * 1024) })).status, 200);
  // Just over 60 KiB, so the gateway has read the whole head when it answers.
  assert.equal(await rawStatus(pDefault, "/head-too-big", big(61 * 1024)), 431);
  assert.equal((await call(pDefault, "/fields-ok", { headers: fields(95) })).status, 200);
  const many = await call(pDefault, "/too-many", { headers: fields(101) });
  assert.equal(many.status, 431);
  assert.match(many.body, /too many header fields/);
  assert.equal((await call(pDefault, `/long-ok?q=${"x".repeat(15 * 1024)}`)).status, 200);
  const long = await call(pDefault, `/too-long?q=${"x".repeat(17 * 1024)}`);
  assert.equal(long.status, 414);
  assert.equal(seenCount("/head-too-big") + seenCount("/too-many") + seenCount("/too-long"), 0, "the backend saw a refused request");
  assert.equal(seenCount("/ok") + seenCount("/fields-ok") + seenCount("/long-ok"), 3);
});

test("a policy lowers the limits on its listener only", async () => {
  assert.equal((await call(pStrict, "/s-ok", { headers: big(1000) })).status, 200);
  assert.equal((await call(pStrict, "/s-big", { headers: big(3000) })).status, 431);
  assert.equal((await call(pStrict, "/s-many", { headers: fields(12) })).status, 431);
  assert.equal((await call(pStrict, `/s-long?q=${"x".repeat(300)}`)).status, 414);
  // The same requests on the listener without a policy pass.
  assert.equal((await call(pDefault, "/d-big", { headers: big(3000) })).status, 200);
  assert.equal((await call(pDefault, "/d-many", { headers: fields(12) })).status, 200);
  assert.equal(seenCount("/s-big") + seenCount("/s-many") + seenCount("/s-long"), 0);
});

test("a policy raises the limits on its listener", async () => {
  const r = await call(pLoose, "/l-big", { headers: big(100 * 1024) });
  assert.equal(r.status, 200);
  assert.equal((await call(pLoose, "/l-many", { headers: fields(150) })).status, 200);
  assert.equal((await call(pLoose, `/l-long?q=${"x".repeat(30 * 1024)}`)).status, 200);
  assert.equal(seen.find((s) => s.path === "/l-many")?.fields, 150, "every header field reached the backend");
  assert.equal(await rawStatus(pLoose, "/l-too-big", big(257 * 1024)), 431);
});

test("listeners sharing a port keep their own limits", async () => {
  assert.equal((await call(pShared, "/sh", { host: "strict.example", headers: big(6000) })).status, 431);
  assert.equal((await call(pShared, "/sh", { host: "strict.example", headers: fields(25) })).status, 431);
  assert.equal((await call(pShared, "/sh-open", { host: "open.example", headers: big(6000) })).status, 200);
  assert.equal((await call(pShared, "/sh-open", { host: "open.example", headers: fields(25) })).status, 200);
  assert.equal((await call(pShared, "/sh-small", { host: "strict.example", headers: big(1000) })).status, 200);
  assert.equal(seen.filter((s) => s.host === "strict.example" && s.path === "/sh").length, 0);
});

test("Content-Length over the route's body limit: 413 before anything reaches the backend", async () => {
  assert.equal((await call(pDefault, "/upload/small", { body: Buffer.alloc(1000, 1) })).status, 200);
  assert.equal(seen.find((s) => s.path === "/upload/small")?.bodyBytes, 1000);
  // Headers only: the body is never sent, so the answer cannot come from having read it.
  const res = await new Promise<Pick<Res, "status" | "body" | "headers">>((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port: pDefault, path: "/upload/big", method: "POST", headers: { host: "app.example", "content-length": "5000000" }, agent: false, setHost: false }, (r) => {
      let body = "";
      r.on("data", (c: Buffer) => (body += c.toString()));
      r.on("end", () => resolve({ status: r.statusCode ?? 0, body, headers: r.headers }));
    });
    req.setTimeout(5000, () => req.destroy(new Error("no answer before the body")));
    req.on("error", reject);
    req.flushHeaders();
  });
  assert.equal(res.status, 413);
  assert.match(res.body, /request body too large/);
  assert.equal(res.headers.connection, "close");
  assert.equal(seenCount("/upload/big"), 0);
  // Other rules have no body limit.
  assert.equal((await call(pDefault, "/free", { body: Buffer.alloc(100_000, 1) })).status, 200);
});

test("a chunked body that grows past the limit is cut and answered 413", async () => {
  const ok = await call(pDefault, "/upload/chunked-ok", { chunks: [Buffer.alloc(500, 1), Buffer.alloc(500, 2)] });
  assert.equal(ok.status, 200);
  assert.equal(seen.find((s) => s.path === "/upload/chunked-ok")?.bodyBytes, 1000);
  const r = await call(pDefault, "/upload/chunked-big", { chunks: [Buffer.alloc(600, 1), Buffer.alloc(600, 2), Buffer.alloc(600, 3)] });
  assert.equal(r.status, 413);
  assert.match(r.body, /over 1024 bytes/);
  // The backend never got a whole request (its upstream request was aborted mid-body).
  await new Promise((res) => setTimeout(res, 200));
  assert.equal(seenCount("/upload/chunked-big"), 0);
});

test("a live policy edit changes the limit without a restart", async () => {
  assert.equal((await call(pStrict, "/edit", { headers: big(3000) })).status, 431);
  const before = (await gw.readyState())?.version ?? 0;
  gw.write("policies.yaml", POLICIES(8192));
  await gw.waitReady(before + 1, 5000);
  assert.equal((await call(pStrict, "/edit2", { headers: big(3000) })).status, 200);
  assert.equal((await call(pStrict, "/edit3", { headers: big(9000) })).status, 431);
});

test("HTTP/2 (h2c) and Upgrade requests are held to the same limits", async () => {
  const session = http2.connect(`http://127.0.0.1:${pDefault}`);
  try {
    const h2status = (headers: Record<string, string>, path = "/h2"): Promise<number> =>
      new Promise((resolve, reject) => {
        const s = session.request({ ":path": path, ":authority": "app.example", ...headers });
        s.on("response", (h) => resolve(Number(h[":status"])));
        s.on("error", reject);
        s.resume();
        s.end();
      });
    assert.equal(await h2status(fields(10)), 200);
    assert.equal(await h2status(fields(101)), 431);
    // Just over 60 KiB in several fields (node's HTTP/2 layer refuses lists past about 64 KiB itself).
    const parts: Record<string, string> = {};
    for (let i = 0; i < 4; i++) parts[`x-big${i}`] = "a".repeat(62 * 256);
    assert.equal(await h2status(parts), 431);
    assert.equal(await h2status(big(50 * 1024)), 200);
    assert.equal(await h2status({}, `/h2-long?q=${"x".repeat(17 * 1024)}`), 414);
  } finally {
    session.close();
  }
  const head = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(pDefault, "127.0.0.1", () => {
      const extra = Object.keys(fields(101)).map((k) => `${k}: v\r\n`).join("");
      sock.write(`GET /ws HTTP/1.1\r\nhost: app.example\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
    });
    let buf = "";
    sock.on("data", (d: Buffer) => (buf += d.toString()));
    sock.on("close", () => resolve(buf));
    sock.on("error", reject);
    sock.setTimeout(5000, () => sock.destroy(new Error("timeout")));
  });
  assert.match(head, /^HTTP\/1\.1 431 /);
  assert.equal(seenCount("/h2") + seenCount("/ws"), 2, "only the requests within the limits reached the backend");
});
