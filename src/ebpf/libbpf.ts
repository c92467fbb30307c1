// A small binding to the system libbpf.so.1 through koffi: only the calls the loader needs.
// Conventions (libbpf 1.x): int-returning calls give -errno; pointer-returning calls give NULL and
// set errno. Every wrapper here turns both into a thrown BpfError naming the call and the errno.
import { createRequire } from "node:module";
import { constants } from "node:os";
import type * as KoffiNs from "koffi";
import { childLog } from "../observe/log.js";
import { errnoName, libc as loadLibc } from "../sys/libc.js";

type Koffi = typeof KoffiNs;
/** An opaque C pointer as koffi hands it over (never dereferenced in JS). */
export type Ptr = { readonly __ptr: unique symbol };

export class BpfError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
    detail?: string,
  ) {
    super(`${call} failed: ${errnoName(errno)}${detail ? ` (${detail})` : ""}`);
    this.name = "BpfError";
  }
}

export interface Libbpf {
  version: string;
  objectOpenFile(path: string): Ptr;
  objectLoad(obj: Ptr): void;
  objectClose(obj: Ptr): void;
  findProgram(obj: Ptr, name: string): Ptr;
  findMap(obj: Ptr, name: string): Ptr;
  programFd(prog: Ptr): number;
  mapFd(map: Ptr): number;
  /** Attaches through a BPF link (the kernel detaches it when the last fd closes). */
  attachXdp(prog: Ptr, ifindex: number): Ptr;
  linkFd(link: Ptr): number;
  linkDestroy(link: Ptr): void;
  /** bpf_link_create(prog_fd, target_fd, attach_type, NULL): returns the link fd. */
  linkCreate(progFd: number, targetFd: number, attachType: number): number;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags?: number): void;
  mapDelete(fd: number, key: Buffer): boolean;
  /** Fills `value`; false when the key is absent. */
  mapLookup(fd: number, key: Buffer, value: Buffer): boolean;
  possibleCpus(): number;
  /** bpf_prog_load of raw instructions; returns the program fd (close it with closeFd). */
  progLoad(progType: number, name: string, insns: Buffer): number;
  closeFd(fd: number): void;
  setns(fd: number, nstype: number): void;
  /** if_nametoindex in the calling thread's network namespace; 0 when there is no such interface. */
  ifIndex(name: string): number;
  /** Text logged by libbpf during the last call that failed (the verifier's log, for instance). */
  lastMessages(): string[];
  /** bpf_map_create with map_flags (and an inner map fd for map-in-map); returns the map fd. */
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags?: number): number;
  /** bpf_map_update_batch: `count` keys and values laid out back to back, in one syscall. */
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number): void;
  /** bpf_map_get_fd_by_id: an fd of a map another process (or program) holds. */
  mapFdById(id: number): number;
  /** The kernel's name of the map behind an fd (bpf_obj_get_info_by_fd). */
  mapName(fd: number): string;
  /** bpf_prog_attach(prog_fd, target_fd, attach_type, flags): programs attached to a map or a cgroup fd. */
  progAttach(progFd: number, targetFd: number, attachType: number, flags?: number): void;
  /** bpf_prog_detach2; false when that program was not attached there. */
  progDetach(progFd: number, targetFd: number, attachType: number): boolean;
  /** Ids of every BPF map on the host (root only), in id order. */
  mapIds(): number[];
  /** bpf_obj_get_info_by_fd for a map: its type, sizes and name. */
  mapInfo(fd: number): BpfMapInfo;
  /** getsockopt(fd, level, name) into `out`; returns the length the kernel wrote. */
  getsockopt(fd: number, level: number, name: number, out: Buffer): number;
  /** setsockopt with an int value. */
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
}

export interface BpfMapInfo {
  type: number;
  id: number;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  name: string;
}

