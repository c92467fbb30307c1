// File provider: loads a folder of YAML/JSON, watches every directory of it and reloads (debounced)
// on any change: the files the watch events named, or the whole tree when an event cannot be placed
// (folder-loader.ts). Stamps generation/uid/creationTimestamp like an API server would.
import { statSync, watch, type FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { DirWatchers } from "./dir-watchers.js";
import { basename, dirname, join, resolve } from "node:path";
import { isConfigFile, loadDirectory, type LoadedObject, type LoadResult } from "../../resources/index.js";
import { canonicalJson } from "../../util/canonical-json.js";
import { FolderLoader } from "./folder-loader.js";
import { canonicalObject, GenerationTracker } from "./generations.js";

export interface FileProviderOptions {
  /** Quiet time after the last change before reloading (editors write in bursts). */
  debounceMs?: number;
  /**
   * Quiet time for a burst that only moved, created or deleted files (an atomic write-then-rename,
   * a delete) and wrote to no config file in place: files renamed into place are complete.
   */
  settledMs?: number;
  /** Interval of the fallback poller (used when recursive fs.watch is unavailable) and of the wait for a missing folder. */
  pollIntervalMs?: number;
  /** How long the folder may be missing (e.g. swapped by a deploy) before the failure is reported. */
  missingGraceMs?: number;
  /** Force the polling fallback (tests, network file systems). */
  poll?: boolean;
  /**
   * Told true when a change starts on its way (a watch event, or a poll that saw one) and false once
   * the reloads it caused are done, so the caller can give that stretch priority. Not for the
   * initial load.
   */
  onBusy?: (busy: boolean) => void;
}

export type LoadListener = (r: LoadResult) => void;

export class FileProvider {
  readonly dir: string;
  private readonly debounceMs: number;
  private readonly settledMs: number;
  private readonly pollIntervalMs: number;
  private readonly missingGraceMs: number;
  private readonly forcePoll: boolean;
  private onLoad?: LoadListener;
  private readonly generations = new GenerationTracker();
  /**
   * Only the files a change named are read again, and unchanged files are not parsed again: a one-file
   * change in a large folder costs one file. An unchanged object is the same object on every load
   * (read-only here; the generation stamp makes copies), so its serialised form below and the
   * translator's work on it are cached by identity.
   */
  private readonly loader: FolderLoader;
  /** canonicalObject() and the source's JSON of each loaded (read-only) object, by its LoadedObject. */
  private readonly serialised = new WeakMap<object, { full: string; spec: string; source: string }>();

  private dirs?: DirWatchers;
  private parentWatcher?: FSWatcher;
  private debounceTimer?: NodeJS.Timeout;
  private burstStart = 0;
  /** The burst so far wrote no config file in place (see settledMs); the paths it renamed or created. */
  private burstSettled = true;
  private burstRenamed: string[] = [];
  private pollTimer?: NodeJS.Timeout;
  private polling = false;
  private waitTimer?: NodeJS.Timeout;
  private pollSignature?: string;
  private running = false;
  private reloading?: Promise<void>;
  private readonly onBusy?: (busy: boolean) => void;
  private busy = false;
  private again = false;
  /** The last load handed on: its objects (before stamping) and its diagnostics' JSON. */
  private last?: { objects: LoadedObject[]; diagnostics: string };
  private missingSince?: number;
  private missingReported = false;

  constructor(dir: string, opts: FileProviderOptions = {}) {
    this.dir = resolve(dir);
    // Long enough to coalesce an editor's or a deploy tool's burst of writes (they come < 5 ms
    // apart), short enough not to dominate how fast a change is served.
    this.debounceMs = opts.debounceMs ?? 15;
    // fs.watch reports a write-then-rename's events within a millisecond; a few more let the next
    // file of a deploy tool's batch join the same reload.
    this.settledMs = Math.min(opts.settledMs ?? 3, this.debounceMs);
    this.pollIntervalMs = opts.pollIntervalMs ?? 250;
    this.missingGraceMs = opts.missingGraceMs ?? 1000;
    this.forcePoll = opts.poll ?? false;
    this.onBusy = opts.onBusy;
    this.loader = new FolderLoader(this.dir);
  }

  /** Loads once (onLoad is called before this resolves), then watches. */
  async start(onLoad: LoadListener): Promise<void> {
    if (this.running) throw new Error("FileProvider already started");
    this.onLoad = onLoad;
    this.running = true;
    this.arm(); // before the first read, so nothing written meanwhile is missed
    await this.reload(true);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.closeWatchers();
    this.polling = false;
    if (this.debounceTimer) clearTimeout(this.debounceTimer);
    if (this.pollTimer) clearTimeout(this.pollTimer);
    if (this.waitTimer) clearTimeout(this.waitTimer);
    this.debounceTimer = undefined;
    this.pollTimer = undefined;
    this.waitTimer = undefined;
    await this.reloading;
    this.setBusy(false);
    // Watcher handles finish closing in the loop's close phase: let it pass, so none outlives stop().
    await new Promise<void>((r) => setTimeout(r, 0));
  }

  /**
   * The last load again, as a rewrite of one route file would bring it: that file parsed anew (fresh,
   * equal objects), serialised and stamped the way a reload does. For rehearsing a change while idle
   * (ConfigController.warmUp): a change's first run of the reload path (parse of one file, the
   * generation stamp of an unchanged folder, which the first load never took) is otherwise unoptimised.
   * Objects and generations stay as they are (equal specs). null while a reload runs, or with nothing
   * to rehearse on.
   */
  rehearsal(): LoadResult | null {
    const last = this.last;
    if (!this.running || this.reloading !== undefined || last === undefined) return null;
    const fresh = this.loader.reparseRouteFile();
    const objects = last.objects.slice();
    if (fresh !== null) {
      const at = new Map(fresh.was.map((o, i) => [o, i]));
      for (let i = 0; i < objects.length; i++) {
        const k = at.get(objects[i]!);
        if (k !== undefined) objects[i] = fresh.now[k]!;
      }
    }
    // Equal by content (as emit() checks a reload), so the stamp keeps every generation.
    if (!this.sameObjects(last.objects, objects)) return null;
    this.generations.stamp(objects, (o) => this.serialise(o).spec);
    return { objects, diagnostics: [] };
  }

  /** True while a native watcher is active (false when polling or stopped). */
  get watching(): boolean {
    return this.dirs !== undefined;
  }

  private arm(): void {
    if (this.forcePoll) return this.startPolling();
    this.dirs = new DirWatchers(
      this.dir,
      (dir, name, event) => {
        if (name && isHiddenPath(name)) return; // editor swap/temp files
        const path = name ? join(dir, name) : null;
        this.loader.touch(path);
        // A config file written in place may be read half-written: that burst waits the full debounce.
        if (path === null || (event === "change" && isConfigFile(basename(path)))) this.burstSettled = false;
        else if (event === "rename" && this.burstRenamed.length < 64) this.burstRenamed.push(path);
        this.schedule();
      },
      () => this.schedule(true), // a directory went away: the reload re-syncs the watchers
    );
    this.armParent();
  }

  /** Re-syncs the directory watchers with the tree; falls back to polling if watching is unsupported. */
  private async syncWatchers(): Promise<void> {
    if (!this.dirs) return;
    try {
      await this.dirs.sync();
    } catch {
      this.closeWatchers();
      this.startPolling();
    }
  }

  /** The folder itself may be renamed or replaced: its parent sees that. */
  private armParent(): void {
    try {
      const name = basename(this.dir);
      this.parentWatcher = watch(dirname(this.dir), { persistent: false }, (_event, changed) => {
        if (changed === null || String(changed) === name) this.schedule(true);
      });
      this.parentWatcher.on("error", () => {
        this.parentWatcher?.close();
        this.parentWatcher = undefined;
      });
    } catch {
      // Unreadable parent: a replaced folder is then noticed through its own watcher's failure.
    }
  }

  private closeWatchers(): void {
    this.dirs?.close();
    this.parentWatcher?.close();
    this.dirs = undefined;
    this.parentWatcher = undefined;
  }

  /** `rescan`: the change cannot be pinned to files (the folder itself, a watcher failure, polling). */
  private schedule(rescan = false): void {
    if (!this.running) return;
    this.setBusy(true);
    if (rescan) {
      this.loader.rescan();
      this.burstSettled = false;
    }
    const now = Date.now();
    if (!this.debounceTimer) this.burstStart = now;
    else clearTimeout(this.debounceTimer);
    // A never-ending burst still reloads at least every 20 debounce periods.
    const wait = now - this.burstStart > this.debounceMs * 20 ? 0 : this.burstSettled ? this.settledMs : this.debounceMs;
    this.debounceTimer = setTimeout(() => this.quiet(), wait);
  }

  /** The burst went quiet: reload, unless a settled burst created an empty config file (a writer may not have started). */
  private quiet(): void {
    this.debounceTimer = undefined;
    if (this.burstSettled && this.burstRenamed.some(isEmptyConfigFile)) {
      this.burstSettled = false;
      this.debounceTimer = setTimeout(() => this.quiet(), Math.max(0, this.debounceMs - this.settledMs));
      return;
    }
    this.burstSettled = true;
    this.burstRenamed = [];
    void this.reload(false);
  }

  private async reload(initial: boolean): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      try {
        do {
          this.again = false;
          await this.reloadOnce(initial);
          initial = false;
        } while (this.again && this.running);
      } finally {
        this.reloading = undefined;
        // Done, unless another burst is already waiting out its debounce.
        if (this.debounceTimer === undefined) this.setBusy(false);
      }
    })();
    return this.reloading;
  }

  private async reloadOnce(initial: boolean): Promise<void> {
    if (!this.running) return;
    const present = folderId(this.dir) !== undefined;
    if (!present) {
      // Missing folder: keep the last load, wait for it to come back, report only if it stays away.
      this.closeWatchers();
      this.missingSince ??= Date.now();
      if (initial || Date.now() - this.missingSince >= this.missingGraceMs) {
        if (!this.missingReported) {
          this.missingReported = true;
          this.emit(await loadDirectory(this.dir));
        }
      }
      this.waitForFolder();
      return;
    }
    this.missingSince = undefined;
    this.missingReported = false;
    if (!this.dirs && !this.polling) {
      this.arm();
      this.loader.rescan();
    }
    if (initial) this.loader.rescan();
    // Watch before reading, so a change made during the read triggers another reload. Only a walk of
    // the whole tree can find new directories, so only it re-syncs the watchers.
    const result = await this.loader.load(() => this.syncWatchers());
    if (!this.running) return;
    this.emit(result);
  }

  private emit(result: LoadResult): void {
    // Identical content (a touch, an unrelated file, an editor's backup) is not a change: the same
    // objects (by identity, else by canonical JSON of object and source) and the same diagnostics.
    const diagnostics = canonicalJson(result.diagnostics);
    const last = this.last;
    if (last && last.diagnostics === diagnostics && this.sameObjects(last.objects, result.objects)) return;
    this.last = { objects: result.objects.slice(), diagnostics };
    this.generations.stamp(result.objects, (o) => this.serialise(o).spec);
    this.onLoad?.(result);
  }

  private sameObjects(a: LoadedObject[], b: LoadedObject[]): boolean {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) {
      if (a[i] === b[i]) continue;
      const x = this.serialise(a[i]!);
      const y = this.serialise(b[i]!);
      if (x.full !== y.full || x.source !== y.source) return false;
    }
    return true;
  }

  private serialise(o: LoadedObject): { full: string; spec: string; source: string } {
    let p = this.serialised.get(o);
    if (p === undefined) {
      p = { ...canonicalObject(o.object), source: canonicalJson(o.source) };
      this.serialised.set(o, p);
    }
    return p;
  }

  private setBusy(busy: boolean): void {
    if (this.busy === busy) return;
    this.busy = busy;
    this.onBusy?.(busy);
  }

  private waitForFolder(): void {
    if (this.waitTimer || this.polling || !this.running) return;
    this.waitTimer = setTimeout(() => {
      this.waitTimer = undefined;
      if (!this.running) return;
      if (folderId(this.dir) !== undefined) {
        this.schedule(true); // the reload arms the watchers again
      } else {
        if (this.missingSince !== undefined && Date.now() - this.missingSince >= this.missingGraceMs) this.schedule(true);
        this.waitForFolder();
      }
    }, this.pollIntervalMs);
  }

  /** Fallback: compare a cheap signature of the tree (names, sizes, mtimes) at an interval. */
  private startPolling(): void {
    if (this.polling || !this.running) return;
    this.polling = true;
    const tick = async (): Promise<void> => {
      this.pollTimer = undefined;
      if (!this.polling) return;
      const sig = await treeSignature(this.dir);
      if (!this.polling) return;
      if (this.pollSignature !== undefined && sig !== this.pollSignature) this.schedule(true);
      this.pollSignature = sig;
      this.pollTimer = setTimeout(() => void tick(), this.pollIntervalMs);
    };
    void tick();
  }

}

