// Prometheus metrics of the L7 proxy, on prom-client's default registry (the control process
// aggregates workers' registries). The request path only bumps plain numbers on objects bound at
// snapshot time; they reach prom-client when metrics are collected. prom-client's own labelled
// inc()/observe() hash the label set and validate it on every call, which the profile showed
// costing about as much as all of the routing and filter code together.
import { Counter, register, type Metric, type MetricValueWithName } from "prom-client";

export type UpstreamErrorReason = "connect" | "reset" | "timeout" | "no_endpoint" | "unresolved";

/** A count since the last collection, for one label set; queued on first increment. */
export class Pending {
  n = 0;
  constructor(
    readonly labels: Record<string, string>,
    private readonly queue: Pending[],
  ) {}

  inc(): void {
    if (this.n++ === 0) this.queue.push(this);
  }
}

/** A prom-client Counter fed from Pending counts when it is collected. */
export class BatchedCounter {
  readonly queue: Pending[] = [];
  constructor(name: string, help: string, labelNames: string[]) {
    const existing = register.getSingleMetric(name);
    if (existing) register.removeSingleMetric(name);
    const queue = this.queue;
    new Counter({
      name,
      help,
      labelNames,
      collect(this: Counter<string>) {
        for (let i = 0; i < queue.length; i++) {
          const p = queue[i]!;
          this.inc(p.labels, p.n);
          p.n = 0;
        }
        queue.length = 0;
      },
    });
  }

  pending(labels: Record<string, string>): Pending {
    return new Pending(labels, this.queue);
  }
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Bucket counts of one route; shared by every snapshot that has a route of that name. */
class DurationSeries {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly counts = new Float64Array(DURATION_BUCKETS.length + 1);
  sum = 0;
  count = 0;
  constructor(readonly route: string) {}

  observe(v: number): void {
    let i = 0;
    while (i < DURATION_BUCKETS.length && v > DURATION_BUCKETS[i]!) i++;
    this.counts[i]!++;
    this.sum += v;
    this.count++;
  }
}

/**
 * The request duration histogram, kept as plain per-route arrays and exported in prom-client's
 * histogram shape (_bucket with cumulative `le`, _sum, _count) when the registry is collected.
 */
class DurationHistogram {
  readonly name = "sluice_http_request_duration_seconds";
  readonly help = "Time from request start to the end of the response, per route.";
  // prom-client's typings declare `type` as a numeric enum; at run time it is this string.
  readonly type = "histogram";
  readonly aggregator = "sum";
  private readonly series = new Map<string, DurationSeries>();

  of(route: string): DurationSeries {
    let s = this.series.get(route);
    if (s === undefined) this.series.set(route, (s = new DurationSeries(route)));
    return s;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: MetricValueWithName<string>[] }> {
    const values: MetricValueWithName<string>[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series.values()) {
      // A route that has not answered yet has no series, as with prom-client's own histograms.
      if (s.count === 0) continue;
      let acc = 0;
      for (let i = 0; i < DURATION_BUCKETS.length; i++) {
        acc += s.counts[i]!;
        values.push({ metricName: bucket, labels: { le: DURATION_BUCKETS[i]!, route: s.route }, value: acc });
      }
      values.push({ metricName: bucket, labels: { le: "+Inf", route: s.route }, value: s.count });
      values.push({ metricName: `${this.name}_sum`, labels: { route: s.route }, value: s.sum });
      values.push({ metricName: `${this.name}_count`, labels: { route: s.route }, value: s.count });
    }
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values });
  }
}

let metrics: { requests: BatchedCounter; upstreamErrors: BatchedCounter; duration: DurationHistogram } | null = null;

function proxyMetrics(): NonNullable<typeof metrics> {
  if (metrics !== null) return metrics;
  const duration = new DurationHistogram();
  if (register.getSingleMetric(duration.name)) register.removeSingleMetric(duration.name);
  // The registry only calls name/help/type/aggregator/get on a metric: the shape above.
  register.registerMetric(duration as unknown as Metric<string>);
  metrics = {
    requests: new BatchedCounter("sluice_http_requests_total", "HTTP requests served by the proxy.", ["listener", "route", "backend", "code"]),
    upstreamErrors: new BatchedCounter("sluice_upstream_errors_total", "Upstream failures by reason.", ["route", "backend", "reason"]),
    duration,
  };
  return metrics;
}

interface Inc {
  inc(): void;
}
interface Obs {
  observe(v: number): void;
}

/** Counters of one (listener, route, backend); status-code children created on first use. */
export class RequestCounters {
  // Made at the first count: most of a large route table never sees an error, many routes no request.
  private byCode: (Inc | undefined)[] | null = null;
  private errors: Partial<Record<UpstreamErrorReason, Inc>> | null = null;
  constructor(
    private readonly listener: string,
    private readonly route: string,
    /** The backend (cluster) label; "" for answers the gateway makes itself. Read by the flow recorder. */
    readonly backend: string,
  ) {}

  count(code: number): void {
    const byCode = (this.byCode ??= []);
    let c = byCode[code];
    if (c === undefined) {
      c = proxyMetrics().requests.pending({ listener: this.listener, route: this.route, backend: this.backend, code: String(code) });
      byCode[code] = c;
    }
    c.inc();
  }

  error(reason: UpstreamErrorReason): void {
    const errors = (this.errors ??= {});
    let c = errors[reason];
    if (c === undefined) {
      c = proxyMetrics().upstreamErrors.pending({ route: this.route, backend: this.backend, reason });
      errors[reason] = c;
    }
    c.inc();
  }
}

export function routeDuration(route: string): Obs {
  return proxyMetrics().duration.of(route);
}
