// `mkdir -p` for kernel filesystems. node's recursive mkdirSync loops forever when mkdir fails with
// ENOENT under a directory that exists, which is what sysfs and procfs answer: /sys/fs/bpf without a
// bpffs mounted on it hung the gateway's pinning (and its tests) instead of failing.
import { existsSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/** Creates `path` and its missing parents; throws the first mkdir error other than EEXIST. */
export function makeDirs(path: string): void {
  if (existsSync(path)) return;
  const parent = dirname(path);
  if (parent !== path) makeDirs(parent);
  try {
    mkdirSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
}
