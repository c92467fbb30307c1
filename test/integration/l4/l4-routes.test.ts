// TCPRoute, TLSRoute (passthrough) and UDPRoute through a real gateway with two workers, against
// backends started here on 127.0.0.1: byte-identical payloads both ways, half-close, weights, SNI
// routing with the backend's own certificate, UDP replies, and a snapshot swap that leaves an
// established connection alone.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes, X509Certificate } from "node:crypto";
import dgram from "node:dgram";
import net from "node:net";
import tls from "node:tls";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { backendRef, gatewayYaml, l4RouteYaml } from "../../helpers/gateway-yaml.js";
import { backendYaml, tcpEcho, tcpExchange, tlsEcho, udpEcho, type TcpBackend, type TlsBackend, type UdpBackend } from "./backends.js";

let gw: GatewayProcess;
let a: TcpBackend, b: TcpBackend;
let ta: TlsBackend, tb: TlsBackend;
let ua: UdpBackend;
let tcpPort: number, weightPort: number, tlsPort: number, udpPort: number;

function config(swapped: boolean): string {
  return [
    `${gatewayYaml("l4", [`{name: tcp, port: ${tcpPort}, protocol: TCP}`, `{name: weighted, port: ${weightPort}, protocol: TCP}`, `{name: udp, port: ${udpPort}, protocol: UDP}`, `{name: tls, port: ${tlsPort}, protocol: TLS, tls: {mode: Passthrough}}`])}---
`,
    backendYaml("a", a.port),
    backendYaml("b", b.port),
    backendYaml("tls-a", ta.port),
    backendYaml("tls-b", tb.port),
    backendYaml("udp-a", ua.port),
    `${l4RouteYaml("TCPRoute", "plain", "l4", "tcp", backendRef(swapped ? "b" : "a"))}---
${l4RouteYaml("TCPRoute", "weighted", "l4", "weighted", `${backendRef("a", 3)}, ${backendRef("b", 1)}`)}---
${l4RouteYaml("UDPRoute", "dns", "l4", "udp", backendRef("udp-a"))}---
${l4RouteYaml("TLSRoute", "exact", "l4", "tls", backendRef("tls-a"), { hostnames: "a.example.com" })}---
${l4RouteYaml("TLSRoute", "wildcard", "l4", "tls", backendRef("tls-b"), { hostnames: `"*.example.com"` })}`,
  ].join("");
}

