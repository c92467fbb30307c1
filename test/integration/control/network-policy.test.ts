// CiliumNetworkPolicy without the kernel: what `sluice validate` says about mistakes (file, line,
// field, what, expected), and the workers' accept-time enforcement on 127.0.0.0/8 through a real
// gateway (HTTP listener and TCPRoute listener), with a live policy edit.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, GatewayProcess, SLUICE } from "../../helpers/gateway.js";
import { backendYaml, gatewayYaml } from "../../helpers/gateway-yaml.js";

function validate(files: Record<string, string>): { code: number | null; stdout: string; stderr: string } {
  const dir = mkdtempSync(join(tmpdir(), "sluice-netpol-validate-"));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const r = spawnSync(process.execPath, [SLUICE, "validate", dir], { encoding: "utf8", timeout: 20_000 });
    return { code: r.status, stdout: r.stdout.replaceAll(dir + "/", ""), stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("validate: mistakes in a CiliumNetworkPolicy come with file:line, field, what is wrong and what is expected", () => {
  const r = validate({
    "policy.yaml": `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: edge
  namespace: web
spec:
  endpointSelector:
    matchExpressions:
      - { key: app, operator: Equals, values: [edge] }
  ingress:
    - fromCIDR:
        - 10.0.0.0/33
      fromCIDRSet:
        - cidr: 10.0.0.0/8
          except: [11.0.0.0/8]
      toPorts:
        - ports:
            - { port: "9000", endPort: 8000, protocol: TCP }
            - { port: "80", protocol: ICMP }
    - fromCIRD: [192.0.2.0/24]
  ingressDeny:
    - fromEndpoints: [{ matchLabels: { app: bad } }]
`,
  });
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const lines = r.stdout.split("\n");
  const expectLine = (line: number, field: string, what: RegExp, expected: RegExp): void => {
    const hit = lines.find((l) => l.includes(`policy.yaml:${line}:`) && l.includes(`${field}:`));
    assert.ok(hit, `no diagnostic at line ${line} for ${field} in:\n${r.stdout}`);
    assert.match(hit, /CiliumNetworkPolicy web\/edge/);
    assert.match(hit, what);
    assert.match(hit, expected);
  };
  expectLine(9, "spec.endpointSelector.matchExpressions[0].operator", /unknown operator "Equals"/, /expected: In, NotIn, Exists, DoesNotExist/);
  expectLine(12, "spec.ingress[0].fromCIDR[0]", /invalid prefix length/, /expected: a CIDR such as 10\.0\.0\.0\/8/);
  expectLine(15, "spec.ingress[0].fromCIDRSet[0].except[0]", /11\.0\.0\.0\/8 is not inside 10\.0\.0\.0\/8/, /expected: a CIDR inside 10\.0\.0\.0\/8/);
  expectLine(18, "spec.ingress[0].toPorts[0].ports[0].endPort", /does not close a range starting at 9000/, /expected: an integer 9000\.\.65535/);
  expectLine(19, "spec.ingress[0].toPorts[0].ports[1].protocol", /protocol ICMP is not supported/, /expected: TCP, UDP, SCTP or ANY/);
  expectLine(20, "spec.ingress[1].fromCIRD", /unknown field "fromCIRD"/, /expected: one of the fields Cilium defines here: .*fromCIDR/);
  // An unenforceable deny would let through what the user meant to stop: an error, not a warning.
  expectLine(22, "spec.ingressDeny[0].fromEndpoints", /^error: .*not supported at the gateway's edge/, /expected: fromCIDR/);
});

test("validate: supported-but-not-enforced parts are warnings that say what is ignored; a clean policy passes", () => {
  const r = validate({
    "policy.yaml": `apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: { name: edge }
spec:
  endpointSelector: {}
  ingress:
    - fromCIDR: [192.0.2.0/24]
      toPorts:
        - ports: [{ port: "80", protocol: TCP }]
          rules:
            kafka: [{ topic: x }]
  egress:
    - toCIDR: [0.0.0.0/0]
`,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /warning: policy\.yaml:11:\d+ CiliumClusterwideNetworkPolicy edge: spec\.ingress\[0\]\.toPorts\[0\]\.rules\.kafka: L7 kafka rules are not supported/);
  assert.match(r.stdout, /warning: policy\.yaml:12:\d+ CiliumClusterwideNetworkPolicy edge: spec\.egress: egress rules are not enforced/);
});

/** HTTP GET from a chosen local address: the status, or the socket error code. */
function getFrom(localAddress: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    let data = "";
    const t = setTimeout(() => {
      s.destroy();
      resolve("timeout");
    }, 3000);
    s.on("connect", () => s.write(`GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`));
    s.on("data", (d: Buffer) => (data += d.toString("latin1")));
    s.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve(e.code ?? "error");
    });
    s.on("close", () => {
      clearTimeout(t);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      resolve(m ? m[1]! : data ? "garbage" : "closed");
    });
  });
}

const config = (httpPort: number, tcpPort: number, echoPort: number) => `${gatewayYaml("gw", [`{name: http, protocol: HTTP, port: ${httpPort}}`, `{name: tcp, protocol: TCP, port: ${tcpPort}}`], "namespace: default, labels: {role: edge}")}---
${backendYaml("echo", echoPort, "default", "sluice.dev/demo: echo")}apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules: [{ backendRefs: [{ group: sluice.dev, kind: Backend, name: echo, port: ${echoPort} }] }]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: { name: raw, namespace: default }
spec:
  parentRefs: [{ name: gw, sectionName: tcp }]
  rules: [{ backendRefs: [{ group: sluice.dev, kind: Backend, name: echo, port: ${echoPort} }] }]
`;

