// L4 metrics and access log through a real gateway (two workers, so the admin server's aggregation
// is part of it): connections by result, exact byte counts both ways, the active-connections and
// UDP-sessions gauges, and one access-log record per TCP/TLS connection and per UDP session.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tls from "node:tls";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { backendRef, gatewayYaml, l4RouteYaml } from "../../helpers/gateway-yaml.js";
import { selfSignedCert, tlsSecretYaml, type CertPair } from "../../conformance/harness/certs.js";
import { backendYaml, tcpEcho, tcpExchange, udpEcho, udpExchange, type TcpBackend, type UdpBackend } from "./backends.js";

let gw: GatewayProcess;
let a: TcpBackend;
let u: UdpBackend;
let cert: CertPair;
let tcpPort: number, brokenPort: number, tlsPort: number, udpPort: number;
let dir: string;
let logFile: string;

before(async () => {
  a = await tcpEcho("a");
  u = await udpEcho("u");
  cert = selfSignedCert(["t.example.com"]);
  [tcpPort, brokenPort, tlsPort, udpPort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  dir = mkdtempSync(join(tmpdir(), "sluice-l4-log-"));
  logFile = join(dir, "access.log");
  const yaml = [
    `${gatewayYaml("obs", [`{name: tcp, port: ${tcpPort}, protocol: TCP}`, `{name: broken, port: ${brokenPort}, protocol: TCP}`, `{name: udp, port: ${udpPort}, protocol: UDP}`, `{name: tls, port: ${tlsPort}, protocol: TLS, hostname: t.example.com, tls: {mode: Terminate, certificateRefs: [{name: cert}]}}`])}---
`,
    tlsSecretYaml("default", "cert", cert),
    "---\n",
    backendYaml("a", a.port),
    backendYaml("u", u.port),
    `${l4RouteYaml("TCPRoute", "plain", "obs", "tcp", backendRef("a"))}---
${l4RouteYaml("TCPRoute", "broken", "obs", "broken", "{name: no-such-service, port: 80}")}---
${l4RouteYaml("UDPRoute", "dns", "obs", "udp", backendRef("u"))}---
${l4RouteYaml("TLSRoute", "term", "obs", "tls", backendRef("a"), { hostnames: "t.example.com", version: "v1" })}`,
  ].join("");
  gw = await GatewayProcess.start({ files: { "obs.yaml": yaml }, workers: 2, args: ["--access-log", logFile] });
});

after(async () => {
  await gw?.stop();
  a?.server.close();
  u?.sock.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Value of the series with exactly these labels (null when absent). */
function metric(text: string, name: string, labels: Record<string, string>): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    const body = line.slice(name.length + 1, line.lastIndexOf("}"));
    const got: Record<string, string> = {};
    for (const m of body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) got[m[1]!] = m[2]!;
    if (Object.keys(got).length !== Object.keys(labels).length) continue;
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return null;
}

async function metricsText(): Promise<string> {
  const r = await fetch(gw.admin("/metrics"), { signal: AbortSignal.timeout(5000) });
  assert.equal(r.status, 200);
  return r.text();
}

/** Polls until `check` holds on the metrics (workers report asynchronously), bounded. */
async function eventuallyMetrics(check: (text: string) => string | null): Promise<string> {
  let last = "";
  for (let i = 0; i < 50; i++) {
    const text = await metricsText();
    const why = check(text);
    if (why === null) return text;
    last = why;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(last);
}

const expectValue = (text: string, name: string, labels: Record<string, string>, want: number): string | null => {
  const v = metric(text, name, labels);
  return v === want ? null : `${name}${JSON.stringify(labels)} = ${v}, want ${want}`;
};

test("TCP: connections by result and exact bytes both ways", async () => {
  for (let i = 0; i < 3; i++) assert.equal((await tcpExchange(tcpPort, Buffer.alloc(100, 1))).length, 100 + "|a|100".length);
  // Unresolved backendRef: refused, counted under its own result.
  // The gateway closes at once; with the client's byte unread, the close may arrive as a reset.
  const refused = await tcpExchange(brokenPort, Buffer.from("x")).catch((e: NodeJS.ErrnoException) => (e.code === "ECONNRESET" ? Buffer.alloc(0) : Promise.reject(e)));
  assert.equal(refused.length, 0);
  const listener = `tcp-${tcpPort}`;
  const route = "tcproute/default/plain";
  await eventuallyMetrics(
    (t) =>
      expectValue(t, "sluice_l4_connections_total", { listener, route, backend: "backend/default/a", result: "ok" }, 3) ??
      expectValue(t, "sluice_l4_bytes_total", { listener, route, direction: "in" }, 300) ??
      expectValue(t, "sluice_l4_bytes_total", { listener, route, direction: "out" }, 3 * (100 + "|a|100".length)) ??
      expectValue(t, "sluice_l4_connections_total", { listener: `tcp-${brokenPort}`, route: "tcproute/default/broken", backend: "", result: "unresolved" }, 1) ??
      expectValue(t, "sluice_l4_active_connections", { listener, route }, 0),
  );
});

test("TCP: the active-connections gauge follows an open connection", async () => {
  const listener = `tcp-${tcpPort}`;
  const route = "tcproute/default/plain";
  const s = net.connect({ port: tcpPort, host: "127.0.0.1" });
  try {
    await new Promise<void>((res, rej) => {
      s.once("error", rej);
      s.once("data", () => res());
      s.write("open");
    });
    await eventuallyMetrics((t) => expectValue(t, "sluice_l4_active_connections", { listener, route }, 1));
  } finally {
    s.destroy();
  }
  await eventuallyMetrics((t) => expectValue(t, "sluice_l4_active_connections", { listener, route }, 0));
});

test("TLS Terminate: ok and no_route counted; plaintext bytes counted", async () => {
  const s = tls.connect({ host: "127.0.0.1", port: tlsPort, servername: "t.example.com", ca: cert.certPem });
  const got = await new Promise<string>((res, rej) => {
    let out = "";
    s.once("secureConnect", () => s.end("hello"));
    s.on("data", (c: Buffer) => (out += c.toString()));
    s.on("end", () => s.end());
    s.once("close", () => res(out));
    s.once("error", rej);
  });
  assert.equal(got, "hello|a|5");
  // An SNI the listener does not serve.
  const refused = tls.connect({ host: "127.0.0.1", port: tlsPort, servername: "other.example.com", rejectUnauthorized: false });
  await new Promise<void>((res) => {
    refused.once("error", () => res());
    refused.once("close", () => res());
  });
  refused.destroy();
  const listener = `tls-${tlsPort}`;
  const route = "tlsroute/default/term";
  await eventuallyMetrics(
    (t) =>
      expectValue(t, "sluice_l4_connections_total", { listener, route, backend: "backend/default/a", result: "ok" }, 1) ??
      expectValue(t, "sluice_l4_bytes_total", { listener, route, direction: "in" }, 5) ??
      expectValue(t, "sluice_l4_bytes_total", { listener, route, direction: "out" }, "hello|a|5".length) ??
      expectValue(t, "sluice_l4_connections_total", { listener, route: "", backend: "", result: "no_route" }, 1),
  );
});

test("UDP: one session per client address, with the sessions gauge and datagram bytes", async () => {
  for (let i = 0; i < 2; i++) assert.equal((await udpExchange(udpPort, Buffer.from("q"))).toString(), "u:q");
  const listener = `udp-${udpPort}`;
  const route = "udproute/default/dns";
  await eventuallyMetrics(
    (t) =>
      expectValue(t, "sluice_l4_connections_total", { listener, route, backend: "backend/default/u", result: "ok" }, 2) ??
      // Sessions stay open until idle (60 s), so both are still counted.
      expectValue(t, "sluice_l4_udp_sessions", { listener, route }, 2) ??
      expectValue(t, "sluice_l4_bytes_total", { listener, route, direction: "in" }, 2) ??
      expectValue(t, "sluice_l4_bytes_total", { listener, route, direction: "out" }, 2 * "u:q".length),
  );
});

interface L4Record {
  protocol: string;
  listener: string;
  client: string;
  sni: string | null;
  tls: string | null;
  route: string | null;
  backend: string | null;
  upstream: string | null;
  result: string;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  time: string;
}

test("access log: one record per connection and per UDP session, with route, backend, result and bytes", async () => {
  // UDP sessions end (and are logged) when the gateway stops; stopping also flushes the log.
  await gw.stop();
  assert.ok(existsSync(logFile), "no access log file");
  const records = readFileSync(logFile, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as L4Record & { method?: string })
    .filter((r) => r.method === undefined);
  const tcpOk = records.filter((r) => r.protocol === "TCP" && r.route === "tcproute/default/plain" && r.result === "ok");
  // Three exchanges and the gauge test's connection.
  assert.equal(tcpOk.length, 4, JSON.stringify(records, null, 1));
  const exchange = tcpOk.filter((r) => r.bytesIn === 100);
  assert.equal(exchange.length, 3);
  for (const r of exchange) {
    assert.equal(r.bytesOut, 100 + "|a|100".length);
    assert.equal(r.backend, "backend/default/a");
    assert.equal(r.upstream, `127.0.0.1:${a.port}`);
    assert.equal(r.listener, `tcp-${tcpPort}`);
    assert.match(r.client, /^127\.0\.0\.1:\d+$/);
    assert.ok(r.durationMs >= 0 && !Number.isNaN(Date.parse(r.time)));
  }
  const broken = records.filter((r) => r.listener === `tcp-${brokenPort}`);
  assert.deepEqual(broken.map((r) => [r.result, r.route, r.backend]), [["unresolved", "tcproute/default/broken", null]]);
  const tlsRecs = records.filter((r) => r.protocol === "TLS").sort((x, y) => x.result.localeCompare(y.result));
  assert.deepEqual(
    tlsRecs.map((r) => [r.result, r.sni, r.tls, r.route, r.bytesIn, r.bytesOut]),
    [
      ["no_route", "other.example.com", null, null, 0, 0],
      ["ok", "t.example.com", "terminate", "tlsroute/default/term", 5, "hello|a|5".length],
    ],
  );
  const udp = records.filter((r) => r.protocol === "UDP");
  assert.equal(udp.length, 2, JSON.stringify(udp));
  for (const r of udp) {
    assert.deepEqual([r.result, r.route, r.backend, r.bytesIn, r.bytesOut], ["ok", "udproute/default/dns", "backend/default/u", 1, 3]);
  }
  assert.equal(new Set(udp.map((r) => r.client)).size, 2);
});
