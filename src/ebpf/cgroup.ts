// The gateway's own cgroup v2: where it is, creating it, moving our processes in and out, and
// removing it. Programs attached to it (sock_ops) see only sockets of processes inside, so the
// gateway never has to attach anything to the root cgroup.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { mountsOfType } from "./capabilities.js";
import { libc } from "../sys/libc.js";
import { makeDirs } from "../util/make-dirs.js";

/** Where cgroup2 is usually mounted: hybrid layouts (systemd's "unified") first, then pure v2. */
const USUAL_MOUNTS = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"];

/**
 * The cgroup2 mount point, mounting one when there is none (inside `ip netns exec`, which
 * remounts /sys, there is none). Throws with a sentence when it can neither find nor mount one.
 */
export function cgroup2Mount(): string {
  const mounted = mountsOfType("cgroup2");
  for (const p of USUAL_MOUNTS) if (mounted.includes(p)) return p;
  if (mounted[0]) return mounted[0];
  // /sys/fs/cgroup is an empty directory of sysfs when nothing is mounted there.
  const target = existsSync("/sys/fs/cgroup") && readdirSync("/sys/fs/cgroup").length === 0 ? "/sys/fs/cgroup" : "/run/sluice/cgroup2";
  makeDirs(target);
  mountCgroup2(target);
  return target;
}

function mountCgroup2(target: string): void {
  const c = libc();
  if (c.mount("cgroup2", target, "cgroup2", 0, null) !== 0) {
    throw new Error(`no cgroup2 filesystem is mounted and mounting one on ${target} failed (errno ${c.errno()})`);
  }
}

/** The default cgroup of a gateway process: one per process, so two gateways never share programs. */
export function defaultCgroupPath(pid = process.pid): string {
  return join(cgroup2Mount(), `sluice-${pid}`);
}

/** This process's cgroup v2 path (the "0::" line), as an absolute path under `mount`. */
export function currentCgroup(mount: string, pid: number | "self" = "self"): string {
  const line = readFileSync(`/proc/${pid}/cgroup`, "utf8")
    .split("\n")
    .find((l) => l.startsWith("0::"));
  return join(mount, line ? line.slice(3) : "/");
}

export interface OwnCgroup {
  path: string;
  /** Where this process was before it moved in (it moves back there on release). */
  previous: string;
  /** Whether we created the directory (and so remove it on release). */
  created: boolean;
}

/**
 * Creates (or reuses) the cgroup at `path` under a cgroup2 mount and refuses the root cgroup.
 * Removes stale `sluice-<pid>` siblings left by gateways that crashed.
 */
export function prepareCgroup(path: string | undefined): OwnCgroup {
  const mount = cgroup2Mount();
  const target = resolve(path ?? defaultCgroupPath());
  const mounts = mountsOfType("cgroup2");
  const under = mounts.filter((m) => target === m || target.startsWith(`${m}/`)).sort((a, b) => b.length - a.length)[0];
  if (!under) throw new Error(`${target} is not inside a cgroup2 filesystem (mounted at ${mounts.join(", ") || "nowhere"})`);
  if (target === under) throw new Error(`refusing to use the root cgroup ${target}: give a child cgroup (the default is ${join(mount, "sluice-<pid>")})`);
  removeStaleCgroups(dirname(target));
  const created = !existsSync(target);
  if (created) mkdirSync(target);
  return { path: target, previous: currentCgroup(under), created };
}

/** Moves a process (default: this one) into the cgroup; children forked later start there. */
export function enterCgroup(path: string, pid = process.pid): void {
  writeFileSync(join(path, "cgroup.procs"), String(pid));
}

/** Moves this process back where it was and removes the cgroup if we created it and it is empty. */
export function releaseCgroup(cg: OwnCgroup): string | null {
  try {
    if (procsOf(cg.path).includes(process.pid)) enterCgroup(cg.previous);
  } catch (e) {
    return `could not move back to ${cg.previous}: ${(e as Error).message}`;
  }
  if (!cg.created) return null;
  try {
    rmdirSync(cg.path);
    return null;
  } catch (e) {
    return `could not remove ${cg.path}: ${(e as Error).message}`;
  }
}

export function procsOf(path: string): number[] {
  try {
    return readFileSync(join(path, "cgroup.procs"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/** `sluice-<pid>` cgroups whose gateway is gone and that hold no process. */
function removeStaleCgroups(parent: string): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => /^sluice-\d+$/.test(n));
  } catch {
    return;
  }
  for (const n of names) {
    const pid = Number(n.slice("sluice-".length));
    if (pid === process.pid || existsSync(`/proc/${pid}`)) continue;
    const p = join(parent, n);
    if (procsOf(p).length > 0) continue;
    try {
      rmdirSync(p);
    } catch {
      // Still in use or not ours to remove: leave it.
    }
  }
}