export const BPF_TCX_INGRESS = 46;
/** enum bpf_attach_type values used with progAttach / linkCreate. */
export const BPF_CGROUP_SOCK_OPS = 3;
export const BPF_SK_SKB_STREAM_VERDICT = 5;
export const BPF_SK_MSG_VERDICT = 7;
/** cgroup sock_addr attach types (linux/bpf.h enum bpf_attach_type). */
export const BPF_CGROUP_INET4_CONNECT = 10;
export const BPF_CGROUP_INET6_CONNECT = 11;
export const BPF_CGROUP_UDP4_SENDMSG = 14;
export const BPF_CGROUP_UDP6_SENDMSG = 15;
export const BPF_CGROUP_UDP4_RECVMSG = 19;
export const BPF_CGROUP_UDP6_RECVMSG = 20;
export const BPF_CGROUP_INET4_GETPEERNAME = 29;
export const BPF_CGROUP_INET6_GETPEERNAME = 30;
export const BPF_MAP_TYPE_ARRAY = 2;
export const BPF_F_INNER_MAP = 1 << 12;
export const CLONE_NEWNET = 0x40000000;

let cached: Libbpf | undefined;
let loadError: string | undefined;

/** Loads the binding once. Throws a one-sentence error when koffi or libbpf.so.1 is unavailable. */
export function libbpf(): Libbpf {
  if (cached) return cached;
  if (loadError) throw new Error(loadError);
  try {
    cached = bind();
    return cached;
  } catch (e) {
    loadError = `libbpf is not usable: ${(e as Error).message}`;
    throw new Error(loadError);
  }
}

