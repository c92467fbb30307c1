// IR -> kernel L4 LB model: effective weights, what is left to the proxy and why, VIP families.
import { test } from "node:test";
import assert from "node:assert/strict";
import { lbModel } from "../../../src/ebpf/l4-lb-model.js";
import type { IrL4Listener, IrServiceVip } from "../../../src/ir/types.js";

const ep = (address: string, port: number, weight = 1) => ({ address, port, weight });

const tcp = (port: number, backends: IrL4Listener["routes"][number]["backends"], protocol: IrL4Listener["protocol"] = "TCP"): IrL4Listener => ({
  name: `${protocol.toLowerCase()}-${port}`,
  port,
  protocol,
  routes: [{ name: `r${port}`, hostname: null, backends }],
});

test("listener backends: backend weight x endpoint share, unresolved share refused", () => {
  const m = lbModel(
    {
      l4Listeners: [
        tcp(9000, [
          { name: "backend/default/a", weight: 3, endpoints: [ep("10.0.0.1", 80, 1), ep("10.0.0.2", 80, 2)] },
          { name: "backend/default/b", weight: 1, endpoints: [ep("10.0.0.3", 81)] },
          { name: null, weight: 2, endpoints: [] },
          { name: "backend/default/empty", weight: 1, endpoints: [] },
        ]),
      ],
    },
    ["127.0.0.1", "::1"],
  );
  assert.equal(m.services.length, 1);
  const s = m.services[0]!;
  assert.equal(s.name, "listener/tcp-9000");
  assert.equal(s.proto, "TCP");
  assert.deepEqual(
    s.backends.map((b) => [b.address, b.port, b.weight]),
    [["10.0.0.1", 80, 1], ["10.0.0.2", 80, 2], ["10.0.0.3", 81, 1]],
  );
  assert.equal(s.refuseWeight, 3);
  // IPv4 backends: only the IPv4 gateway address can be a VIP (connect4 cannot hand out IPv6).
  assert.deepEqual(s.vips, [{ family: 4, address: "127.0.0.1", port: 9000 }]);
});

test("left to the proxy: TLS passthrough, unix sockets, hostnames, mixed families, no route", () => {
  const m = lbModel(
    {
      l4Listeners: [
        tcp(1, [{ name: "x", weight: 1, endpoints: [ep("10.0.0.1", 80)] }], "TLS"),
        tcp(2, [{ name: "x", weight: 1, endpoints: [{ path: "/tmp/s", weight: 1 }] }]),
        tcp(3, [{ name: "x", weight: 1, endpoints: [ep("db.example.com", 80)] }]),
        tcp(4, [{ name: "x", weight: 1, endpoints: [ep("10.0.0.1", 80), ep("fd00::1", 80)] }]),
        { name: "udp-5", port: 5, protocol: "UDP", routes: [] },
        tcp(6, [{ name: "x", weight: 1, endpoints: [ep("fd00::1", 80)] }]),
      ],
    },
    ["127.0.0.1"],
  );
  assert.deepEqual(m.services, []);
  const reasons = Object.fromEntries(m.skipped.map((s) => [s.name, s.reason]));
  assert.match(reasons["listener/tls-1"]!, /SNI/);
  assert.match(reasons["listener/tcp-2"]!, /unix socket/);
  assert.match(reasons["listener/tcp-3"]!, /not an IP address/);
  assert.match(reasons["listener/tcp-4"]!, /mix IPv4 and IPv6/);
  assert.match(reasons["listener/udp-5"]!, /no route/);
  assert.match(reasons["listener/tcp-6"]!, /IPv6/);
});

test("service VIPs: cluster IPs of the endpoints' family; a VIP claimed twice keeps its first owner", () => {
  const vip = (name: string, addresses: string[], port: number, protocol: "TCP" | "UDP", endpoints: IrServiceVip["endpoints"]): IrServiceVip => ({ name, addresses, port, protocol, endpoints });
  const m = lbModel(
    {
      l4Listeners: [{ ...tcp(53, [{ name: "x", weight: 1, endpoints: [ep("10.0.0.9", 53)] }]), protocol: "UDP", name: "udp-53" }],
      serviceVips: [
        vip("service/default/dns/53/tcp", ["10.96.0.10", "fd00::10"], 53, "TCP", [ep("10.0.0.5", 5353), ep("10.0.0.6", 5353)]),
        vip("service/default/dns/53/udp", ["10.96.0.10"], 53, "UDP", [ep("10.0.0.5", 5353)]),
        vip("service/default/same/53/udp", ["127.0.0.1"], 53, "UDP", [ep("10.0.0.7", 53)]),
      ],
    },
    ["127.0.0.1"],
  );
  assert.deepEqual(
    m.services.map((s) => [s.name, s.proto, s.vips.map((v) => `${v.address}:${v.port}`), s.backends.length]),
    [
      ["listener/udp-53", "UDP", ["127.0.0.1:53"], 1],
      ["service/default/dns/53/tcp", "TCP", ["10.96.0.10:53"], 2],
      ["service/default/dns/53/udp", "UDP", ["10.96.0.10:53"], 1],
    ],
  );
  assert.match(m.skipped.find((s) => s.name === "service/default/same/53/udp")!.reason, /already served by listener\/udp-53/);
});

test("translate() lists Services with a cluster IP as serviceVips (ready endpoints, per port and protocol)", async () => {
  const { translate } = await import("../../../src/translator/index.js");
  const { CONTROLLER_NAME } = await import("../../../src/translator/api.js");
  const objects = [
    { apiVersion: "v1", kind: "Service", metadata: { name: "dns", namespace: "default" }, spec: { clusterIP: "10.96.0.10", ports: [{ name: "dns", port: 53, protocol: "UDP" }, { name: "dns-tcp", port: 53, protocol: "TCP" }] } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "headless", namespace: "default" }, spec: { clusterIP: "None", ports: [{ port: 80 }] } },
    {
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: { name: "dns-1", namespace: "default", labels: { "kubernetes.io/service-name": "dns" } },
      addressType: "IPv4",
      ports: [{ name: "dns", port: 5353, protocol: "UDP" }, { name: "dns-tcp", port: 5354, protocol: "TCP" }],
      endpoints: [{ addresses: ["10.0.0.2"] }, { addresses: ["10.0.0.1"] }, { addresses: ["10.0.0.3"], conditions: { ready: false } }],
    },
  ];
  const r = translate(objects as never, { controllerName: CONTROLLER_NAME });
  assert.deepEqual(r.config.serviceVips, [
    { name: "service/default/dns/53/tcp", addresses: ["10.96.0.10"], port: 53, protocol: "TCP", endpoints: [ep("10.0.0.1", 5354), ep("10.0.0.2", 5354)] },
    { name: "service/default/dns/53/udp", addresses: ["10.96.0.10"], port: 53, protocol: "UDP", endpoints: [ep("10.0.0.1", 5353), ep("10.0.0.2", 5353)] },
  ]);
});
