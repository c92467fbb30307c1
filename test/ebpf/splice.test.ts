// Kernel splicing for L4 routes. Through a real `sluice run`: a TCPRoute carries small and
// several-MiB payloads byte-identical both ways, a client that shuts its write side still reads
// the backend's reply, TLS passthrough (ClientHello bytes replayed before the splice) still
// completes, and the splice counters move; with --no-splice they do not. In-process: many short
// connections whose FIN races the splice setup all arrive intact, and a spliced pair (not polled
// for data) still learns of the backend's FIN or reset, and ends at once when the client vanished while
// the backend's last bytes were being spliced to it.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import { existsSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { fileURLToPath } from "node:url";
import { GatewayProcess, freePort } from "../helpers/gateway.js";
import { backendRef, backendYaml, gatewayYaml, l4RouteYaml } from "../helpers/gateway-yaml.js";
import { selfSignedCert, type CertPair } from "../conformance/harness/certs.js";
import { spliceSockets } from "../../src/l4/splice.js";
import { kernelSplice, spliceConnections } from "../../src/ebpf/splice.js";

function skipReason(): string | undefined {
  if (process.platform !== "linux") return "kernel splicing needs Linux";
  if (process.getuid?.() !== 0) return "kernel splicing tests need root (CI runs them as root)";
  if (!existsSync(fileURLToPath(new URL("../../dist/bpf/splice.bpf.o", import.meta.url)))) return "dist/bpf/splice.bpf.o is missing: run `npm run build` with clang";
  return undefined;
}
const skip = skipReason();

const sha = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

/**
 * Echoes every byte; after the client's FIN waits a moment (so the reply surely follows the
 * half-close), then sends "|<bytes seen>|<sha256 of them>|" and `tail`, and ends.
 */
async function echoBackend(tail: (seen: number) => Buffer): Promise<{ server: net.Server; port: number }> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    const hash = createHash("sha256");
    let seen = 0;
    s.on("data", (c: Buffer) => {
      seen += c.length;
      hash.update(c);
      s.write(c);
    });
    s.on("end", () => setTimeout(() => s.end(Buffer.concat([Buffer.from(`|${seen}|${hash.digest("hex")}|`), tail(seen)])), 20));
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** The backend's big reply after the FIN: deterministic bytes, so the client can check them. */
const tailFor = (seen: number): Buffer => (seen >= 1024 * 1024 ? Buffer.alloc(3 * 1024 * 1024 + 17, seen % 251) : Buffer.from("bye"));

/**
 * Sends `payload`, waits until it has all come back (so the relay is surely set up before the FIN),
 * shuts the write side, then reads the backend's reply to the end.
 */
function exchange(port: number, payload: Buffer, timeoutMs = 20_000): Promise<{ echoed: Buffer; after: Buffer }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let got = 0;
    let shut = false;
    const t = setTimeout(() => {
      s.destroy();
      reject(new Error(`timeout: ${got} of ${payload.length} bytes echoed, shut=${shut}`));
    }, timeoutMs);
    s.on("data", (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (!shut && got >= payload.length) {
        shut = true;
        s.end();
      }
    });
    s.on("error", (e) => {
      clearTimeout(t);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(t);
      const all = Buffer.concat(chunks);
      resolve({ echoed: all.subarray(0, payload.length), after: all.subarray(payload.length) });
    });
    s.write(payload);
  });
}

function checkExchange(r: { echoed: Buffer; after: Buffer }, payload: Buffer): void {
  assert.ok(r.echoed.equals(payload), `the ${payload.length}-byte echo differs`);
  const head = `|${payload.length}|${sha(payload)}|`;
  assert.equal(r.after.subarray(0, head.length).toString(), head, "the backend saw every byte, in order, then the FIN");
  assert.ok(r.after.subarray(head.length).equals(tailFor(payload.length)), "the reply after the half-close arrived intact");
}

