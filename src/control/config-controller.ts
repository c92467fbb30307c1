// Turns each load of the configuration folder into (at most) one new snapshot.
// A load with errors changes nothing that serves traffic; an unchanged config changes nothing at all.
import { performance } from "node:perf_hooks";
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
import { inTurns } from "../util/in-turns.js";


/** `memo` is the controller's, kept across loads: pass it on to translate() (see translator/memo.ts). */
/**
 * Runs of warmUp(). Measured at 5,000 routes on the scale benchmark's change mix (bench/change-profile.ts
 * --mix --warm-up, 30 changes): after 5 runs a change still cost 3.8-3.9 ms of CPU (median), after 40
 * 2.9-3.3 ms, while V8 finished optimising; the 40 runs cost ~0.8 s of CPU once, in turns, after start.
 */
export const WARM_UP_RUNS = 40;

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
  /** The last load translated without errors, while no failed one came after it (warmUp() runs it again). */
  private lastGood: LoadResult | null = null;
  /** The warm-up in progress; a real load clears it, which stops it. */
  private warm: { load: LoadResult } | null = null;

  constructor(private readonly opts: ConfigControllerOptions) {}

  get errors(): Diagnostic[] {
    return errorsOf(this.diagnostics);
  }

  /** Processes one load. Never throws: an internal failure is reported like a config error. */
  onLoad(load: LoadResult): void {
    this.loads++;
    this.warm = null;
    const loadErrors = errorsOf(load.diagnostics);
    if (loadErrors.length > 0) {
      this.fail(sortDiagnostics(load.diagnostics));
      return;
    }
    const objects = load.objects.map((lo) => lo.object);
    const out = this.translated(objects);
    if ("error" in out) {
      this.fail([out.error]);
      return;
    }
    const { result, config, hash } = out;
    this.lastGood = load;
    const prev = this.snapshot;
    const unchanged = prev !== null && prev.hash === hash;
    const snapshot = unchanged ? prev : { version: (prev?.version ?? 0) + 1, hash, config };
    // A new snapshot goes to the data planes first: the workers compile it while this process
    // records statuses and diagnostics (same turn, so /ready never reports a version whose statuses
    // are not recorded yet).
    if (!unchanged) {
      this.snapshot = snapshot;
      this.opts.publish(snapshot);
    }
    const located = result.diagnostics.length > 0 ? locateDiagnostics(result.diagnostics, load.objects) : [];
    this.diagnostics = sortDiagnostics([...load.diagnostics, ...located]);
    this.logDiagnostics();
    this.updateStatuses(objects, result.statuses);
    const errorCount = this.errors.length;
    const version = snapshot.version;
    if (unchanged) {
      this.opts.metrics.reload("unchanged", errorCount, version);
      this.opts.log.debug({ version, hash }, "configuration unchanged");
      return;
    }
    this.opts.metrics.reload("success", errorCount, version);
    this.opts.log.info(
      { version, hash, listeners: config.listeners.length, clusters: config.clusters.length, objects: load.objects.length },
      "configuration loaded",
    );
  }

  /** Translation, canonical form and hash of one load's objects. */
  private translated(objects: K8sObject[]): { result: TranslateResult; config: IrConfig; hash: string } | { error: Diagnostic } {
    let result: TranslateResult;
    try {
      result = this.opts.translate(objects, this.memo);
    } catch (err) {
      return { error: { severity: "error", message: `internal error while translating the configuration: ${errText(err)}`, expected: "a bug report with the folder that caused it" } };
    }
    try {
      // Workers get the canonical form: what they run is exactly what was hashed. Parts the
      // translator handed out unchanged are canonical already and keep their text (config-text.ts).
      const config = this.texts.canonical(result.config);
      return { result, config, hash: this.texts.hash(config) };
    } catch (err) {
      return { error: { severity: "error", message: `translator produced a config that is not serialisable: ${errText(err)}` } };
    }
  }

  /**
   * Runs the path a change takes (translate with the memo, canonical form, hash, statuses) on the
   * last load, `runs` times, one run per macrotask, and stops at the next real load. Why: the code a
   * change runs is not the code the first load ran (replaying memoised routes, patching the index
   * and sorted lists, cached texts, the status store's patch), so V8 runs it unoptimised at first;
   * at 5,000 routes the same unchanged load took 50, 50, 37, 28, 20 ms of CPU on its first five runs.
   * Runs alternate between the load without one HTTPRoute and the load itself (a removal and an
   * addition, as a real change makes; the last run is the load itself, so the memo ends where it
   * was), with statuses going to a scratch store: the real conditions and their times are not
   * touched. `fresh` (the file provider's rehearsal(): one route file parsed and stamped again)
   * makes the other additions bring new, equal objects, as a real change does: without it the
   * first real change still ran the provider's reload and a new route's translation unoptimised.
   * Meant for an idle moment after start (the caller picks it: every worker serving).
   * Nothing is published or logged.
   */
  warmUp(runs = WARM_UP_RUNS, fresh?: () => LoadResult | null): Promise<number> {
    const load = this.lastGood;
    const snap = this.snapshot;
    if (load === null || snap === null || runs <= 0) return Promise.resolve(0);
    const token = { load };
    this.warm = token;
    const objects = load.objects.map((lo) => lo.object);
    // The route that turns drop and bring back: one the provider's rehearsal brings anew if it has one
    // (each addition is then a new object with a new virtual host, as a real change), else the last.
    let next = fresh?.() ?? null;
    let drop = next === null ? -1 : next.objects.findIndex((lo, i) => lo !== load.objects[i] && lo.object.kind === "HTTPRoute");
    if (drop < 0) next = null;
    for (let i = objects.length - 1; i >= 0 && drop < 0; i--) if (objects[i]!.kind === "HTTPRoute") drop = i;
    const without = drop < 0 ? objects : objects.filter((_, i) => i !== drop);
    const scratch = new StatusStore();
    const started = performance.now();
    // Even turns drop the route, odd ones put it back; the last turn (odd) leaves the memo as it was.
    return inTurns(2 * runs, (i) => {
      // A real load since: it has done (and will do) the same work for real.
      if (this.warm !== token || this.snapshot !== snap) return false;
      let list = without;
      if (i % 2 === 1) {
        // The last turn puts back the load's own objects.
        const again = i === 1 ? next : i < 2 * runs - 1 && next !== null ? fresh?.() : null;
        list = again ? again.objects.map((lo) => lo.object) : objects;
      }
      const out = this.translated(list);
      if ("error" in out || (i % 2 === 1 && out.hash !== snap.hash)) return false;
      try {
        scratch.update(list, out.result.statuses);
      } catch {
        return false;
      }
      return true;
    }).then((turns) => {
      if (this.warm === token) this.warm = null;
      const done = Math.floor(turns / 2);
      this.opts.log.debug({ runs: done, ms: Math.round(performance.now() - started) }, "change path warmed up");
      return done;
    });
  }

  private fail(diags: Diagnostic[]): void {
    this.lastGood = null;
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