const policy = (allowed: string) => `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: loopback, namespace: default }
spec:
  endpointSelector: { matchLabels: { role: edge } }
  ingress:
    - fromCIDR: [${allowed}]
`;

test("userspace enforcement: HTTP and TCPRoute listeners reset denied sources at accept; an edit flips the next connection", async () => {
  const [httpPort, tcpPort, echoPort] = [await freePort(), await freePort(), await freePort()];
  const gw = await GatewayProcess.start({
    files: { "config.yaml": config(httpPort, tcpPort, echoPort), "policy.yaml": policy("127.0.0.1/32") },
    args: ["--demo-backends"],
  });
  try {
    assert.match(gw.stderr, /network policy is enforced in userspace/);
    for (const port of [httpPort, tcpPort]) {
      assert.equal(await getFrom("127.0.0.1", port), "200", `allowed source on ${port} (${port === tcpPort ? "tcp" : "http"})`);
      const denied = await getFrom("127.0.0.2", port);
      assert.ok(["ECONNRESET", "closed"].includes(denied), `denied source on ${port} is closed at accept, got ${denied}`);
    }
    const metrics = await (await fetch(gw.admin("/metrics"))).text();
    assert.match(metrics, /sluice_policy_userspace_decisions_total\{rule="default-deny",verdict="deny",protocol="TCP"\} [1-9]/);
    assert.match(metrics, /sluice_policy_userspace_decisions_total\{rule="default\/loopback\/spec.ingress\[0\]",verdict="allow",protocol="TCP"\} [1-9]/);

    const status = await (await fetch(gw.admin("/status"))).json() as { items: Array<{ kind: string; status?: { conditions?: Array<{ type: string; reason: string }>; selectedGateways?: string[] } }> };
    const cnp = status.items.find((i) => i.kind === "CiliumNetworkPolicy");
    assert.deepEqual(cnp?.status?.selectedGateways, ["default/gw"]);
    assert.equal(cnp?.status?.conditions?.find((c) => c.type === "Enforced")?.reason, "Enforced");

    const before = (await gw.readyState())?.version ?? 0;
    gw.write("policy.yaml", policy("127.0.0.2/32"));
    await gw.waitReady(before + 1);
    assert.equal(await getFrom("127.0.0.2", httpPort), "200", "allowed after the edit");
    assert.notEqual(await getFrom("127.0.0.1", httpPort), "200", "denied after the edit");

    gw.write("policy.yaml", null);
    await gw.waitReady(before + 2);
    assert.equal(await getFrom("127.0.0.1", httpPort), "200", "no policy: everything passes again");
  } finally {
    await gw.stop();
  }
});

function request(port: number, method: string, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let data = "";
    s.on("connect", () => s.write(`${method} ${path} HTTP/1.1\r\nhost: x\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")}content-length: 0\r\nconnection: close\r\n\r\n`));
    s.on("data", (d: Buffer) => (data += d.toString("latin1")));
    s.on("error", reject);
    s.on("close", () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
  });
}

test("L7 rules.http: the proxy answers 403 to requests the rule that admitted the client does not allow", async () => {
  const [httpPort, tcpPort, echoPort] = [await freePort(), await freePort(), await freePort()];
  const l7 = `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: l7, namespace: default }
spec:
  endpointSelector: {}
  ingress:
    - fromCIDR: [127.0.0.1/32]
      toPorts:
        - ports: [{ port: "${httpPort}", protocol: TCP }]
          rules:
            http:
              - { method: GET, path: "/public/.*" }
              - { method: POST, path: /submit, headers: ["X-Token: abc"] }
    - fromCIDR: [127.0.0.3/32]
      toPorts:
        - ports: [{ port: "${httpPort}", protocol: TCP }]
`;
  const gw = await GatewayProcess.start({ files: { "config.yaml": config(httpPort, tcpPort, echoPort), "policy.yaml": l7 }, args: ["--demo-backends"] });
  try {
    assert.equal(await request(httpPort, "GET", "/public/a"), 200);
    assert.equal(await request(httpPort, "GET", "/private"), 403);
    assert.equal(await request(httpPort, "DELETE", "/public/a"), 403);
    assert.equal(await request(httpPort, "POST", "/submit", { "x-token": "abc" }), 200);
    assert.equal(await request(httpPort, "POST", "/submit", { "x-token": "nope" }), 403);
    assert.equal(await request(httpPort, "POST", "/submit?x=1", { "x-token": "abc" }), 403, "the path regex matches the whole path with its query, as Cilium's does");
    // 127.0.0.3 is admitted by a rule without HTTP rules: any request.
    assert.equal(await new Promise<string>((resolve) => {
      const s = net.connect({ host: "127.0.0.1", port: httpPort, localAddress: "127.0.0.3" });
      let data = "";
      s.on("connect", () => s.write("DELETE /anything HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"));
      s.on("data", (d: Buffer) => (data += d.toString("latin1")));
      s.on("close", () => resolve(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? "none"));
      s.on("error", () => resolve("error"));
    }), "200");
    const metrics = await (await fetch(gw.admin("/metrics"))).text();
    const rule = "default/l7/spec.ingress[0].toPorts[0]";
    assert.match(metrics, new RegExp(`sluice_policy_http_requests_total\\{rule="${rule.replace(/[[\]./]/g, "\\$&")}",verdict="allow"\\} 2`));
    assert.match(metrics, new RegExp(`sluice_policy_http_requests_total\\{rule="${rule.replace(/[[\]./]/g, "\\$&")}",verdict="deny"\\} 4`));
  } finally {
    await gw.stop();
  }
});
