// The flow filter shared by `sluice observe`, the admin API and the workers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileFlowFilter, filterFromQuery, filterToQuery, parseFlowFilter, type FlowFilterSpec } from "../../../src/observe/flow-filter.js";
import type { FlowRecord } from "../../../src/observe/flow-record.js";

const http1: FlowRecord = {
  time: "2030-01-01T00:00:00.000Z",
  source: "l7",
  type: "request",
  verdict: "forwarded",
  protocol: "TCP",
  app: "HTTP",
  src: { ip: "192.168.1.20", port: 50123 },
  dst: { ip: "10.0.0.5", port: 8080 },
  listener: "default/gw/web",
  route: "httproute/default/api/rule/0/match/0",
  backend: "backend/default/echo/3000",
  upstream: "172.16.0.9:3000",
  http: { method: "GET", host: "a.example", path: "/x", status: 200, version: "HTTP/1.1" },
};
const kernelDrop: FlowRecord = {
  time: "2030-01-01T00:00:01.000Z",
  source: "kernel",
  type: "drop",
  verdict: "dropped",
  protocol: "UDP",
  src: { ip: "fd77::2", port: 5353 },
  dst: { ip: "fd77::ff", port: 53 },
  rule: "default-deny",
};
const tls: FlowRecord = { ...http1, source: "l4", type: "session", app: "TLS", http: undefined, route: "tlsroute/prod/secure/rule/0", backend: "service/prod/vault/8200", upstream: undefined, listener: "prod/edge/tls", dst: { ip: "10.0.0.5", port: 443 } };

function spec(raw: Parameters<typeof parseFlowFilter>[0]): FlowFilterSpec {
  const p = parseFlowFilter(raw);
  if ("errors" in p) throw new Error(p.errors.join("; "));
  return p.spec;
}

const matches = (raw: Parameters<typeof parseFlowFilter>[0]) => [http1, kernelDrop, tls].filter(compileFlowFilter(spec(raw))).map((r) => r.source);

test("an empty filter matches everything", () => {
  assert.deepEqual(matches({}), ["l7", "kernel", "l4"]);
});

test("from/to by CIDR: source and destination address, IPv4 and IPv6; --to also covers the backend endpoint", () => {
  assert.deepEqual(matches({ from: ["192.168.0.0/16"] }), ["l7", "l4"]);
  assert.deepEqual(matches({ from: ["fd77::/64"] }), ["kernel"]);
  assert.deepEqual(matches({ from: ["fd77::2"] }), ["kernel"], "a bare address is a full-length prefix");
  assert.deepEqual(matches({ from: ["10.0.0.0/8"] }), [], "the source side only");
  assert.deepEqual(matches({ to: ["10.0.0.5/32"] }), ["l7", "l4"]);
  assert.deepEqual(matches({ to: ["172.16.0.0/12"] }), ["l7"], "the HTTP request's endpoint");
  assert.deepEqual(matches({ from: ["192.168.1.0/24", "fd77::/16"] }), ["l7", "kernel", "l4"], "values of one filter are alternatives");
});

test("names: --from is the listener; --to is the listener, route or backend, matched by whole path parts", () => {
  assert.deepEqual(matches({ from: ["web"] }), ["l7"]);
  assert.deepEqual(matches({ from: ["gw/web"] }), ["l7"]);
  assert.deepEqual(matches({ from: ["api"] }), [], "a route name is not a source");
  assert.deepEqual(matches({ to: ["api"] }), ["l7"]);
  assert.deepEqual(matches({ to: ["default/api"] }), ["l7"]);
  assert.deepEqual(matches({ to: ["httproute/default/api"] }), ["l7"]);
  assert.deepEqual(matches({ to: ["vault"] }), ["l4"]);
  assert.deepEqual(matches({ to: ["prod"] }), ["l4"]);
  assert.deepEqual(matches({ to: ["ap"] }), [], "no partial parts");
  assert.deepEqual(matches({ to: ["api/default"] }), [], "parts in order");
  assert.deepEqual(matches({ to: ["edge/tls"] }), ["l4"], "the listener is a destination too");
});

test("verdict, port (either side), protocol (transport or application); different filters all hold", () => {
  assert.deepEqual(matches({ verdict: ["dropped"] }), ["kernel"]);
  assert.deepEqual(matches({ verdict: ["forwarded", "dropped"] }), ["l7", "kernel", "l4"]);
  assert.deepEqual(matches({ port: ["8080"] }), ["l7"]);
  assert.deepEqual(matches({ port: ["50123"] }), ["l7", "l4"], "source ports count");
  assert.deepEqual(matches({ protocol: ["tcp"] }), ["l7", "l4"]);
  assert.deepEqual(matches({ protocol: ["HTTP"] }), ["l7"]);
  assert.deepEqual(matches({ protocol: ["tls"] }), ["l4"]);
  assert.deepEqual(matches({ protocol: ["udp"] }), ["kernel"]);
  assert.deepEqual(matches({ protocol: ["tcp"], port: ["443"] }), ["l4"]);
  assert.deepEqual(matches({ protocol: ["tcp"], verdict: ["dropped"] }), []);
  assert.deepEqual(matches({ port: ["8080,443"] }), ["l7", "l4"], "comma lists");
});

test("bad values are reported, each with what was expected", () => {
  const p = parseFlowFilter({ from: ["10.0.0.0/33", "bad name!"], verdict: ["maybe"], port: ["70000", "x"], protocol: ["t c p"] });
  assert.ok("errors" in p);
  const text = p.errors.join("\n");
  assert.match(text, /--from: .*invalid prefix length/);
  assert.match(text, /--from: "bad name!" is neither a CIDR nor a name/);
  assert.match(text, /--verdict: "maybe" is not a verdict \(expected one of forwarded, dropped, answered, error\)/);
  assert.match(text, /--port: "70000"/);
  assert.match(text, /--port: "x"/);
  assert.match(text, /--protocol/);
  assert.equal(p.errors.length, 6);
});

test("query parameters round trip: what the CLI sends is what the server parses", () => {
  const s = spec({ from: ["10.0.0.0/8", "web"], to: ["default/api"], verdict: ["dropped"], port: ["80", "443"], protocol: ["http"] });
  const q = filterToQuery(s, new URLSearchParams({ follow: "1" }));
  assert.equal(q.get("follow"), "1");
  const back = filterFromQuery(new URLSearchParams(q.toString()));
  assert.ok("spec" in back);
  assert.deepEqual(back.spec, s);
});
