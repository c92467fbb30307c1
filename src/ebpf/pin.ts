// bpffs and pinning: what keeps the edge policy in the kernel across a restart of the gateway.
// Layout, per interface: <bpffs>/sluice/<interface>/{link, src4, src6, ports, config, counters, meta}.
// `link` holds the XDP or tcx attachment, the maps hold the policy, `meta` (a map we create from
// userspace) names the counter slots and records which process owns the directory.
// The calls here are bound separately from libbpf.ts (same library) so that file stays the
// loader's; they follow the same conventions (int calls give -errno, thrown as BpfError).
import { createRequire } from "node:module";
import { existsSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { join } from "node:path";
import type * as KoffiNs from "koffi";
import { mountsOfType } from "./capabilities.js";
import { BpfError, libbpf, type Ptr } from "./libbpf.js";
import { libc } from "../sys/libc.js";
import { makeDirs } from "../util/make-dirs.js";

type Koffi = typeof KoffiNs;

export const BPF_XDP = 37;
export const BPF_LINK_TYPE_XDP = 6;
export const BPF_LINK_TYPE_TCX = 11;
const BPF_MAP_TYPE_HASH = 1;

/** The maps of bpf/policy.bpf.c that carry state worth keeping across a restart. */
export const PINNED_MAPS = ["src4", "src6", "ports", "config", "counters"] as const;
export const META_KEY_OWNER = 0xffffffff;
const META_VALUE_SIZE = 256;
const META_MAX = 4097;

export interface PinSys {
  setPinPath(map: Ptr, path: string): void;
  objPin(fd: number, path: string): void;
  /** bpf_obj_get; undefined when nothing is pinned there. */
  objGet(path: string): number | undefined;
  linkUpdate(linkFd: number, progFd: number): void;
  linkDetach(linkFd: number): void;
  linkInfo(fd: number): { type: number; id: number; progId: number; ifindex: number };
  nextKey(fd: number, key: Buffer | null, next: Buffer): boolean;
  mount(source: string, target: string, fstype: string, data: string): void;
}

let cached: PinSys | undefined;

export function pinSys(): PinSys {
  if (cached) return cached;
  libbpf(); // the loader's binding first: it says clearly when libbpf is missing
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as Koffi;
  const lib = koffi.load("libbpf.so.1");
  const { mount } = libc();
  const fn = <R>(decl: string): ((...args: unknown[]) => R) => lib.func(decl) as (...args: unknown[]) => R;
  const setPin = fn<number>("int bpf_map__set_pin_path(void *map, const char *path)");
  const objPin = fn<number>("int bpf_obj_pin(int fd, const char *pathname)");
  const objGet = fn<number>("int bpf_obj_get(const char *pathname)");
  const linkUpdate = fn<number>("int bpf_link_update(int link_fd, int new_prog_fd, void *opts)");
  const linkDetach = fn<number>("int bpf_link_detach(int link_fd)");
  const info = fn<number>("int bpf_obj_get_info_by_fd(int fd, _Inout_ uint8_t *info, _Inout_ uint32_t *len)");
  const nextKey = fn<number>("int bpf_map_get_next_key(int fd, const void *key, _Out_ uint8_t *next_key)");
  const check = (call: string, rc: number): void => {
    if (rc < 0) throw new BpfError(call, -rc);
  };
  cached = {
    setPinPath: (map, path) => check(`bpf_map__set_pin_path(${path})`, setPin(map, path)),
    objPin: (fd, path) => check(`bpf_obj_pin(${path})`, objPin(fd, path)),
    objGet(path) {
      const rc = objGet(path);
      if (rc === -2 /* ENOENT */) return undefined;
      check(`bpf_obj_get(${path})`, rc);
      return rc;
    },
    linkUpdate: (l, p) => check("bpf_link_update", linkUpdate(l, p, null)),
    linkDetach: (l) => check("bpf_link_detach", linkDetach(l)),
    linkInfo(fd) {
      const buf = Buffer.alloc(64);
      const len = [buf.length];
      check("bpf_obj_get_info_by_fd(link)", info(fd, buf, len));
      return { type: buf.readUInt32LE(0), id: buf.readUInt32LE(4), progId: buf.readUInt32LE(8), ifindex: buf.readUInt32LE(16) };
    },
    nextKey(fd, key, next) {
      const rc = nextKey(fd, key, next);
      if (rc === -2 /* ENOENT: no more keys */) return false;
      check("bpf_map_get_next_key", rc);
      return true;
    },
    mount(source, target, fstype, data) {
      if (mount(source, target, fstype, 0, data) !== 0) throw new BpfError(`mount -t ${fstype} ${target}`, koffi.errno());
    },
  };
  return cached;
}

/** bpffs forbids dots in names (they are reserved); interface names may have them (eth0.100). */
export function pinDirName(ifname: string): string {
  return ifname.replace(/%/g, "%25").replace(/\./g, "%2e");
}

export function ifnameOfPinDir(dir: string): string {
  return dir.replace(/%2e/g, ".").replace(/%25/g, "%");
}

export interface BpffsResult {
  path: string;
  /** True when this process mounted it (it was not a bpffs mount before). */
  mounted: boolean;
}

/**
 * Makes sure `path` is a bpffs mount, mounting one when it is not (after `ip netns exec`, /sys is a
 * fresh sysfs without /sys/fs/bpf mounted). Throws with the reason when that is impossible.
 */
export function ensureBpffs(path: string): BpffsResult {
  if (mountsOfType("bpf").includes(path)) return { path, mounted: false };
  makeDirs(path);
  pinSys().mount("bpf", path, "bpf", "mode=0700");
  return { path, mounted: true };
}

/** Whether this process runs in a mount namespace of its own (a bpffs it mounts dies with it). */
export function privateMountNamespace(): boolean {
  try {
    return readlinkSync("/proc/self/ns/mnt") !== readlinkSync("/proc/1/ns/mnt");
  } catch {
    return false;
  }
}

/** Pinned interface directories under <bpffs>/sluice. */
export function pinnedInterfaces(bpffs: string): string[] {
  const root = join(bpffs, "sluice");
  try {
    return readdirSync(root).sort().map(ifnameOfPinDir);
  } catch {
    return [];
  }
}

export function pinDir(bpffs: string, ifname: string): string {
  return join(bpffs, "sluice", pinDirName(ifname));
}

/** Opens (or creates and pins) the meta map of an interface directory. */
export function openMetaMap(dir: string): number {
  const sys = pinSys();
  const path = join(dir, "meta");
  const fd = sys.objGet(path);
  if (fd !== undefined) return fd;
  const created = libbpf().mapCreate(BPF_MAP_TYPE_HASH, "sluice_meta", 4, META_VALUE_SIZE, META_MAX);
  try {
    sys.objPin(created, path);
  } catch (e) {
    libbpf().closeFd(created);
    throw e;
  }
  return created;
}

export function metaWrite(fd: number, key: number, text: string): void {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(key >>> 0);
  const v = Buffer.alloc(META_VALUE_SIZE);
  v.write(text.slice(0, META_VALUE_SIZE - 1), "utf8");
  libbpf().mapUpdate(fd, k, v);
}

export function metaDelete(fd: number, key: number): void {
  const k = Buffer.alloc(4);
  k.writeUInt32LE(key >>> 0);
  libbpf().mapDelete(fd, k);
}

/** Every entry of the meta map: slot -> rule id, plus the owner record. */
export function metaRead(fd: number): Map<number, string> {
  const out = new Map<number, string>();
  const b = libbpf();
  for (const key of mapKeys(fd, 4)) {
    const v = Buffer.alloc(META_VALUE_SIZE);
    if (!b.mapLookup(fd, key, v)) continue;
    const end = v.indexOf(0);
    out.set(key.readUInt32LE(0), v.subarray(0, end < 0 ? v.length : end).toString("utf8"));
  }
  return out;
}

/** Keys of a map (bounded by `limit`), in the kernel's iteration order. */
export function mapKeys(fd: number, keySize: number, limit = 1_000_000): Buffer[] {
  const sys = pinSys();
  const keys: Buffer[] = [];
  let prev: Buffer | null = null;
  while (keys.length < limit) {
    const next = Buffer.alloc(keySize);
    if (!sys.nextKey(fd, prev, next)) break;
    keys.push(next);
    prev = next;
  }
  return keys;
}

export interface Owner {
  pid: number;
  netns: string;
  ifname: string;
  ifindex: number;
}

export function ownerRecord(ifname: string, ifindex: number): Owner {
  let netns = "";
  try {
    netns = readlinkSync("/proc/self/ns/net");
  } catch {
    // unknown
  }
  return { pid: process.pid, netns, ifname, ifindex };
}

export function parseOwner(text: string | undefined): Owner | undefined {
  if (!text) return undefined;
  try {
    const o = JSON.parse(text) as Owner;
    return typeof o.pid === "number" ? o : undefined;
  } catch {
    return undefined;
  }
}

export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes an interface directory: the link is detached first (even if some other process still
 * holds an fd on it), then every pin is unlinked, which releases the maps.
 */
export function removePinDir(dir: string): void {
  const sys = pinSys();
  const linkPath = join(dir, "link");
  if (existsSync(linkPath)) {
    const fd = sys.objGet(linkPath);
    if (fd !== undefined) {
      try {
        sys.linkDetach(fd);
      } finally {
        libbpf().closeFd(fd);
      }
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
