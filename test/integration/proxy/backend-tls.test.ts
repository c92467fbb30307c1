// BackendTLSPolicy end to end: a real gateway re-encrypts to HTTPS / gRPC-over-TLS backends signed
// by a test CA (made with openssl), verifies them against the policy's CA bundle and hostname or
// subjectAltNames, sends the hostname as SNI, and refuses (503 with the reason) when verification
// fails or the policy has no usable CA. Status per GEP-713 is read from the admin API.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import { GRPC_ECHO_SERVICE, startGrpcEchoServer, type GrpcEchoServer } from "../../../src/demo/grpc-echo.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { gatewayYaml } from "../../helpers/gateway-yaml.js";
import { WebSocket } from "ws";
import { unary } from "./grpc-helpers.js";
import { request } from "./helpers.js";

let dir: string;
let gw: GatewayProcess;
let port: number;
let tlsEcho: EchoServer;
let tlsGrpc: GrpcEchoServer;
const pem: Record<string, string> = {};

function openssl(...args: string[]): void {
  execFileSync("openssl", args, { stdio: "ignore", cwd: dir });
}

/** A CA, and a server certificate it signs for backend.test (+ a URI SAN). */
function makeCerts(): void {
  for (const ca of ["ca", "other-ca"]) {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.crt`, "-days", "2", "-subj", `/CN=${ca} test root`);
  }
  openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=backend.test");
  writeFileSync(join(dir, "san.ext"), "subjectAltName=DNS:backend.test,DNS:alt.backend.test,URI:spiffe://backend.test/echo\n");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.crt", "-days", "2", "-extfile", "san.ext");
  for (const f of ["ca.crt", "other-ca.crt", "server.crt", "server.key"]) pem[f] = readFileSync(join(dir, f), "utf8");
}

const indent = (s: string, n: number): string => s.trimEnd().split("\n").map((l) => " ".repeat(n) + l).join("\n");

function service(name: string, backendPort: number, appProtocol?: string): string {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}, namespace: default}
spec:
  ports:
  - {name: https, protocol: TCP, port: 443${appProtocol ? `, appProtocol: ${appProtocol}` : ""}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: ${name}, namespace: default, labels: {kubernetes.io/service-name: ${name}}}
addressType: IPv4
ports: [{name: https, protocol: TCP, port: ${backendPort}}]
endpoints: [{addresses: ["127.0.0.1"]}]
`;
}

function policy(name: string, target: string, validation: string, section = "https"): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: BackendTLSPolicy
metadata: {name: ${name}, namespace: default}
spec:
  targetRefs: [{group: "", kind: Service, name: ${target}${section ? `, sectionName: ${section}` : ""}}]
  validation:
${indent(validation, 4)}
`;
}

const CA_REF = `caCertificateRefs: [{group: "", kind: ConfigMap, name: test-ca}]`;

const HTTP_CASES: [path: string, svc: string][] = [
  ["/gateway_api_conformance.echo_basic.grpcecho.GrpcEcho", "h2-tls"],
  ["/ok", "ok"],
  ["/secret-ca", "secret-ca"],
  ["/wrong-ca", "wrong-ca"],
  ["/wrong-host", "wrong-host"],
  ["/san-uri", "san-uri"],
  ["/san-dns", "san-dns"],
  ["/san-mismatch", "san-mismatch"],
  ["/missing-ca", "missing-ca"],
  ["/no-policy", "no-policy"],
];

function config(): Record<string, string> {
  const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web, namespace: default}
spec:
  parentRefs: [{name: gw}]
  # A hostname of its own: an HTTPRoute and a GRPCRoute may not share hostnames on one listener.
  hostnames: [web.test]
  rules:
${HTTP_CASES.map(([path, svc]) => `  - matches: [{path: {type: PathPrefix, value: ${path}}}]\n    backendRefs: [{name: ${svc}, port: 443}]`).join("\n")}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: {name: rpc, namespace: default}
spec:
  parentRefs: [{name: gw}]
  hostnames: [grpc.test]
  rules:
  - backendRefs: [{name: grpc-tls, port: 443}]
`;
  return {
    "gateway.yaml": gatewayYaml("gw", [`{name: http, protocol: HTTP, port: ${port}}`], "namespace: default"),
    "cas.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: test-ca, namespace: default}
data:
  ca.crt: |
${indent(pem["ca.crt"]!, 4)}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other-ca, namespace: default}
data:
  ca.crt: |
${indent(pem["other-ca.crt"]!, 4)}
---
apiVersion: v1
kind: Secret
metadata: {name: test-ca-secret, namespace: default}
data:
  ca.crt: ${Buffer.from(pem["ca.crt"]!).toString("base64")}
`,
    "services.yaml": [
      ...HTTP_CASES.filter(([, s]) => s !== "no-policy" && s !== "h2-tls").map(([, s]) => service(s, tlsEcho.port)),
      service("no-policy", tlsEcho.port, "https"),
      service("grpc-tls", tlsGrpc.port),
      service("h2-tls", tlsGrpc.port, "kubernetes.io/h2c"),
    ].join("---\n"),
    "policies.yaml": [
      policy("ok", "ok", `${CA_REF}\nhostname: backend.test`),
      policy("secret-ca", "secret-ca", `caCertificateRefs: [{group: "", kind: Secret, name: test-ca-secret}]\nhostname: alt.backend.test`, ""),
      policy("wrong-ca", "wrong-ca", `caCertificateRefs: [{group: "", kind: ConfigMap, name: other-ca}]\nhostname: backend.test`),
      policy("wrong-host", "wrong-host", `${CA_REF}\nhostname: other.test`),
      policy("san-uri", "san-uri", `${CA_REF}\nhostname: unrelated.test\nsubjectAltNames: [{type: URI, uri: "spiffe://backend.test/echo"}]`),
      policy("san-dns", "san-dns", `${CA_REF}\nhostname: unrelated.test\nsubjectAltNames: [{type: URI, uri: "spiffe://nope/x"}, {type: Hostname, hostname: alt.backend.test}]`),
      policy("san-mismatch", "san-mismatch", `${CA_REF}\nhostname: backend.test\nsubjectAltNames: [{type: Hostname, hostname: nope.test}]`),
      policy("missing-ca", "missing-ca", `caCertificateRefs: [{group: "", kind: ConfigMap, name: not-there}]\nhostname: backend.test`),
      policy("grpc-tls", "grpc-tls", `${CA_REF}\nhostname: backend.test`),
      policy("h2-tls", "h2-tls", `${CA_REF}\nhostname: backend.test`),
    ].join("---\n"),
    "routes.yaml": route,
  };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sluice-btls-"));
  makeCerts();
  tlsEcho = await startEchoServer({ pod: "tls-backend", tls: { certPem: pem["server.crt"]!, keyPem: pem["server.key"]! } });
  tlsGrpc = await startGrpcEchoServer({ pod: "grpc-tls-backend", tls: { certPem: pem["server.crt"]!, keyPem: pem["server.key"]! } });
  port = await freePort();
  gw = await GatewayProcess.start({ files: config() });
});

after(async () => {
  await gw?.stop();
  await tlsEcho?.close();
  await tlsGrpc?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("verified TLS to the backend", () => {
  test("CA from a ConfigMap, hostname as SNI and identity", async () => {
    const r = await request(port, "/ok", { host: "web.test" });
    assert.equal(r.status, 200, r.body);
    const echo = r.json<EchoResponse>();
    assert.equal(echo.pod, "tls-backend");
    assert.equal(echo.sni, "backend.test");
  });

  test("a request with a body (other upstream pool) is re-encrypted too", async () => {
    const r = await request(port, "/ok/upload", { host: "web.test", method: "POST", body: "x".repeat(100_000), headers: { "content-type": "text/plain" } });
    assert.equal(r.status, 200, r.body.slice(0, 200));
    const echo = r.json<EchoResponse>();
    assert.equal(echo.body.length, 100_000);
    assert.equal(echo.sni, "backend.test");
  });

  test("CA from a Secret; a policy on the whole Service", async () => {
    const r = await request(port, "/secret-ca", { host: "web.test" });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json<EchoResponse>().sni, "alt.backend.test");
  });

  test("subjectAltNames replace the hostname check (URI SAN; Hostname SAN among several)", async () => {
    for (const path of ["/san-uri", "/san-dns"]) {
      const r = await request(port, path, { host: "web.test" });
      assert.equal(r.status, 200, `${path}: ${r.body}`);
      // The hostname is still the SNI.
      assert.equal(r.json<EchoResponse>().sni, "unrelated.test");
    }
  });

  test("gRPC over TLS to the backend (HTTP/2 via ALPN h2)", async () => {
    const r = await unary(port, "Echo", { message: "m" }, { authority: "grpc.test" });
    assert.equal(r.code, 0, r.details);
    assert.equal(r.reply?.pod, "grpc-tls-backend");
    assert.equal(r.reply?.transport, "h2+tls");
    assert.equal(r.reply?.method, `/${GRPC_ECHO_SERVICE}/Echo`);
  });
});

describe("HTTP/2 and WebSocket to TLS backends", () => {
  test("an HTTPRoute to a kubernetes.io/h2c port with a policy speaks HTTP/2 over TLS (ALPN h2)", async () => {
    // The HTTP/2 TLS backend at hand is the gRPC echo: a gRPC call routed by the HTTPRoute.
    const r = await unary(port, "Echo", { message: "via httproute" }, { authority: "web.test" });
    assert.equal(r.code, 0, r.details);
    assert.equal(r.reply?.transport, "h2+tls");
    assert.equal(r.reply?.message, "via httproute");
  });

  test("a WebSocket upgrade is carried over TLS to the backend", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ok/socket`, { headers: { host: "web.test" } });
    const reply = await new Promise<string>((resolve, reject) => {
      ws.once("open", () => ws.send("ping"));
      ws.once("message", (m) => resolve(String(m)));
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    });
    ws.close();
    assert.equal(reply, "tls-backend: ping");
    const seen = tlsEcho.requests.filter((x) => x.path === "/ok/socket").at(-1);
    assert.equal(seen?.sni, "backend.test");
  });
});

