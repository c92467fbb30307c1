// Prometheus metrics of the L4 data plane (TCPRoute, TLSRoute, UDPRoute), on prom-client's default
// registry like the L7 proxy's (the control process aggregates the workers' registries).
// Connections only add to plain numbers held by cells bound when a snapshot is compiled; the
// families read those numbers when the registry is collected. A cell is shared by every snapshot
// with the same label set, so counters keep counting across reloads.
import { register, type Metric, type MetricValue } from "prom-client";

/**
 * Outcome of one connection (or UDP session):
 *   ok             backend connected (UDP: session opened)
 *   no_route       no route for it (none attached, or no hostname matches the SNI)
 *   unresolved     the weighted pick was a backendRef that did not resolve
 *   no_endpoint    the picked backend has no endpoint
 *   connect_error  connecting to the backend failed or timed out
 *   tls_error      TLS termination: the client's handshake failed
 *   bad_hello      TLS: no valid ClientHello before the timeout
 *   limit          UDP: the session table is full
 */
export type L4Result = "ok" | "no_route" | "unresolved" | "no_endpoint" | "connect_error" | "tls_error" | "bad_hello" | "limit";

/** One series' value; the hot path does `cell.n++` / `cell.n += bytes`. */
export interface Cell {
  n: number;
}

type Labels = Record<string, string>;

class Family {
  private readonly series = new Map<string, { labels: Labels; cell: Cell }>();
  // prom-client's typings declare `type` as a numeric enum; at run time it is this string.
  readonly aggregator = "sum";

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "gauge",
  ) {}

  cell(labels: Labels): Cell {
    const key = JSON.stringify(labels);
    let s = this.series.get(key);
    if (s === undefined) this.series.set(key, (s = { labels, cell: { n: 0 } }));
    return s.cell;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValue<string>[] }> {
    const values: MetricValue<string>[] = [];
    for (const s of this.series.values()) values.push({ labels: s.labels, value: s.cell.n });
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}

interface Families {
  connections: Family;
  bytes: Family;
  active: Family;
  udpSessions: Family;
}

let families: Families | null = null;

function l4Families(): Families {
  if (families !== null) return families;
  const f: Families = {
    connections: new Family("sluice_l4_connections_total", "L4 connections (UDP: sessions) by listener, route, backend and result.", "counter"),
    bytes: new Family("sluice_l4_bytes_total", "Bytes relayed by L4 routes; direction in = client to backend, out = backend to client. TCP/TLS count when a connection ends, UDP per datagram.", "counter"),
    active: new Family("sluice_l4_active_connections", "Open TCP/TLS connections relayed by L4 routes.", "gauge"),
    udpSessions: new Family("sluice_l4_udp_sessions", "Open UDP sessions (one per client address) of UDPRoutes.", "gauge"),
  };
  for (const m of Object.values(f)) {
    if (register.getSingleMetric(m.name)) register.removeSingleMetric(m.name);
    // The registry only calls name/help/type/aggregator/get on a metric: the shape above.
    register.registerMetric(m as unknown as Metric<string>);
  }
  families = f;
  return f;
}

/** Counters of one backend of a route, bound at snapshot time. */
export interface L4BackendCells {
  ok: Cell;
  connectError: Cell;
  /** The refusal this backend causes when picked: unresolved (no name) or no_endpoint. */
  refused: Cell;
}

/** Counters of one route on one listener. */
export class L4RouteStats {
  readonly bytesIn: Cell;
  readonly bytesOut: Cell;
  readonly active: Cell;
  readonly udpSessions: Cell;
  private readonly other = new Map<string, Cell>();

  constructor(
    readonly listener: string,
    readonly route: string,
  ) {
    const f = l4Families();
    this.bytesIn = f.bytes.cell({ listener, route, direction: "in" });
    this.bytesOut = f.bytes.cell({ listener, route, direction: "out" });
    this.active = f.active.cell({ listener, route });
    this.udpSessions = f.udpSessions.cell({ listener, route });
  }

  backend(name: string | null): L4BackendCells {
    const backend = name ?? "";
    return {
      ok: this.result(backend, "ok"),
      connectError: this.result(backend, "connect_error"),
      refused: this.result(backend, name === null ? "unresolved" : "no_endpoint"),
    };
  }

  /** A connection counter by backend label and result (bound once per backend at compile time). */
  result(backend: string, result: L4Result): Cell {
    const key = `${backend}\u0000${result}`;
    let c = this.other.get(key);
    if (c === undefined) {
      c = l4Families().connections.cell({ listener: this.listener, route: this.route, backend, result });
      this.other.set(key, c);
    }
    return c;
  }
}

/** Refusals before any route is chosen (route and backend labels empty). */
export class L4ListenerStats {
  readonly noRoute: Cell;
  readonly badHello: Cell;
  readonly limit: Cell;

  constructor(readonly listener: string) {
    const c = l4Families().connections;
    this.noRoute = c.cell({ listener, route: "", backend: "", result: "no_route" });
    this.badHello = c.cell({ listener, route: "", backend: "", result: "bad_hello" });
    this.limit = c.cell({ listener, route: "", backend: "", result: "limit" });
  }
}