async function metrics(gw: GatewayProcess): Promise<Record<string, number>> {
  const text = await (await fetch(gw.admin("/metrics"))).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(sluice_l4_splice_\w+(?:\{[^}]*\})?) (\S+)$/gm)) out[m[1]!] = Number(m[2]);
  return out;
}

let tcpBackend: { server: net.Server; port: number };
let tlsServer: tls.Server;
let tlsPort: number;
let cert: CertPair;

before(async () => {
  if (skip) return;
  tcpBackend = await echoBackend(tailFor);
  cert = selfSignedCert(["splice.example.com"], "splice-backend");
  tlsServer = tls.createServer({ cert: cert.certPem, key: cert.keyPem }, (s) => {
    s.on("data", (c: Buffer) => s.write(c));
    s.on("end", () => s.end("|tls-bye"));
    s.on("error", () => s.destroy());
  });
  await new Promise<void>((r) => tlsServer.listen(0, "127.0.0.1", r));
  tlsPort = (tlsServer.address() as net.AddressInfo).port;
});

after(() => {
  tcpBackend?.server.close();
  tlsServer?.close();
});

function config(tcpPort: number, passPort: number): string {
  return `${gatewayYaml("l4", [`{name: tcp, port: ${tcpPort}, protocol: TCP}`, `{name: tls, port: ${passPort}, protocol: TLS, tls: {mode: Passthrough}}`])}---
${backendYaml("echo", tcpBackend.port)}${backendYaml("tls-echo", tlsPort)}${l4RouteYaml("TCPRoute", "plain", "l4", "tcp", backendRef("echo"))}---
${l4RouteYaml("TLSRoute", "pass", "l4", "tls", backendRef("tls-echo"), { hostnames: "splice.example.com" })}`;
}

async function startGateway(args: string[] = ["--l4-relay", "kernel"]): Promise<{ gw: GatewayProcess; tcpPort: number; passPort: number }> {
  const [tcpPort, passPort] = await Promise.all([freePort(), freePort()]);
  const gw = await GatewayProcess.start({ files: { "l4.yaml": config(tcpPort, passPort) }, workers: 1, args });
  return { gw, tcpPort, passPort };
}

