// Turns each load of the configuration folder into (at most) one new snapshot.
// A load with errors changes nothing that serves traffic; an unchanged config changes nothing at all.
import type { IrConfig, Snapshot } from "../ir/types.js";
import type { Logger } from "../observe/log.js";
import type { ControlMetrics } from "../observe/control-metrics.js";
import type { LoadResult } from "../resources/index.js";
import type { Diagnostic, K8sObject, StatusEntry } from "../resources/types.js";
import { formatDiagnostic } from "../resources/types.js";
import type { TranslateResult } from "../translator/api.js";
import { TranslateMemo } from "../translator/memo.js";
import { CanonicalTextCache } from "./config-text.js";
import { errorsOf, locateDiagnostics, sortDiagnostics } from "./diagnostics.js";
import { StatusStore } from "./status-store.js";


/** `memo` is the controller's, kept across loads: pass it on to translate() (see translator/memo.ts). */
export type TranslateFn = (objects: K8sObject[], memo: TranslateMemo) => TranslateResult;

export interface ConfigControllerOptions {
  translate: TranslateFn;
  metrics: ControlMetrics;
  log: Logger;
  /** Called with each new snapshot (new version); never with an unchanged one. */
  publish: (snapshot: Snapshot) => void;
}

export class ConfigController {
  /** The snapshot serving traffic: the last good one. */
  snapshot: Snapshot | null = null;
  /** Diagnostics of the folder as it is now (load errors/warnings, or translator findings). */
  diagnostics: Diagnostic[] = [];
  readonly statuses = new StatusStore();
  loads = 0;
  private loggedKey = "";
  /** Translation results reused between loads: a change costs about what changed. */
  private readonly memo = new TranslateMemo();
  private readonly texts = new CanonicalTextCache((o) => this.memo.isShared(o));

  constructor(private readonly opts: ConfigControllerOptions) {}

  get errors(): Diagnostic[] {
    return errorsOf(this.diagnostics);
  }

  /** Processes one load. Never throws: an internal failure is reported like a config error. */
  onLoad(load: LoadResult): void {
    this.loads++;
    const loadErrors = errorsOf(load.diagnostics);
    if (loadErrors.length > 0) {
      this.fail(sortDiagnostics(load.diagnostics));
      return;
    }
    const objects = load.objects.map((lo) => lo.object);
    let result: TranslateResult;
    try {
      result = this.opts.translate(objects, this.memo);
    } catch (err) {
      this.fail([{ severity: "error", message: `internal error while translating the configuration: ${errText(err)}`, expected: "a bug report with the folder that caused it" }]);
      return;
    }
    let hash: string;
    let config: IrConfig;
    try {
      // Workers get the canonical form: what they run is exactly what was hashed. Parts the
      // translator handed out unchanged are canonical already and keep their text (config-text.ts).
      config = this.texts.canonical(result.config);
      hash = this.texts.hash(config);
    } catch (err) {
      this.fail([{ severity: "error", message: `translator produced a config that is not serialisable: ${errText(err)}` }]);
      return;
    }
    const located = result.diagnostics.length > 0 ? locateDiagnostics(result.diagnostics, load.objects) : [];
    this.diagnostics = sortDiagnostics([...load.diagnostics, ...located]);
    this.logDiagnostics();
    this.updateStatuses(objects, result.statuses);
    const errorCount = this.errors.length;
    if (this.snapshot && this.snapshot.hash === hash) {
      this.opts.metrics.reload("unchanged", errorCount, this.snapshot.version);
      this.opts.log.debug({ version: this.snapshot.version, hash }, "configuration unchanged");
      return;
    }
    const version = (this.snapshot?.version ?? 0) + 1;
    this.snapshot = { version, hash, config };
    this.opts.metrics.reload("success", errorCount, version);
    this.opts.log.info(
      { version, hash, listeners: config.listeners.length, clusters: config.clusters.length, objects: load.objects.length },
      "configuration loaded",
    );
    this.opts.publish(this.snapshot);
  }

  private fail(diags: Diagnostic[]): void {
    this.diagnostics = diags;
    this.logDiagnostics();
    this.opts.metrics.reload("error", this.errors.length, this.snapshot?.version ?? 0);
  }

  private updateStatuses(objects: K8sObject[], statuses: StatusEntry[]): void {
    try {
      this.statuses.update(objects, statuses);
    } catch (err) {
      this.opts.log.error({ err: errText(err) }, "could not record statuses");
    }
  }

  /** Logs the diagnostics when they differ from the last ones logged (editors save often). */
  private logDiagnostics(): void {
    const lines = this.diagnostics.map(formatDiagnostic);
    const key = lines.join("\n");
    if (key === this.loggedKey) return;
    this.loggedKey = key;
    const errors = this.errors.length;
    if (errors > 0) {
      this.opts.log.error(
        { errors, warnings: lines.length - errors, serving: this.snapshot?.version ?? null },
        this.snapshot ? `configuration has errors; still serving version ${this.snapshot.version}` : "configuration has errors; nothing is served until they are fixed",
      );
    }
    for (let i = 0; i < lines.length; i++) {
      const d = this.diagnostics[i]!;
      if (d.severity === "error") this.opts.log.error({ diagnostic: d }, lines[i]!);
      else this.opts.log.warn({ diagnostic: d }, lines[i]!);
    }
  }
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
