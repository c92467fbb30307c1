// The raw upstream pool reads every plain TCP connection into one shared buffer and reuses it only
// when the handler that got the previous read's body no longer references it. Bodies must come out
// byte-identical whether the handler copies chunks, keeps them, or (through a real gateway) writes
// them to clients that read slowly, so that writes queue and hold their chunks.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml } from "../../helpers/gateway-yaml.js";
import { H1Pool, type H1Handler } from "../../../src/proxy/upstream/h1-pool.js";

/** Deterministic bytes for body n (a different pattern per n, so mixed-up chunks show). */
function bodyFor(n: number, size: number): Buffer {
  const b = Buffer.allocUnsafe(size);
  let x = (n * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

const SIZES = [1, 700, 64 * 1024, 64 * 1024 + 17, 131_072 + 5, 300_000, 1_000_000];
const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

let origin: http.Server;
let originPort: number;

before(async () => {
  // /n/size answers bodyFor(n, size); /chunked/n/size sends it chunked in uneven pieces.
  origin = http.createServer((req, res) => {
    const parts = req.url!.split("/");
    const chunked = parts[1] === "chunked";
    const n = Number(parts[chunked ? 2 : 1]);
    const size = Number(parts[chunked ? 3 : 2]);
    const body = bodyFor(n, size);
    res.setHeader("x-sha", sha(body));
    if (!chunked) {
      res.setHeader("content-length", body.length);
      res.end(body);
      return;
    }
    let off = 0;
    let step = 1;
    while (off < body.length) {
      const len = Math.min(body.length - off, step * 997);
      res.write(body.subarray(off, off + len));
      off += len;
      step = (step % 90) + 7;
    }
    res.end();
  });
  origin.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", () => r()));
  originPort = (origin.address() as net.AddressInfo).port;
});

after(async () => {
  await new Promise((r) => origin.close(r));
});

function poolGet(pool: H1Pool, path: string, keep: boolean): Promise<{ body: Buffer; sha: string }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let expected = "";
    const h: H1Handler = {
      onHeaders: (_s, headers) => {
        for (let i = 0; i < headers.length; i += 2) if (headers[i] === "x-sha") expected = headers[i + 1]!;
        return true;
      },
      // keep: hold on to the views themselves (and say so); else copy them at once.
      onData: (c) => (chunks.push(keep ? c : Buffer.from(c)), true),
      flushChunks: () => keep,
      onComplete: () => resolve({ body: Buffer.concat(chunks), sha: expected }),
      onError: reject,
    };
    pool.request(h, "GET", path, ["host", "origin"]);
  });
}

test("pool: concurrent bodies are intact whether handlers copy their chunks or keep them", async () => {
  const pool = new H1Pool({ host: "127.0.0.1", port: originPort, socketPath: null, label: "origin" }, 16);
  try {
    const asks: Promise<void>[] = [];
    for (let i = 0; i < 48; i++) {
      const size = SIZES[i % SIZES.length]!;
      const path = i % 3 === 0 ? `/chunked/${i}/${size}` : `/${i}/${size}`;
      asks.push(
        poolGet(pool, path, i % 2 === 0).then((r) => {
          assert.equal(r.body.length, size, `${path}: length`);
          assert.equal(sha(r.body), r.sha, `${path}: bytes`);
        }),
      );
    }
    await Promise.all(asks);
  } finally {
    pool.destroy();
  }
});

/** GET through the gateway on a fresh connection; a slow reader pauses before reading the body. */
function gatewayGet(port: number, path: string, slowMs: number): Promise<{ body: Buffer; sha: string; status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      if (slowMs > 0) {
        res.pause();
        setTimeout(() => res.resume(), slowMs);
      }
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ body: Buffer.concat(chunks), sha: String(res.headers["x-sha"]), status: res.statusCode ?? 0 }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.setTimeout(20_000, () => req.destroy(new Error(`timeout ${path}`)));
  });
}

test("gateway: many clients, some reading slowly, each get their own body byte for byte", async () => {
  const port = await new Promise<number>((r) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
  const gw = await GatewayProcess.start({
    files: {
      "gw.yaml": `${gatewayYaml("gw", [`{name: http, protocol: HTTP, port: ${port}}`], "namespace: default")}---
${backendYaml("origin", originPort)}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: all, namespace: default}
spec:
  parentRefs: [{name: gw}]
  rules: [{backendRefs: [{group: sluice.dev, kind: Backend, name: origin, port: ${originPort}}]}]
`,
    },
  });
  try {
    for (let round = 0; round < 2; round++) {
      const asks: Promise<void>[] = [];
      for (let i = 0; i < 40; i++) {
        const n = round * 100 + i;
        const size = SIZES[i % SIZES.length]!;
        const path = i % 4 === 0 ? `/chunked/${n}/${size}` : `/${n}/${size}`;
        asks.push(
          gatewayGet(port, path, i % 3 === 0 ? 150 : 0).then((r) => {
            assert.equal(r.status, 200, path);
            assert.equal(r.body.length, size, `${path}: length`);
            assert.equal(sha(r.body), r.sha, `${path}: bytes`);
          }),
        );
      }
      await Promise.all(asks);
    }
  } finally {
    await gw.stop();
  }
});