/** Synchronously: one stat, where a trip through the thread pool costs more than the call. */
function folderId(dir: string): string | undefined {
  try {
    const st = statSync(dir, { throwIfNoEntry: false });
    return st?.isDirectory() ? `${st.dev}:${st.ino}` : undefined;
  } catch {
    return undefined;
  }
}

function isEmptyConfigFile(path: string): boolean {
  if (!isConfigFile(basename(path))) return false;
  try {
    const st = statSync(path);
    return st.isFile() && st.size === 0;
  } catch {
    return false;
  }
}

function isHiddenPath(rel: string): boolean {
  return rel.split(/[\\/]/).some((seg) => seg.startsWith("."));
}

async function treeSignature(dir: string, depth = 0): Promise<string> {
  if (depth > 32) return "";
  let names: string[];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    return "<missing>";
  }
  const parts: string[] = [];
  for (const n of names) {
    if (n.startsWith(".")) continue;
    const full = join(dir, n);
    try {
      const st = await stat(full);
      if (st.isDirectory()) parts.push(`${n}/{${await treeSignature(full, depth + 1)}}`);
      else parts.push(`${n}:${st.size}:${st.mtimeMs}:${st.ino}`);
    } catch {
      // vanished between readdir and stat
    }
  }
  return parts.join("|");
}