function bind(): Libbpf {
  const require = createRequire(import.meta.url);
  const koffi = require("koffi") as Koffi;
  const lib = koffi.load("libbpf.so.1");
  const libc = loadLibc();
  const log = childLog("ebpf");

  const fn = <R>(decl: string): ((...args: unknown[]) => R) => lib.func(decl) as (...args: unknown[]) => R;

  const major = fn<number>("int libbpf_major_version()")();
  const minor = fn<number>("int libbpf_minor_version()")();

  // libbpf's print callback: format the va_list with vsnprintf and route the line into our log.
  // Recent messages are kept so a failed load can say why (a verifier rejection is otherwise just EACCES).
  const vsnprintf = libc.vsnprintf;
  const printProto = koffi.proto("int sluice_libbpf_print_fn(int level, const char *fmt, void *ap)");
  const buf = Buffer.alloc(16384);
  let recent: string[] = [];
  const printer = koffi.register((level: number, fmt: string, ap: unknown) => {
    const n = vsnprintf(buf, buf.length, fmt, ap);
    const text = buf.subarray(0, Math.max(0, Math.min(n, buf.length - 1))).toString("utf8").trimEnd();
    if (!text) return 0;
    recent.push(text);
    if (recent.length > 200) recent = recent.slice(-100);
    // libbpf levels: 0 warn, 1 info, 2 debug.
    if (level === 0) log.warn({ libbpf: text }, "libbpf");
    else if (level === 1) log.debug({ libbpf: text }, "libbpf");
    else log.trace({ libbpf: text }, "libbpf");
    return 0;
  }, koffi.pointer(printProto));
  fn<unknown>("void *libbpf_set_print(sluice_libbpf_print_fn *fn)")(printer);

  const openFile = fn<Ptr | null>("void *bpf_object__open_file(const char *path, void *opts)");
  const load = fn<number>("int bpf_object__load(void *obj)");
  const close = fn<void>("void bpf_object__close(void *obj)");
  const findProg = fn<Ptr | null>("void *bpf_object__find_program_by_name(void *obj, const char *name)");
  const findMap = fn<Ptr | null>("void *bpf_object__find_map_by_name(void *obj, const char *name)");
  const progFd = fn<number>("int bpf_program__fd(void *prog)");
  const mapFd = fn<number>("int bpf_map__fd(void *map)");
  const attachXdp = fn<Ptr | null>("void *bpf_program__attach_xdp(void *prog, int ifindex)");
  const linkFd = fn<number>("int bpf_link__fd(void *link)");
  const linkDestroy = fn<number>("int bpf_link__destroy(void *link)");
  const linkCreate = fn<number>("int bpf_link_create(int prog_fd, int target_fd, int attach_type, void *opts)");
  const update = fn<number>("int bpf_map_update_elem(int fd, void *key, void *value, uint64_t flags)");
  const del = fn<number>("int bpf_map_delete_elem(int fd, void *key)");
  const lookup = fn<number>("int bpf_map_lookup_elem(int fd, void *key, _Out_ void *value)");
  const cpus = fn<number>("int libbpf_num_possible_cpus()");
  const progLoad = fn<number>("int bpf_prog_load(int type, const char *name, const char *license, void *insns, size_t cnt, void *opts)");
  const mapCreate = fn<number>("int bpf_map_create(int type, const char *name, uint32_t key_size, uint32_t value_size, uint32_t max_entries, void *opts)");
  const updateBatch = fn<number>("int bpf_map_update_batch(int fd, void *keys, void *values, _Inout_ uint32_t *count, void *opts)");
  const mapFdById = fn<number>("int bpf_map_get_fd_by_id(uint32_t id)");
  const objInfo = fn<number>("int bpf_obj_get_info_by_fd(int fd, _Inout_ void *info, _Inout_ uint32_t *len)");
  const closeFd = libc.close;
  const setns = libc.setns;
  const ifNameToIndex = libc.if_nametoindex;
  const progAttach = fn<number>("int bpf_prog_attach(int prog_fd, int attachable_fd, int type, unsigned int flags)");
  const progDetach2 = fn<number>("int bpf_prog_detach2(int prog_fd, int attachable_fd, int type)");
  const mapNextId = fn<number>("int bpf_map_get_next_id(uint32_t start_id, _Out_ uint32_t *next_id)");
  const getsockopt = libc.getsockopt;
  const setsockopt = libc.setsockopt;

  const mark = () => {
    recent = [];
  };
  const check = (call: string, rc: number): void => {
    if (rc < 0) throw new BpfError(call, -rc);
  };
  const ptr = (call: string, p: Ptr | null): Ptr => {
    if (!p) throw new BpfError(call, koffi.errno() || 1);
    return p;
  };

  return {
    version: `${major}.${minor}`,
    objectOpenFile(path) {
      mark();
      return ptr(`bpf_object__open_file(${path})`, openFile(path, null));
    },
    objectLoad(obj) {
      mark();
      const rc = load(obj);
      if (rc < 0) {
        // Keep the verifier's conclusion (the end of its log) and libbpf's own summary lines.
        const lines = recent.flatMap((m) => m.split("\n")).filter((l) => l && !/^libbpf: (prog|map) '.*': (found|created)/.test(l));
        const why = (lines.length > 24 ? [...lines.slice(0, 2), "...", ...lines.slice(-20)] : lines).join(" | ");
        throw new BpfError("bpf_object__load", -rc, why || undefined);
      }
    },
    objectClose: (obj) => close(obj),
    findProgram: (obj, name) => ptr(`bpf_object__find_program_by_name(${name})`, findProg(obj, name)),
    findMap: (obj, name) => ptr(`bpf_object__find_map_by_name(${name})`, findMap(obj, name)),
    programFd: (p) => progFd(p),
    mapFd: (m) => mapFd(m),
    attachXdp(prog, ifindex) {
      mark();
      return ptr(`bpf_program__attach_xdp(ifindex ${ifindex})`, attachXdp(prog, ifindex));
    },
    linkFd: (l) => linkFd(l),
    linkDestroy: (l) => void linkDestroy(l),
    linkCreate(prog, target, type) {
      const rc = linkCreate(prog, target, type, null);
      check(`bpf_link_create(attach_type ${type})`, rc);
      return rc;
    },
    mapUpdate: (fd, key, value, flags = 0) => check("bpf_map_update_elem", update(fd, key, value, flags)),
    mapDelete(fd, key) {
      const rc = del(fd, key);
      if (rc === -constants.errno.ENOENT) return false;
      check("bpf_map_delete_elem", rc);
      return true;
    },
    mapLookup(fd, key, value) {
      const rc = lookup(fd, key, value);
      if (rc === -constants.errno.ENOENT) return false;
      check("bpf_map_lookup_elem", rc);
      return true;
    },
    possibleCpus() {
      const n = cpus();
      if (n <= 0) throw new BpfError("libbpf_num_possible_cpus", -n);
      return n;
    },
    progLoad(type, name, insns) {
      mark();
      const rc = progLoad(type, name, "GPL", insns, insns.length / 8, null);
      check(`bpf_prog_load(${name})`, rc);
      return rc;
    },
    closeFd: (fd) => void closeFd(fd),
    setns(fd, nstype) {
      if (setns(fd, nstype) !== 0) throw new BpfError("setns", koffi.errno());
    },
    ifIndex: (name) => ifNameToIndex(name),
    lastMessages: () => [...recent],
    mapCreate(type, name, keySize, valueSize, maxEntries, flags = 0) {
      // struct bpf_map_create_opts (libbpf 1.x): sz, btf_fd, btf_key/value/vmlinux_value_type_id,
      // inner_map_fd, map_flags @28, map_extra, numa_node, map_ifindex: 48 bytes.
      const opts = Buffer.alloc(48);
      opts.writeBigUInt64LE(48n, 0);
      opts.writeUInt32LE(flags >>> 0, 28);
      mark();
      const rc = mapCreate(type, name, keySize, valueSize, maxEntries, opts);
      check(`bpf_map_create(${name})`, rc);
      return rc;
    },
    mapUpdateBatch(fd, keys, values, count) {
      // struct bpf_map_batch_opts: sz, elem_flags, flags.
      const opts = Buffer.alloc(24);
      opts.writeBigUInt64LE(24n, 0);
      const n = [count];
      check("bpf_map_update_batch", updateBatch(fd, keys, values, n, opts));
    },
    mapFdById(id) {
      const rc = mapFdById(id);
      check(`bpf_map_get_fd_by_id(${id})`, rc);
      return rc;
    },
    mapName(fd) {
      // struct bpf_map_info: name[16] at offset 24, 88 bytes in all.
      const info = Buffer.alloc(88);
      const len = [88];
      check("bpf_obj_get_info_by_fd", objInfo(fd, info, len));
      const name = info.subarray(24, 40);
      const end = name.indexOf(0);
      return name.subarray(0, end < 0 ? 16 : end).toString("utf8");
    },
    progAttach(prog, target, type, flags = 0) {
      mark();
      check(`bpf_prog_attach(attach_type ${type})`, progAttach(prog, target, type, flags));
    },
    progDetach(prog, target, type) {
      const rc = progDetach2(prog, target, type);
      if (rc === -constants.errno.ENOENT) return false;
      check(`bpf_prog_detach2(attach_type ${type})`, rc);
      return true;
    },
    mapIds() {
      const ids: number[] = [];
      const next = [0];
      let id = 0;
      // Bounded: ids come back strictly increasing from a finite space.
      for (let i = 0; i < 1_000_000; i++) {
        const rc = mapNextId(id, next);
        if (rc === -constants.errno.ENOENT) break;
        check("bpf_map_get_next_id", rc);
        id = next[0]!;
        ids.push(id);
      }
      return ids;
    },
    mapInfo(fd) {
      // struct bpf_map_info: type, id, key_size, value_size, max_entries, map_flags (u32 each), name[16].
      const info = Buffer.alloc(88);
      const len = [88];
      check("bpf_obj_get_info_by_fd", objInfo(fd, info, len));
      const nameBytes = info.subarray(24, 40);
      const end = nameBytes.indexOf(0);
      return {
        type: info.readUInt32LE(0),
        id: info.readUInt32LE(4),
        keySize: info.readUInt32LE(8),
        valueSize: info.readUInt32LE(12),
        maxEntries: info.readUInt32LE(16),
        name: nameBytes.subarray(0, end < 0 ? 16 : end).toString("utf8"),
      };
    },
    getsockopt(fd, level, name, out) {
      const len = [out.length];
      if (getsockopt(fd, level, name, out, len) !== 0) throw new BpfError(`getsockopt(${level}, ${name})`, koffi.errno());
      return len[0]!;
    },
    setsockoptInt(fd, level, name, value) {
      const v = Buffer.alloc(4);
      v.writeInt32LE(value);
      if (setsockopt(fd, level, name, v, 4) !== 0) throw new BpfError(`setsockopt(${level}, ${name})`, koffi.errno());
    },
  };
}
