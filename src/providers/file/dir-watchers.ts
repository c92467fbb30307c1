// One non-recursive fs.watch per directory of the tree. Unlike a per-file watch (which Node's
// recursive watch uses on Linux), a directory watch survives editors replacing files by rename.
import { watch, type FSWatcher } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

interface Watched {
  watcher: FSWatcher;
  id: string;
}

export class DirWatchers {
  private readonly watched = new Map<string, Watched>();
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly onChange: (path: string, name: string | null, event: "rename" | "change") => void,
    private readonly onFailure: (err: Error) => void,
  ) {}

  get size(): number {
    return this.watched.size;
  }

  /** Brings the set of watched directories in line with the tree on disk. Throws when fs.watch is unusable. */
  async sync(): Promise<void> {
    if (this.closed) return;
    const dirs = await listDirs(this.root);
    if (this.closed) return;
    for (const [path, w] of this.watched) {
      if (dirs.get(path) !== w.id) {
        w.watcher.close();
        this.watched.delete(path);
      }
    }
    for (const [path, id] of dirs) {
      if (this.watched.has(path)) continue;
      let watcher: FSWatcher;
      try {
        watcher = watch(path, { persistent: true }, (event, name) => this.onChange(path, name === null ? null : String(name), event));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") continue; // vanished meanwhile: the next sync settles it
        throw e;
      }
      watcher.on("error", (err) => {
        watcher.close();
        if (this.watched.get(path)?.watcher === watcher) this.watched.delete(path);
        this.onFailure(err);
      });
      this.watched.set(path, { watcher, id });
    }
  }

  close(): void {
    this.closed = true;
    for (const w of this.watched.values()) w.watcher.close();
    this.watched.clear();
  }
}

/** Directory path -> "dev:ino" for the root and every non-hidden subdirectory (symlinks followed, loops cut). */
async function listDirs(root: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const ids = new Set<string>();
  const walk = async (dir: string, depth: number): Promise<void> => {
    let st;
    try {
      st = await stat(dir);
    } catch {
      return;
    }
    if (!st.isDirectory()) return;
    const id = `${st.dev}:${st.ino}`;
    if (ids.has(id) || depth > 32) return;
    ids.add(id);
    out.set(dir, id);
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      return;
    }
    for (const n of names.sort()) if (!n.startsWith(".")) await walk(join(dir, n), depth + 1);
  };
  await walk(root, 0);
  return out;
}