describe("refused", () => {
  test("a certificate from another CA: 503 with the verification error", async () => {
    const r = await request(port, "/wrong-ca", { host: "web.test" });
    assert.equal(r.status, 503);
    assert.match(r.body, /upstream TLS verification failed/);
    assert.match(r.body, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/);
  });

  test("a certificate without the policy's hostname: 503", async () => {
    const r = await request(port, "/wrong-host", { host: "web.test" });
    assert.equal(r.status, 503);
    assert.match(r.body, /ERR_TLS_CERT_ALTNAME_INVALID/);
  });

  test("no subjectAltName matches: 503", async () => {
    const r = await request(port, "/san-mismatch", { host: "web.test" });
    assert.equal(r.status, 503);
    assert.match(r.body, /match none of the subjectAltNames/);
  });

  test("a policy without a usable CA fails closed with the reason", async () => {
    const r = await request(port, "/missing-ca", { host: "web.test" });
    assert.equal(r.status, 503);
    assert.match(r.body, /no valid CA certificate/);
    assert.match(r.body, /not-there not found/);
  });

  test("a WebSocket upgrade to a backend whose policy has no usable CA fails closed too", async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/missing-ca/socket`, { headers: { host: "web.test" } });
    const status = await new Promise<number>((resolve, reject) => {
      ws.once("open", () => reject(new Error("the upgrade went through")));
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("error", reject);
    });
    ws.terminate();
    assert.equal(status, 503);
    assert.equal(tlsEcho.requests.filter((x) => x.path === "/missing-ca/socket").length, 0, "nothing reached the backend");
  });

  test("appProtocol https without a policy is not spoken: the route's share answers 500", async () => {
    const r = await request(port, "/no-policy", { host: "web.test" });
    assert.equal(r.status, 500);
  });
});

interface PolicyStatus {
  kind: string;
  metadata: { name: string };
  status?: { ancestors?: { ancestorRef: { name: string; kind: string }; controllerName: string; conditions: { type: string; status: string; reason: string }[] }[] };
}

describe("status", () => {
  test("ancestors per Gateway with Accepted/ResolvedRefs and the spec's reasons", async () => {
    const list = (await (await fetch(gw.admin("/status"))).json()) as { items: PolicyStatus[] };
    const conds = (name: string): string[] => {
      const p = list.items.find((o) => o.kind === "BackendTLSPolicy" && o.metadata.name === name);
      const a = p?.status?.ancestors ?? [];
      assert.equal(a.length, 1, `${name}: one ancestor`);
      assert.equal(a[0]!.ancestorRef.name, "gw");
      return a[0]!.conditions.map((c) => `${c.type}=${c.status}/${c.reason}`).sort();
    };
    assert.deepEqual(conds("ok"), ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"]);
    assert.deepEqual(conds("grpc-tls"), ["Accepted=True/Accepted", "ResolvedRefs=True/ResolvedRefs"]);
    assert.deepEqual(conds("missing-ca"), ["Accepted=False/NoValidCACertificate", "ResolvedRefs=False/InvalidCACertificateRef"]);
  });
});
