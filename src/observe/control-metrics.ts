// Metrics of the control process (config reloads). They live in their own registry: the default
// registry of each worker carries the data-plane metrics, which the admin server aggregates.
import { Counter, Gauge, Registry } from "prom-client";

export type ReloadResult = "success" | "error" | "unchanged";

export class ControlMetrics {
  readonly registry = new Registry();
  private readonly reloads = new Counter({
    name: "sluice_config_reloads_total",
    help: "Configuration loads by result: success (new snapshot), error (kept the last good one), unchanged (same hash).",
    labelNames: ["result"] as const,
    registers: [this.registry],
  });
  private readonly version = new Gauge({
    name: "sluice_config_version",
    help: "Version of the snapshot currently published to the workers (0 before the first good load).",
    registers: [this.registry],
  });
  private readonly errors = new Gauge({
    name: "sluice_config_errors",
    help: "Errors found in the configuration folder by the last load.",
    registers: [this.registry],
  });
  private readonly lastSuccess = new Gauge({
    name: "sluice_config_last_reload_success_timestamp_seconds",
    help: "Unix time of the last load that produced a usable configuration.",
    registers: [this.registry],
  });

  constructor() {
    // Export every series from the start so dashboards see zeros rather than gaps.
    for (const r of ["success", "error", "unchanged"] as const) this.reloads.inc({ result: r }, 0);
    this.version.set(0);
    this.errors.set(0);
  }

  reload(result: ReloadResult, errorCount: number, version: number): void {
    this.reloads.inc({ result });
    this.errors.set(errorCount);
    this.version.set(version);
    if (result !== "error") this.lastSuccess.set(Date.now() / 1000);
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
