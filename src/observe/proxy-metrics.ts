// Prometheus metrics of the L7 proxy, on prom-client's default registry (the control process
// aggregates workers' registries). Label children are bound at snapshot time, not per request.
import { Counter, Histogram, register } from "prom-client";

function counter(name: string, help: string, labelNames: string[]): Counter<string> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Counter<string>;
  return new Counter({ name, help, labelNames });
}

function histogram(name: string, help: string, labelNames: string[], buckets: number[]): Histogram<string> {
  const existing = register.getSingleMetric(name);
  if (existing) return existing as Histogram<string>;
  return new Histogram({ name, help, labelNames, buckets });
}

let requests: Counter<string> | null = null;
let duration: Histogram<string> | null = null;
let upstreamErrors: Counter<string> | null = null;

function metrics(): { requests: Counter<string>; duration: Histogram<string>; upstreamErrors: Counter<string> } {
  requests ??= counter("sluice_http_requests_total", "HTTP requests served by the proxy.", ["listener", "route", "backend", "code"]);
  duration ??= histogram(
    "sluice_http_request_duration_seconds",
    "Time from request start to the end of the response, per route.",
    ["route"],
    [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  );
  upstreamErrors ??= counter("sluice_upstream_errors_total", "Upstream failures by reason.", ["route", "backend", "reason"]);
  return { requests, duration, upstreamErrors };
}

export type UpstreamErrorReason = "connect" | "reset" | "timeout" | "no_endpoint" | "unresolved";

interface Inc {
  inc(v?: number): void;
}
interface Obs {
  observe(v: number): void;
}

/** Counters of one (listener, route, backend); status-code children created on first use. */
export class RequestCounters {
  private readonly byCode: (Inc | undefined)[] = [];
  private readonly errors: Partial<Record<UpstreamErrorReason, Inc>> = {};
  constructor(
    private readonly listener: string,
    private readonly route: string,
    private readonly backend: string,
  ) {}

  count(code: number): void {
    let c = this.byCode[code];
    if (c === undefined) {
      c = metrics().requests.labels(this.listener, this.route, this.backend, String(code));
      this.byCode[code] = c;
    }
    c.inc();
  }

  error(reason: UpstreamErrorReason): void {
    let c = this.errors[reason];
    if (c === undefined) {
      c = metrics().upstreamErrors.labels(this.route, this.backend, reason);
      this.errors[reason] = c;
    }
    c.inc();
  }
}

export function routeDuration(route: string): Obs {
  return metrics().duration.labels(route);
}