before(async () => {
  [a, b] = await Promise.all([tcpEcho("a"), tcpEcho("b")]);
  [ta, tb] = await Promise.all([tlsEcho("tls-a", ["a.example.com"]), tlsEcho("tls-b", ["*.example.com"])]);
  ua = await udpEcho("udp-a");
  [tcpPort, weightPort, tlsPort, udpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  gw = await GatewayProcess.start({ files: { "l4.yaml": config(false) }, workers: 2 });
});

after(async () => {
  await gw?.stop();
  for (const s of [a?.server, b?.server, ta?.server, tb?.server]) s?.close();
  ua?.sock.close();
});

test("TCP: small and large payloads come back byte-identical, and the backend sees the half-close", async () => {
  for (const size of [1, 100, 4 * 1024 * 1024]) {
    const payload = randomBytes(size);
    const got = await tcpExchange(tcpPort, payload);
    const trailer = Buffer.from(`|a|${size}`);
    assert.equal(got.length, size + trailer.length, `size ${size}`);
    assert.ok(got.subarray(0, size).equals(payload), `payload of ${size} bytes differs`);
    assert.equal(got.subarray(size).toString(), trailer.toString());
  }
});

test("TCP: weights 3:1 pick one backend per connection, within tolerance", async () => {
  const n = 200;
  const counts = { a: 0, b: 0 };
  for (let i = 0; i < n; i++) {
    const got = (await tcpExchange(weightPort, Buffer.from("x"))).toString();
    if (got === "x|a|1") counts.a++;
    else if (got === "x|b|1") counts.b++;
    else assert.fail(`unexpected answer ${got}`);
  }
  // Expected 150/50; 4 standard deviations of a binomial(200, 0.25) is about 24.
  assert.ok(Math.abs(counts.b - 50) <= 24, JSON.stringify(counts));
});

test("TLS passthrough: SNI picks the route and the client's session ends at the backend", async () => {
  const cases = [
    { sni: "a.example.com", backend: ta },
    { sni: "other.example.com", backend: tb },
  ];
  for (const c of cases) {
    const s = tls.connect({ host: "127.0.0.1", port: tlsPort, servername: c.sni, ca: c.backend.cert.certPem });
    await new Promise<void>((res, rej) => {
      s.once("secureConnect", () => res());
      s.once("error", rej);
    });
    const seen = s.getPeerX509Certificate();
    assert.ok(seen, "no peer certificate");
    assert.equal(seen.fingerprint256, new X509Certificate(c.backend.cert.certPem).fingerprint256, `certificate for ${c.sni}`);
    const payload = randomBytes(200_000);
    const reply = new Promise<Buffer>((res) => {
      const chunks: Buffer[] = [];
      let len = 0;
      const want = payload.length + Buffer.byteLength(`${c.backend.name}:`);
      s.on("data", (d: Buffer) => {
        chunks.push(d);
        len += d.length;
        // The backend prefixes each chunk it echoes; strip the prefixes and count the payload bytes.
        const text = Buffer.concat(chunks);
        if (len >= want && stripPrefixes(text, c.backend.name).length === payload.length) res(text);
      });
    });
    s.write(payload);
    const text = await reply;
    const body = stripPrefixes(text, c.backend.name);
    assert.equal(createHash("sha256").update(body).digest("hex"), createHash("sha256").update(payload).digest("hex"));
    s.destroy();
  }
});

function stripPrefixes(buf: Buffer, name: string): Buffer {
  // Echo chunks are "<name>:<bytes>"; chunk boundaries are not visible, so count prefixes by search
  // in a copy where the prefix cannot occur by chance (random bytes rarely contain it; verified by hash).
  const prefix = Buffer.from(`${name}:`);
  const out: Buffer[] = [];
  let i = 0;
  while (i < buf.length) {
    const j = buf.indexOf(prefix, i);
    if (j === -1) {
      out.push(buf.subarray(i));
      break;
    }
    out.push(buf.subarray(i, j));
    i = j + prefix.length;
  }
  return Buffer.concat(out);
}

test("TLS passthrough: an SNI no route matches is closed without a handshake", async () => {
  const s = tls.connect({ host: "127.0.0.1", port: tlsPort, servername: "nope.example.org", rejectUnauthorized: false });
  const outcome = await new Promise<string>((res) => {
    s.once("secureConnect", () => res("handshake"));
    s.once("error", (e) => res(`error ${(e as NodeJS.ErrnoException).code ?? e.message}`));
    s.once("close", () => res("closed"));
  });
  assert.notEqual(outcome, "handshake");
  s.destroy();
});

test("UDP: every client gets its replies, byte-identical", async () => {
  for (let c = 0; c < 6; c++) {
    const sock = dgram.createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    try {
      for (const size of [1, 1200, 8000]) {
        const payload = randomBytes(size);
        const reply = await new Promise<Buffer>((res, rej) => {
          const t = setTimeout(() => rej(new Error(`no UDP reply (client ${c}, ${size} B)`)), 3000);
          sock.once("message", (m) => {
            clearTimeout(t);
            res(m);
          });
          sock.send(payload, udpPort, "127.0.0.1");
        });
        assert.ok(reply.equals(Buffer.concat([Buffer.from("udp-a:"), payload])));
      }
    } finally {
      sock.close();
    }
  }
});

test("snapshot swap: an established TCP connection keeps its backend, new ones use the new route", async () => {
  const s = net.connect({ port: tcpPort, host: "127.0.0.1", allowHalfOpen: true });
  await new Promise<void>((r) => s.once("connect", r));
  const chunks: Buffer[] = [];
  s.on("data", (c: Buffer) => chunks.push(c));
  s.write("before");
  const until = async (text: string): Promise<void> => {
    for (let i = 0; i < 100 && !Buffer.concat(chunks).toString().includes(text); i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(Buffer.concat(chunks).toString().includes(text), `waiting for ${text}`);
  };
  await until("before");
  const before = (await gw.readyState())!.version;
  gw.write("l4.yaml", config(true));
  await gw.waitReady(before + 1);
  // The new snapshot serves new connections from b...
  assert.equal((await tcpExchange(tcpPort, Buffer.from("new"))).toString(), "new|b|3");
  // ...while the old connection still talks to a.
  s.write("after");
  await until("after");
  const closed = new Promise<void>((r) => s.once("close", () => r()));
  s.on("end", () => s.end());
  s.end();
  await closed;
  assert.equal(Buffer.concat(chunks).toString(), "beforeafter|a|11");
});
