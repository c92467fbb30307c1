// Loads a folder of YAML/JSON the way loadDirectory() does, but keeps each file's parse result and
// re-reads only the files a watch event named: a one-file change in a large folder costs that file
// plus a pass over the object list with cached keys. Anything it cannot place (a directory event, an
// event without a name, a file outside the directories seen) falls back to a full scan of the tree.
// The result equals loadDirectory(dir, new ParseCache({ shared: true })) on the same tree: unchanged
// documents are the same objects on every load (read-only from here on).
import { readFileSync, statSync, type Stats } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, relative, sep } from "node:path";
import { duplicateDiagnostic, isConfigFile, labelExplicitNamespaces, NAMESPACE_NAME_LABEL, walkConfigTree, type LoadResult } from "../../resources/index.js";
import { parseFile } from "../../resources/parse.js";
import { refKey, refOf, type Diagnostic, type LoadedObject } from "../../resources/types.js";

interface FileEntry {
  /** null: the file could not be read (the result carries the diagnostic). */
  text: string | null;
  result: LoadResult;
  /** refKey of each of result.objects. */
  keys: string[];
  /** What the file's objects contribute to the namespace pass, made once per entry (see namespacesOf). */
  namespaces?: FileNamespaces;
}

/** A file's Namespace objects, and the namespaces its objects use with the first object using each, in order. */
interface FileNamespaces {
  explicit: LoadedObject[];
  used: { ns: string; first: LoadedObject }[];
}

/** Largest file reparseRouteFile() parses again: a few dozen routes, well under a millisecond or two. */
const REPARSE_MAX_CHARS = 64 * 1024;

function namespacesOf(objects: readonly LoadedObject[]): FileNamespaces {
  const explicit: LoadedObject[] = [];
  const used: { ns: string; first: LoadedObject }[] = [];
  const seen = new Set<string>();
  for (const o of objects) {
    if (o.object.apiVersion === "v1" && o.object.kind === "Namespace") explicit.push(o);
    const ns = o.object.metadata.namespace;
    if (ns === undefined || seen.has(ns)) continue;
    seen.add(ns);
    used.push({ ns, first: o });
  }
  return { explicit, used };
}

export class FolderLoader {
  private readonly files = new Map<string, FileEntry>();
  /** How many loaded objects (over all files) have each refKey; `shared` counts the keys held more than once. */
  private readonly counts = new Map<string, number>();
  private shared = 0;
  /** Config file paths in the order a full walk lists them. */
  private order: string[] = [];
  /** Directories the last full walk entered (the ones whose files a named event can stand for). */
  private dirs = new Set<string>();
  private dirty = new Set<string>();
  private fullNext = true;
  /** Made-up Namespaces by name: the same object while the name is used (its LoadedObject while the first user is the same). */
  private implicit = new Map<string, { from: LoadedObject; lo: LoadedObject }>();
  /** What the last load() read: for tests and the change profile. */
  stats = { full: false, filesRead: 0 };

  constructor(private readonly root: string) {}

  /** A watch event named this path (null: unknown, everything is checked on the next load). */
  touch(path: string | null): void {
    if (path === null) this.fullNext = true;
    else this.dirty.add(path);
  }

  /** The next load walks the whole tree. */
  rescan(): void {
    this.fullNext = true;
  }

  /**
   * The folder as it is now. `beforeWalk` runs before a full walk reads anything (the provider
   * re-syncs its watchers there, so changes made during the walk are seen).
   */
  async load(beforeWalk: () => Promise<void>): Promise<LoadResult> {
    const dirty = this.dirty;
    this.dirty = new Set();
    this.stats = { full: false, filesRead: 0 };
    let full = this.fullNext;
    this.fullNext = false;
    if (!full) full = !this.applyDirty(dirty);
    if (full) {
      await beforeWalk();
      const walked = await this.walk();
      if ("error" in walked) {
        this.fullNext = true;
        return { objects: [], diagnostics: [walked.error] };
      }
      this.stats.full = true;
      const seen = new Set<string>();
      const order: string[] = [];
      for (const file of walked.files) {
        if (await this.read(file)) {
          seen.add(file);
          order.push(file);
        }
      }
      for (const f of [...this.files.keys()]) if (!seen.has(f)) this.setFile(f, undefined);
      this.order = order;
      this.dirs = walked.dirs;
    }
    return this.assemble();
  }

