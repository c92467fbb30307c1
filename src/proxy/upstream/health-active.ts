// The schedule of one endpoint's active health check: a probe every interval (bounded by timeout),
// thresholds before a state change. A new endpoint takes traffic until its first probe answers;
// that first answer decides at once (no threshold), later ones need the thresholds in a row.
import type { IrActiveHealthCheck } from "../../ir/types.js";
import { grpcProbe } from "./health-grpc.js";
import { httpProbe } from "./health-http.js";
import type { Probe, ProbeTarget } from "./health-probe.js";
import { tcpProbe } from "./health-tcp.js";

const PROBES: Record<IrActiveHealthCheck["type"], Probe> = { HTTP: httpProbe, TCP: tcpProbe, GRPC: grpcProbe };

export class ActiveChecker {
  /** false once the thresholds say so; see `reason`. */
  healthy = true;
  reason = "";
  private known = false;
  private passes = 0;
  private fails = 0;
  private timer: NodeJS.Timeout | null = null;
  private abort: AbortController | null = null;
  private closed = false;

  constructor(
    private readonly check: IrActiveHealthCheck,
    private readonly target: ProbeTarget,
    /** Called on every transition (healthy <-> unhealthy). */
    private readonly onChange: (healthy: boolean) => void,
  ) {
    // First probe at once, but spread a little so a reload does not probe every endpoint in one tick.
    this.schedule(Math.floor(Math.random() * Math.min(50, check.intervalMs)));
  }

  private schedule(ms: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.run(), ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    this.timer = null;
    const ac = new AbortController();
    this.abort = ac;
    const t = setTimeout(() => ac.abort(), this.check.timeoutMs);
    let result: string | null;
    try {
      result = await PROBES[this.check.type](this.target, this.check, ac.signal);
    } catch (err) {
      result = (err as Error)?.message ?? String(err);
    }
    clearTimeout(t);
    this.abort = null;
    if (this.closed) return;
    this.record(result);
    this.schedule(this.check.intervalMs);
  }

  private record(result: string | null): void {
    const wasHealthy = this.healthy;
    if (result === null) {
      this.passes++;
      this.fails = 0;
      if (!this.healthy && (!this.known || this.passes >= this.check.healthyThreshold)) this.healthy = true;
    } else {
      this.fails++;
      this.passes = 0;
      this.reason = result;
      if (this.healthy && (!this.known || this.fails >= this.check.unhealthyThreshold)) this.healthy = false;
    }
    this.known = true;
    if (this.healthy !== wasHealthy) this.onChange(this.healthy);
  }

  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.abort?.abort();
  }
}
