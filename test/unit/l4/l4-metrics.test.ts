// The L4 metric families as prom-client exposes them: counters and gauges read from the cells the
// data path bumps, labelled by listener, route, backend, result and direction.
import { test } from "node:test";
import assert from "node:assert/strict";
import { register } from "prom-client";
import { L4ListenerStats, L4RouteStats } from "../../../src/observe/l4-metrics.js";

test("cells show up in the exposition with their labels and values", async () => {
  const r = new L4RouteStats("tcp-7000", "tcproute/ns/r");
  const cells = r.backend("service/ns/svc/80");
  cells.ok.n += 3;
  cells.connectError.n++;
  r.backend(null).refused.n += 2;
  r.bytesIn.n += 100;
  r.bytesOut.n += 42;
  r.active.n++;
  r.udpSessions.n += 0;
  new L4ListenerStats("tcp-7000").noRoute.n++;
  const text = await register.metrics();
  const has = (line: string): void => assert.ok(text.includes(line), `missing ${line}\n${text}`);
  has('sluice_l4_connections_total{listener="tcp-7000",route="tcproute/ns/r",backend="service/ns/svc/80",result="ok"} 3');
  has('sluice_l4_connections_total{listener="tcp-7000",route="tcproute/ns/r",backend="service/ns/svc/80",result="connect_error"} 1');
  has('sluice_l4_connections_total{listener="tcp-7000",route="tcproute/ns/r",backend="",result="unresolved"} 2');
  has('sluice_l4_connections_total{listener="tcp-7000",route="",backend="",result="no_route"} 1');
  has('sluice_l4_bytes_total{listener="tcp-7000",route="tcproute/ns/r",direction="in"} 100');
  has('sluice_l4_bytes_total{listener="tcp-7000",route="tcproute/ns/r",direction="out"} 42');
  has('sluice_l4_active_connections{listener="tcp-7000",route="tcproute/ns/r"} 1');
  has("# TYPE sluice_l4_connections_total counter");
  has("# TYPE sluice_l4_active_connections gauge");
  has("# TYPE sluice_l4_udp_sessions gauge");
});

test("two stats objects for the same labels share their cells", () => {
  const a = new L4RouteStats("udp-53", "udproute/ns/dns");
  const b = new L4RouteStats("udp-53", "udproute/ns/dns");
  a.udpSessions.n++;
  assert.equal(b.udpSessions.n, a.udpSessions.n);
  assert.equal(a.backend("x").ok, b.backend("x").ok);
});
