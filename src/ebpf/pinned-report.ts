// What running (or crashed) gateways left pinned under <bpffs>/sluice: read from the pins alone,
// so `sluice doctor` can show it from another process: link, program, map sizes and counters.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { libbpf } from "./libbpf.js";
import {
  BPF_LINK_TYPE_TCX,
  BPF_LINK_TYPE_XDP,
  META_KEY_OWNER,
  mapKeys,
  metaRead,
  parseOwner,
  pinDir,
  pinnedInterfaces,
  pinSys,
  PINNED_MAPS,
  processAlive,
} from "./pin.js";
import { SLOT_DEFAULT_DROP, SLOT_DEFAULT_PASS, SLOT_NOT_IP } from "./policy-map.js";

export interface PinnedCounter {
  packets: number;
  bytes: number;
}

export interface PinnedInterface {
  ifname: string;
  dir: string;
  owner?: { pid: number; alive: boolean; netns: string };
  link?: { mode: string; linkId: number; programId: number; ifindex: number; ifindexNow: number };
  maps: Record<string, { entries: number; maxEntries: number }>;
  counters?: { rules: Record<string, PinnedCounter>; defaultPass: PinnedCounter; defaultDrop: PinnedCounter; notIp: PinnedCounter };
  error?: string;
}

const KEY_SIZES: Record<string, number> = { src4: 8, src6: 20, ports: 12, config: 4, counters: 4 };

export function inspectPinned(bpffs: string): PinnedInterface[] {
  return pinnedInterfaces(bpffs).map((ifname) => inspectOne(bpffs, ifname));
}

function inspectOne(bpffs: string, ifname: string): PinnedInterface {
  const dir = pinDir(bpffs, ifname);
  const out: PinnedInterface = { ifname, dir, maps: {} };
  const b = libbpf();
  const sys = pinSys();
  const opened: number[] = [];
  const open = (name: string): number | undefined => {
    if (!existsSync(join(dir, name))) return undefined;
    const fd = sys.objGet(join(dir, name));
    if (fd !== undefined) opened.push(fd);
    return fd;
  };
  try {
    const metaFd = open("meta");
    const meta = metaFd !== undefined ? metaRead(metaFd) : new Map<number, string>();
    const owner = parseOwner(meta.get(META_KEY_OWNER));
    if (owner) out.owner = { pid: owner.pid, alive: processAlive(owner.pid), netns: owner.netns };
    const linkFd = open("link");
    if (linkFd !== undefined) {
      const info = sys.linkInfo(linkFd);
      const mode = info.type === BPF_LINK_TYPE_XDP ? "xdp" : info.type === BPF_LINK_TYPE_TCX ? "tcx" : `link type ${info.type}`;
      out.link = { mode, linkId: info.id, programId: info.progId, ifindex: info.ifindex, ifindexNow: b.ifIndex(ifname) };
    }
    for (const m of PINNED_MAPS) {
      const fd = open(m);
      if (fd === undefined) continue;
      const info = b.mapInfo(fd);
      // Arrays always hold max_entries; count only what the tries hold.
      const entries = m === "config" || m === "counters" ? info.maxEntries : mapKeys(fd, KEY_SIZES[m]).length;
      out.maps[m] = { entries, maxEntries: info.maxEntries };
      if (m === "counters") out.counters = readCounters(fd, info.valueSize, meta);
    }
  } catch (e) {
    out.error = (e as Error).message;
  } finally {
    for (const fd of opened) b.closeFd(fd);
  }
  return out;
}

function readCounters(fd: number, valueSize: number, meta: Map<number, string>): NonNullable<PinnedInterface["counters"]> {
  const b = libbpf();
  const cpus = b.possibleCpus();
  const read = (slot: number): PinnedCounter => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(slot);
    // Per-CPU values are rounded up to 8 bytes each.
    const stride = Math.ceil(valueSize / 8) * 8;
    const value = Buffer.alloc(stride * cpus);
    const c = { packets: 0, bytes: 0 };
    if (!b.mapLookup(fd, key, value)) return c;
    for (let i = 0; i < cpus; i++) {
      c.packets += Number(value.readBigUInt64LE(i * stride));
      c.bytes += Number(value.readBigUInt64LE(i * stride + 8));
    }
    return c;
  };
  const rules: Record<string, PinnedCounter> = {};
  for (const [slot, name] of [...meta].sort((a, b2) => a[0] - b2[0])) if (slot !== META_KEY_OWNER) rules[name] = read(slot);
  return { rules, defaultPass: read(SLOT_DEFAULT_PASS), defaultDrop: read(SLOT_DEFAULT_DROP), notIp: read(SLOT_NOT_IP) };
}