  /**
   * Re-reads the named paths; false when one of them needs a full walk. Synchronously: a change
   * names a file or a few, and each trip through the thread pool and back cost 0.3-2 ms of waiting
   * (more on a busy machine), while the stat and read themselves take microseconds.
   */
  private applyDirty(dirty: Set<string>): boolean {
    for (const path of [...dirty].sort()) {
      if (!this.dirs.has(dirname(path))) return false;
      let st: Stats | undefined;
      try {
        st = statSync(path, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (st === undefined) {
        if (this.dirs.has(path)) return false; // a directory went away
        if (this.files.has(path)) {
          this.setFile(path, undefined);
          this.order.splice(this.order.indexOf(path), 1);
        }
        continue;
      }
      if (st.isDirectory()) return false;
      if (!st.isFile() || !isConfigFile(basename(path))) continue;
      const known = this.files.has(path);
      if (!this.readNow(path)) {
        if (known) this.order.splice(this.order.indexOf(path), 1);
        continue;
      }
      if (!known) this.order.splice(this.position(path), 0, path);
    }
    return true;
  }

  /** Reads one file into `files`; false when it vanished meanwhile (ENOENT). */
  private async read(file: string): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      return this.unreadable(file, e);
    }
    return this.keep(file, text);
  }

  /** read(), synchronously (see applyDirty). */
  private readNow(file: string): boolean {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return this.unreadable(file, e);
    }
    return this.keep(file, text);
  }

  private unreadable(file: string, e: unknown): boolean {
    const code = (e as NodeJS.ErrnoException).code;
    this.setFile(file, undefined);
    if (code === "ENOENT") return false; // deleted while we were listing: the next reload sees the final state
    this.setFile(file, { text: null, result: { objects: [], diagnostics: [{ severity: "error", source: { file, line: 1, column: 1 }, message: `cannot read the file: ${code ?? (e as Error).message}`, expected: "a readable file" }] } });
    return true;
  }

  private keep(file: string, text: string): boolean {
    this.stats.filesRead++;
    const hit = this.files.get(file);
    if (hit && hit.text === text) return true;
    this.setFile(file, { text, result: parseFile(text, file) });
    return true;
  }

  /** Replaces (or with undefined removes) a file's entry, keeping the key counts. */
  private setFile(file: string, entry: Omit<FileEntry, "keys"> | undefined): void {
    const old = this.files.get(file);
    if (old) {
      for (const k of old.keys) {
        const n = this.counts.get(k)!;
        if (n === 2) this.shared--;
        if (n === 1) this.counts.delete(k);
        else this.counts.set(k, n - 1);
      }
      this.files.delete(file);
    }
    if (!entry) return;
    const keys = entry.result.objects.map((o) => refKey(refOf(o.object)));
    for (const k of keys) {
      const n = (this.counts.get(k) ?? 0) + 1;
      if (n === 2) this.shared++;
      this.counts.set(k, n);
    }
    this.files.set(file, { ...entry, keys });
  }

  /**
   * The smallest file holding only HTTPRoutes, parsed again from its cached text: its objects as they
   * were (by position) and fresh, equal copies, as a rewrite of that file would give them. For
   * rehearsing a route change (FileProvider.rehearsal); nothing here changes. null when no file fits.
   * Files longer than `maxBytes` characters are left out: the parse runs in one turn of the event loop.
   */
  reparseRouteFile(maxBytes = REPARSE_MAX_CHARS): { was: readonly LoadedObject[]; now: LoadedObject[] } | null {
    let best: FileEntry | undefined;
    let bestFile = "";
    for (const file of this.order) {
      const e = this.files.get(file)!;
      const { objects, diagnostics } = e.result;
      if (e.text === null || e.text.length > maxBytes || objects.length === 0 || diagnostics.length > 0) continue;
      if (objects.some((o) => o.object.kind !== "HTTPRoute")) continue;
      if (best === undefined || e.text.length < best.text!.length) [best, bestFile] = [e, file];
    }
    if (best === undefined) return null;
    const again = parseFile(best.text!, bestFile);
    if (again.diagnostics.length > 0 || again.objects.length !== best.result.objects.length) return null;
    namespacesOf(again.objects);
    return { was: best.result.objects, now: again.objects };
  }

  /** Where a new path goes in walk order: entries of a directory sorted by name, depth first. */
  private position(path: string): number {
    const segs = (p: string): string[] => relative(this.root, p).split(sep);
    const mine = segs(path);
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareSegments(segs(this.order[mid]!), mine) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Config files in walk order and the directories entered; null when the root is not a folder. */
  private async walk(): Promise<{ files: string[]; dirs: Set<string> } | { error: Diagnostic }> {
    const at = { file: this.root, line: 1, column: 1 };
    try {
      if (!(await stat(this.root)).isDirectory()) return { error: { severity: "error", source: at, message: "the configuration path is not a folder", expected: "a folder of *.yaml, *.yml or *.json files" } };
    } catch (e) {
      return { error: { severity: "error", source: at, message: `cannot read the configuration folder: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, expected: "an existing, readable folder" } };
    }
    return walkConfigTree(this.root);
  }

  /** Every file's objects in walk order, then the cross-object steps: duplicates, namespaces. */
  private assemble(): LoadResult {
    const objects: LoadedObject[] = [];
    const diagnostics: Diagnostic[] = [];
    const duplicates: Diagnostic[] = [];
    // Only when some key is held twice (the counts say) is there a first copy to find.
    const byKey = this.shared > 0 ? new Map<string, LoadedObject>() : null;
    for (const file of this.order) {
      const { result: r, keys } = this.files.get(file)!;
      for (const d of r.diagnostics) diagnostics.push(d);
      if (byKey === null) {
        for (const o of r.objects) objects.push(o);
        continue;
      }
      for (let i = 0; i < r.objects.length; i++) {
        const o = r.objects[i]!;
        const first = byKey.get(keys[i]!);
        if (first === undefined) {
          byKey.set(keys[i]!, o);
          objects.push(o);
        } else duplicates.push(duplicateDiagnostic(o, first));
      }
    }
    for (const d of duplicates) diagnostics.push(d);
    // Without duplicates every file's objects are all there: its namespace summary stands for them.
    if (byKey === null) return { objects: this.addFileNamespaces(objects), diagnostics };
    return { objects: this.addNamespaces(objects), diagnostics };
  }

  /**
   * addNamespaces() from each file's summary (made when the file was read): the same objects, made up
   * from the same first users, with a pass over the files rather than over every object.
   */
  private addFileNamespaces(objects: LoadedObject[]): LoadedObject[] {
    const explicit = new Set<string>();
    const summaries: FileNamespaces[] = [];
    for (const file of this.order) {
      const entry = this.files.get(file)!;
      const sum = (entry.namespaces ??= namespacesOf(entry.result.objects));
      summaries.push(sum);
      if (sum.explicit.length > 0) for (const name of labelExplicitNamespaces(sum.explicit)) explicit.add(name);
    }
    const next = new Map<string, { from: LoadedObject; lo: LoadedObject }>();
    const out = objects.slice();
    for (const sum of summaries) {
      for (const { ns, first } of sum.used) {
        if (explicit.has(ns) || next.has(ns)) continue;
        const made = this.madeNamespace(ns, first);
        next.set(ns, made);
        out.push(made.lo);
      }
    }
    this.implicit = next;
    return out;
  }

  /** The made-up Namespace `ns`, first used by `o`: last time's object, with `o`'s source. */
  private madeNamespace(ns: string, o: LoadedObject): { from: LoadedObject; lo: LoadedObject } {
    let made = this.implicit.get(ns);
    if (made === undefined || made.from !== o) {
      // Its source is where the namespace is first used; the object is the same for a name.
      const source = o.locate("metadata.namespace");
      const object = made?.lo.object ?? { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { [NAMESPACE_NAME_LABEL]: ns } } };
      made = { from: o, lo: { object, source, locate: () => source } };
    }
    return made;
  }

  /** Every namespace used exists: explicit Namespace objects get the name label, missing ones are made up. */
  private addNamespaces(objects: LoadedObject[]): LoadedObject[] {
    const explicit = labelExplicitNamespaces(objects);
    const next = new Map<string, { from: LoadedObject; lo: LoadedObject }>();
    const out = objects.slice();
    for (const o of objects) {
      const ns = o.object.metadata.namespace;
      if (ns === undefined || explicit.has(ns) || next.has(ns)) continue;
      const made = this.madeNamespace(ns, o);
      next.set(ns, made);
      out.push(made.lo);
    }
    this.implicit = next;
    return out;
  }
}

function compareSegments(a: string[], b: string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}