test("TCPRoute: small and multi-MiB payloads byte-identical both ways through the kernel splice, half-close included", { skip }, async () => {
  const { gw, tcpPort } = await startGateway();
  try {
    const sizes = [1, 100, 8 * 1024 * 1024];
    for (const size of sizes) {
      const payload = randomBytes(size);
      checkExchange(await exchange(tcpPort, payload), payload);
    }
    const m = await metrics(gw);
    assert.equal(m['sluice_l4_splice_connections_total{path="kernel"}'], sizes.length, JSON.stringify(m));
    assert.equal(m['sluice_l4_splice_connections_total{path="userspace"}'], 0);
    // Both directions of every connection went through the kernel: echoes, the reply and its tail.
    const total = sizes.reduce((n, s) => n + 2 * s + `|${s}|`.length + 65 + tailFor(s).length, 0);
    assert.equal(m.sluice_l4_splice_bytes_total, total, JSON.stringify(m));
    assert.ok(m['sluice_l4_splice_skbs_total{result="redirected"}']! > 0);
    assert.equal(m['sluice_l4_splice_skbs_total{result="failed"}'], 0);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test("TLS passthrough is spliced after the ClientHello is replayed: the handshake reaches the backend and data flows", { skip }, async () => {
  const { gw, passPort } = await startGateway();
  try {
    const payload = randomBytes(2 * 1024 * 1024);
    const { echoed, rest, peerCert } = await new Promise<{ echoed: Buffer; rest: string; peerCert: string }>((resolve, reject) => {
      // Half-open: after its close_notify + FIN the client still reads the backend's last words.
      const raw = net.connect({ port: passPort, host: "127.0.0.1", allowHalfOpen: true });
      const s = tls.connect({ socket: raw, servername: "splice.example.com", ca: cert.certPem });
      const chunks: Buffer[] = [];
      let got = 0;
      let pem = "";
      const t = setTimeout(() => {
        s.destroy();
        reject(new Error(`timeout after ${got} bytes`));
      }, 20_000);
      s.on("secureConnect", () => {
        pem = new X509Certificate(s.getPeerCertificate(true).raw).toString();
        s.write(payload);
      });
      s.on("data", (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (got >= payload.length) s.end();
      });
      s.on("error", (e) => {
        clearTimeout(t);
        reject(e);
      });
      s.on("close", () => {
        clearTimeout(t);
        const all = Buffer.concat(chunks);
        resolve({ echoed: all.subarray(0, payload.length), rest: all.subarray(payload.length).toString(), peerCert: pem });
      });
    });
    assert.equal(peerCert, new X509Certificate(cert.certPem).toString(), "the certificate is the backend's own");
    assert.ok(echoed.equals(payload), "the 2 MiB echo differs");
    assert.equal(rest, "|tls-bye");
    const m = await metrics(gw);
    assert.equal(m['sluice_l4_splice_connections_total{path="kernel"}'], 1, JSON.stringify(m));
    // Records carry the payload plus TLS framing: more than the payload, both ways.
    assert.ok(m.sluice_l4_splice_bytes_total! > 2 * payload.length, JSON.stringify(m));
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test("--no-splice: the same exchange relays in userspace and the kernel counters stay 0", { skip }, async () => {
  const { gw, tcpPort } = await startGateway(["--no-splice"]);
  try {
    assert.match(gw.stderr, /kernel splicing for L4 routes is off \(--no-splice\)/);
    const payload = randomBytes(1024 * 1024);
    checkExchange(await exchange(tcpPort, payload), payload);
    const m = await metrics(gw);
    assert.equal(m['sluice_l4_splice_connections_total{path="kernel"}'], 0);
    assert.equal(m['sluice_l4_splice_connections_total{path="userspace"}'], 1);
    assert.equal(m.sluice_l4_splice_bytes_total, 0);
  } finally {
    assert.equal(await gw.stop(), 0);
  }
});

test("in-process: FINs racing the splice setup lose no byte and keep the order", { skip }, async () => {
  const k = kernelSplice();
  assert.ok(k, "the splice program loads as root");
  const backend = await echoBackend(() => Buffer.from("bye"));
  const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => {
    const b = net.connect({ host: "127.0.0.1", port: backend.port, allowHalfOpen: true });
    b.once("connect", () => {
      // spliceSockets decides when each socket is read (the kernel path reads only on FIN or error).
      spliceSockets(c, b, undefined, "kernel");
    });
    b.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as net.AddressInfo).port;
  const kernelBefore = spliceConnections.kernel;
  try {
    // The FIN follows the data after 0-3 ms: sometimes before the splice (userspace pipe), mostly
    // during or after it (kernel). Either way every byte arrives.
    for (let i = 0; i < 120; i++) {
      const payload = randomBytes(1 + (i % 7) * 1000);
      const got = await new Promise<Buffer>((resolve, reject) => {
        const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
        const chunks: Buffer[] = [];
        const t = setTimeout(() => {
          s.destroy();
          reject(new Error(`connection ${i} stalled`));
        }, 5000);
        s.on("data", (c: Buffer) => chunks.push(c));
        s.on("error", reject);
        s.on("close", () => {
          clearTimeout(t);
          resolve(Buffer.concat(chunks));
        });
        s.write(payload);
        setTimeout(() => s.end(), i % 4);
      });
      const want = Buffer.concat([payload, Buffer.from(`|${payload.length}|${sha(payload)}|bye`)]);
      assert.ok(got.equals(want), `connection ${i}: ${got.length} bytes, expected ${want.length}`);
    }
    assert.ok(spliceConnections.kernel - kernelBefore > 0, "some connections were spliced in the kernel");
    assert.equal(k.counters().failedSkbs, 0);
  } finally {
    proxy.close();
    backend.server.close();
  }
});

test("in-process: a spliced pair still notices resets and idle FINs (the sockets are not polled for data)", { skip }, async () => {
  const k = kernelSplice();
  assert.ok(k, "the splice program loads as root");
  // The backend echoes, then resets the connection on "rst" or half-closes on "fin".
  const backend = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {});
    s.on("data", (c: Buffer) => {
      s.write(c);
      if (c.includes("rst")) setTimeout(() => s.resetAndDestroy(), 20);
      if (c.includes("fin")) setTimeout(() => s.end(), 20);
    });
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => {
    const b = net.connect({ host: "127.0.0.1", port: (backend.address() as net.AddressInfo).port, allowHalfOpen: true });
    b.once("connect", () => spliceSockets(c, b, undefined, "kernel"));
    b.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as net.AddressInfo).port;
  const kernelBefore = spliceConnections.kernel;
  /** Sends `word` once the splice surely is up (after a first echo); returns what came back and how it ended. */
  const run = (word: string): Promise<{ got: string; ended: boolean; ms: number }> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      let got = "";
      let ended = false;
      let t0 = 0;
      const timer = setTimeout(() => reject(new Error(`${word}: the client never learnt the backend went away`)), 5_000);
      s.on("error", () => {});
      s.on("end", () => {
        ended = true;
        s.end();
      });
      s.on("data", (c: Buffer) => {
        got += c.toString();
        if (got === "hello") {
          t0 = Date.now();
          setTimeout(() => s.write(word), 50);
        }
      });
      s.on("close", () => {
        clearTimeout(timer);
        resolve({ got, ended, ms: Date.now() - t0 });
      });
      s.write("hello");
    });
  try {
    const fin = await run("fin");
    assert.equal(fin.got, "hellofin");
    assert.ok(fin.ended, "the backend's FIN reached the client as a FIN");
    const rst = await run("rst");
    assert.ok(rst.got.startsWith("hello"));
    // The relay destroys both sockets on a reset: the client's connection closes, promptly.
    assert.ok(rst.ms < 2_000, `closed after ${rst.ms} ms`);
    assert.equal(spliceConnections.kernel - kernelBefore, 2, "both connections were spliced");
  } finally {
    proxy.close();
    backend.close();
  }
});

test("in-process: a client gone while the backend's last bytes are spliced to it ends the pair at once", { skip }, async () => {
  const k = kernelSplice();
  assert.ok(k, "the splice program loads as root");
  // After the client's FIN the backend sends 4 MiB and its own FIN; the client has closed by then, so
  // its kernel answers with a reset that node never reads (the proxy's socket already had its EOF).
  const backend = await echoBackend(() => Buffer.alloc(4 * 1024 * 1024, 7));
  const done: Array<{ ms: number }> = [];
  let t0 = 0;
  const proxy = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (c) => {
    const b = net.connect({ host: "127.0.0.1", port: backend.port, allowHalfOpen: true });
    b.once("connect", () => spliceSockets(c, b, () => done.push({ ms: Date.now() - t0 }), "kernel"));
    b.on("error", () => c.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
  const port = (proxy.address() as net.AddressInfo).port;
  const kernelBefore = spliceConnections.kernel;
  try {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ port, host: "127.0.0.1", allowHalfOpen: true });
      s.on("error", reject);
      s.once("data", () => {
        // The echo came back: the pair is spliced. Half-close, then go away without reading.
        t0 = Date.now();
        s.end();
        s.destroy();
        resolve();
      });
      s.write("hello");
    });
    const deadline = Date.now() + 8_000;
    while (done.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(spliceConnections.kernel - kernelBefore, 1, "the connection was spliced");
    assert.equal(done.length, 1, "the pair never finished");
    // Waiting for the bytes to drain would hold it for the 10 s stall limit (and a gateway stop for its drain timeout).
    assert.ok(done[0]!.ms < 2_000, `the pair ended ${done[0]!.ms} ms after the client went away`);
  } finally {
    proxy.close();
    backend.server.close();
  }
});
