// Loads bpf/policy.bpf.o, attaches it to interfaces (XDP first, tcx ingress otherwise), and keeps
// its maps in step with a policy model through window-free incremental updates.
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { childLog } from "../observe/log.js";
import { BPF_TCX_INGRESS, BpfError, CLONE_NEWNET, libbpf, type Libbpf, type Ptr } from "./libbpf.js";
import {
  BPF_LINK_TYPE_TCX,
  BPF_LINK_TYPE_XDP,
  BPF_XDP,
  META_KEY_OWNER,
  PINNED_MAPS,
  mapKeys,
  metaDelete,
  metaRead,
  metaWrite,
  openMetaMap,
  pinSys,
  removePinDir,
} from "./pin.js";
import { makeDirs } from "../util/make-dirs.js";
import {
  compilePolicy,
  diffPolicy,
  emptyCompiled,
  applyOps,
  MAX_SLOTS,
  FIRST_RULE_SLOT,
  SLOT_DEFAULT_DROP,
  SLOT_DEFAULT_PASS,
  SLOT_NOT_IP,
  VERDICT_ALLOW,
  VERDICT_DENY,
  type CompiledPolicy,
  type MapEntry,
  type MapName,
  type MapOp,
  type PolicyModel,
} from "./policy-map.js";

export type AttachMode = "xdp" | "tcx";

/** Where the build put a BPF object: dist/bpf/<name>.bpf.o, found from src/ (tsx) or dist/ (built). */
export function bpfObjectPath(name: string): string {
  const dir = process.env.SLUICE_BPF_DIR;
  const candidates = [
    ...(dir ? [`${dir}/${name}.bpf.o`] : []),
    fileURLToPath(new URL(`../bpf/${name}.bpf.o`, import.meta.url)),
    fileURLToPath(new URL(`../../dist/bpf/${name}.bpf.o`, import.meta.url)),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`the eBPF object ${name}.bpf.o was not built (run \`npm run build\` on a machine with clang)`);
  return found;
}

/** Runs fn with the calling (main) thread inside another network namespace, then switches back. */
export function inNetns<T>(netns: string, fn: () => T): T {
  const b = libbpf();
  const target = netns.includes("/") ? netns : `/run/netns/${netns}`;
  const own = openSync("/proc/thread-self/ns/net", "r");
  let nsFd: number | undefined;
  try {
    nsFd = openSync(target, "r");
    b.setns(nsFd, CLONE_NEWNET);
    try {
      return fn();
    } finally {
      // Failing to return would leave the whole process in the wrong namespace: make it loud.
      b.setns(own, CLONE_NEWNET);
    }
  } finally {
    if (nsFd !== undefined) closeSync(nsFd);
    closeSync(own);
  }
}

export interface Attachment {
  ifindex: number;
  ifname?: string;
  netns?: string;
  mode: AttachMode;
}

export interface AttachOptions {
  /** "auto" (default): XDP, and tcx ingress when XDP cannot attach. */
  mode?: "auto" | AttachMode;
  /** Network namespace (name under /run/netns or a path) the interface lives in. */
  netns?: string;
}

export interface Counter {
  packets: bigint;
  bytes: bigint;
}

export interface PolicyCounters {
  /** Per rule id. */
  rules: Map<string, Counter>;
  defaultPass: Counter;
  defaultDrop: Counter;
  /** Non-IP and neighbour-discovery packets, always passed. */
  notIp: Counter;
}

export interface ApplyResult {
  operations: number;
  problems: string[];
}

interface Link {
  attachment: Attachment;
  xdp?: Ptr;
  fd?: number;
  /** Pinned at <pinDir>/link: survives this process unless unpinned. */
  pinned?: boolean;
}

export interface LoadOptions {
  /**
   * Pin the state maps under this bpffs directory, and re-use the ones an earlier run pinned there
   * (their contents are the policy in force, see restore()).
   */
  pinDir?: string;
}

export interface CloseOptions {
  /** Detach pinned links and remove the pin directory (a clean stop). Default: leave pins (a restart). */
  unpin?: boolean;
}

export class EdgePolicy {
  private readonly log = childLog("ebpf-policy");
  private current: CompiledPolicy = emptyCompiled();
  private readonly links: Link[] = [];
  private readonly maps: Record<MapName | "config" | "counters", number>;
  private readonly cpus: number;
  private closed = false;
  private metaFd: number | undefined;
  /** A pinned link to switch to this program once the maps hold the policy (fresh maps only). */
  private deferredLink: { ifname: string; ifindex: number; mode: "auto" | AttachMode } | undefined;
  /** True when the state maps were re-used from pins (they hold the policy an earlier run put there). */
  readonly reusedMaps: boolean;

  private constructor(
    private readonly b: Libbpf,
    private readonly obj: Ptr,
    readonly pinDir: string | undefined,
    reused: boolean,
  ) {
    const fd = (name: string) => b.mapFd(b.findMap(obj, name));
    this.maps = { src4: fd("src4"), src6: fd("src6"), ports: fd("ports"), config: fd("config"), counters: fd("counters") };
    this.cpus = b.possibleCpus();
    this.reusedMaps = reused;
    if (pinDir) this.metaFd = openMetaMap(pinDir);
  }

  /** Opens and loads the program (verifier included). Throws BpfError with libbpf's explanation. */
  static load(objectPath = bpfObjectPath("policy"), opts: LoadOptions = {}): EdgePolicy {
    const b = libbpf();
    const pinDir = opts.pinDir;
    const pinned = pinDir ? PINNED_MAPS.filter((m) => existsSync(join(pinDir, m))) : [];
    const attempt = (): EdgePolicy => {
      const obj = b.objectOpenFile(objectPath);
      try {
        if (pinDir) for (const m of PINNED_MAPS) pinSys().setPinPath(b.findMap(obj, m), join(pinDir, m));
        b.objectLoad(obj);
        return new EdgePolicy(b, obj, pinDir, pinDir !== undefined && pinned.length === PINNED_MAPS.length);
      } catch (e) {
        b.objectClose(obj);
        throw e;
      }
    };
    if (!pinDir) return attempt();
    makeDirs(pinDir);
    try {
      return attempt();
    } catch (e) {
      if (pinned.length === 0) throw e;
      // Maps pinned by another build of the program (a changed layout): start from fresh maps. The
      // old link keeps the old program and maps in force until apply() switches it over.
      childLog("ebpf-policy").warn({ dir: pinDir, err: (e as Error).message }, "the pinned maps do not fit this program; using fresh maps");
      for (const m of PINNED_MAPS) rmSync(join(pinDir, m), { force: true });
      return attempt();
    }
  }

  /**
   * Reads the policy an earlier run left in re-used maps, so the next apply() is a diff from what
   * the kernel enforces right now (window-free) instead of a rebuild.
   */
  restore(): void {
    this.assertOpen();
    if (!this.reusedMaps) return;
    const entries = new Map<string, MapEntry>();
    const read = (map: MapName, keySize: number, valueSize: number): void => {
      for (const key of mapKeys(this.maps[map], keySize)) {
        const value = Buffer.alloc(valueSize);
        if (!this.b.mapLookup(this.maps[map], key, value)) continue;
        const e: MapEntry = { map, key, value, prefixlen: key.readUInt32LE(0) };
        entries.set(`${map}:${key.toString("hex")}`, e);
      }
    };
    read("src4", 8, 4);
    read("src6", 20, 4);
    read("ports", 12, 8);
    const cfg = Buffer.alloc(8);
    this.b.mapLookup(this.maps.config, Buffer.alloc(4), cfg);
    const slots = new Map<string, number>();
    const names = this.metaFd !== undefined ? metaRead(this.metaFd) : new Map<number, string>();
    for (const [slot, name] of names) if (slot < MAX_SLOTS && slot >= FIRST_RULE_SLOT) slots.set(name, slot);
    // Slots in use without a name still must not be handed to another rule while entries point at them.
    for (const e of entries.values()) {
      if (e.map !== "ports") continue;
      const slot = e.value.readUInt32LE(0);
      if (slot >= FIRST_RULE_SLOT && ![...slots.values()].includes(slot)) slots.set(`restored-slot-${slot}`, slot);
    }
    this.current = {
      defaultVerdict: cfg.readUInt32LE(0) === VERDICT_DENY ? "deny" : "allow",
      enabled: cfg.readUInt32LE(4) === 1,
      entries,
      slots,
      problems: [],
    };
  }

  /**
   * Attaches through a pinned link at <pinDir>/link. A link an earlier run pinned is taken over by
   * swapping its program atomically (bpf_link_update): packets never see "no program". With fresh
   * maps the swap waits for the first apply(), so the old program keeps enforcing the old policy
   * until the new maps hold the new one.
   */
  attachPinned(ifname: string, mode: "auto" | AttachMode = "auto"): Attachment | undefined {
    this.assertOpen();
    if (!this.pinDir) throw new Error("attachPinned needs a pin directory (load with pinDir)");
    const ifindex = this.b.ifIndex(ifname);
    if (!ifindex) throw new Error(`no interface named ${ifname}`);
    const linkPath = join(this.pinDir, "link");
    if (existsSync(linkPath) && !this.reusedMaps && this.current.enabled === false) {
      this.deferredLink = { ifname, ifindex, mode };
      return undefined;
    }
    return this.linkNow(ifname, ifindex, mode);
  }

  private linkNow(ifname: string, ifindex: number, mode: "auto" | AttachMode): Attachment {
    const sys = pinSys();
    const linkPath = join(this.pinDir!, "link");
    const old = sys.objGet(linkPath);
    if (old !== undefined) {
      let keep = false;
      try {
        const info = sys.linkInfo(old);
        const oldMode: AttachMode | undefined = info.type === BPF_LINK_TYPE_XDP ? "xdp" : info.type === BPF_LINK_TYPE_TCX ? "tcx" : undefined;
        if (oldMode && info.ifindex === ifindex && (mode === "auto" || mode === oldMode)) {
          const prog = this.b.programFd(this.b.findProgram(this.obj, oldMode === "xdp" ? "sluice_policy_xdp" : "sluice_policy_tc"));
          sys.linkUpdate(old, prog);
          keep = true;
          const attachment: Attachment = { ifindex, ifname, mode: oldMode };
          this.links.push({ attachment, fd: old, pinned: true });
          this.log.info({ ifname, mode: oldMode, linkId: info.id }, "took over the pinned policy link (program replaced atomically)");
          return attachment;
        }
        this.log.warn({ ifname, linkType: info.type, linkIfindex: info.ifindex }, "the pinned link does not fit this interface; replacing it");
      } catch (e) {
        this.log.warn({ ifname, err: (e as Error).message }, "the pinned link cannot be taken over; replacing it");
      } finally {
        if (!keep) {
          try {
            sys.linkDetach(old);
          } catch {
            // a defunct link (its interface went away) has nothing left to detach
          }
          this.b.closeFd(old);
          rmSync(linkPath, { force: true });
        }
      }
    }
    let xdpError: unknown;
    let fd: number | undefined;
    let got: AttachMode = "tcx";
    if (mode !== "tcx") {
      try {
        fd = this.b.linkCreate(this.b.programFd(this.b.findProgram(this.obj, "sluice_policy_xdp")), ifindex, BPF_XDP);
        got = "xdp";
      } catch (e) {
        if (mode === "xdp") throw e;
        xdpError = e;
      }
    }
    if (fd === undefined) fd = this.b.linkCreate(this.b.programFd(this.b.findProgram(this.obj, "sluice_policy_tc")), ifindex, BPF_TCX_INGRESS);
    try {
      sys.objPin(fd, linkPath);
    } catch (e) {
      this.b.closeFd(fd);
      throw e;
    }
    if (xdpError) this.log.info({ ifname, reason: (xdpError as Error).message }, "XDP did not attach; using tcx ingress");
    const attachment: Attachment = { ifindex, ifname, mode: got };
    this.links.push({ attachment, fd, pinned: true });
    return attachment;
  }

  /** The fd of any map of the loaded object (the flow reader's maps live there too). */
  mapFd(name: string): number {
    this.assertOpen();
    return this.b.mapFd(this.b.findMap(this.obj, name));
  }

  /** Records who holds the pin directory (read by the next run and by `sluice doctor`). */
  writeOwner(text: string): void {
    if (this.metaFd !== undefined) metaWrite(this.metaFd, META_KEY_OWNER, text);
  }

  /** The meta map: slot -> rule id, and the owner record. */
  meta(): Map<number, string> {
    return this.metaFd !== undefined ? metaRead(this.metaFd) : new Map();
  }

  /** Attaches to an interface (by index or name). With netns, the attach happens inside that namespace. */
  attach(iface: number | string, opts: AttachOptions = {}): Attachment {
    this.assertOpen();
    const run = <T>(fn: () => T): T => (opts.netns ? inNetns(opts.netns, fn) : fn());
    return run(() => {
      const ifindex = typeof iface === "number" ? iface : this.b.ifIndex(iface);
      if (!ifindex) throw new Error(`no interface named ${String(iface)}${opts.netns ? ` in network namespace ${opts.netns}` : ""}`);
      const base = { ifindex, ifname: typeof iface === "string" ? iface : undefined, netns: opts.netns };
      const mode = opts.mode ?? "auto";
      let xdpError: unknown;
      if (mode !== "tcx") {
        try {
          const link = this.b.attachXdp(this.b.findProgram(this.obj, "sluice_policy_xdp"), ifindex);
          const attachment: Attachment = { ...base, mode: "xdp" };
          this.links.push({ attachment, xdp: link });
          return attachment;
        } catch (e) {
          if (mode === "xdp") throw e;
          xdpError = e;
        }
      }
      const progFd = this.b.programFd(this.b.findProgram(this.obj, "sluice_policy_tc"));
      const fd = this.b.linkCreate(progFd, ifindex, BPF_TCX_INGRESS);
      const attachment: Attachment = { ...base, mode: "tcx" };
      this.links.push({ attachment, fd });
      if (xdpError) this.log.info({ ifindex, reason: (xdpError as Error).message }, "XDP did not attach; using tcx ingress");
      return attachment;
    });
  }

  attachments(): Attachment[] {
    return this.links.map((l) => l.attachment);
  }

  /** Compiles the model and applies only the difference to the maps, in window-free order. */
  apply(model: PolicyModel): ApplyResult {
    this.assertOpen();
    const next = compilePolicy(model, this.current);
    const ops = diffPolicy(this.current, next);
    let done = 0;
    try {
      for (const op of ops) {
        this.exec(op);
        done++;
      }
    } catch (e) {
      // Put back what was there: the maps go from the partial state to the last good policy.
      const partial = applyOps(this.current, ops.slice(0, done));
      partial.slots = next.slots;
      for (const op of diffPolicy(partial, this.current)) {
        try {
          this.exec(op);
        } catch (rollbackError) {
          this.log.error({ err: (rollbackError as Error).message }, "rolling back a failed policy update failed");
        }
      }
      throw e;
    }
    const previous = this.current;
    this.current = next;
    this.syncSlotNames(previous, next);
    this.linkDeferred();
    if (next.problems.length) this.log.warn({ problems: next.problems }, "parts of the network policy were ignored");
    return { operations: ops.length, problems: next.problems };
  }

  /** Turns enforcement off (no policy in the configuration): the program passes everything. */
  clear(): ApplyResult {
    this.assertOpen();
    const next = emptyCompiled();
    const ops = diffPolicy(this.current, next);
    for (const op of ops) this.exec(op);
    const previous = this.current;
    this.current = next;
    this.syncSlotNames(previous, next);
    this.linkDeferred();
    return { operations: ops.length, problems: [] };
  }

  private linkDeferred(): void {
    const d = this.deferredLink;
    if (!d) return;
    this.deferredLink = undefined;
    this.linkNow(d.ifname, d.ifindex, d.mode);
  }

  private syncSlotNames(prev: CompiledPolicy, next: CompiledPolicy): void {
    const fd = this.metaFd;
    if (fd === undefined) return;
    const before = new Map([...prev.slots].map(([id, slot]) => [slot, id]));
    const after = new Map([...next.slots].map(([id, slot]) => [slot, id]));
    for (const [slot, id] of after) if (before.get(slot) !== id) metaWrite(fd, slot, id);
    for (const slot of before.keys()) if (!after.has(slot)) metaDelete(fd, slot);
  }

  /** The compiled policy now in the maps. */
  compiled(): CompiledPolicy {
    return this.current;
  }

  counters(): PolicyCounters {
    this.assertOpen();
    const read = (slot: number): Counter => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(slot);
      const value = Buffer.alloc(16 * this.cpus);
      const out: Counter = { packets: 0n, bytes: 0n };
      if (!this.b.mapLookup(this.maps.counters, key, value)) return out;
      for (let c = 0; c < this.cpus; c++) {
        out.packets += value.readBigUInt64LE(c * 16);
        out.bytes += value.readBigUInt64LE(c * 16 + 8);
      }
      return out;
    };
    const rules = new Map<string, Counter>();
    for (const [id, slot] of this.current.slots) rules.set(id, read(slot));
    return { rules, defaultPass: read(SLOT_DEFAULT_PASS), defaultDrop: read(SLOT_DEFAULT_DROP), notIp: read(SLOT_NOT_IP) };
  }

  /**
   * Detaches every link and unloads the program. Idempotent. Pinned links and maps stay in the
   * kernel (and keep enforcing) unless `unpin` is set.
   */
  close(opts: CloseOptions = {}): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.links.splice(0)) {
      try {
        if (l.xdp) this.b.linkDestroy(l.xdp);
        if (l.fd !== undefined) {
          if (l.pinned && opts.unpin) pinSys().linkDetach(l.fd);
          this.b.closeFd(l.fd);
        }
      } catch (e) {
        this.log.warn({ err: (e as Error).message, ifindex: l.attachment.ifindex }, "detaching the policy program failed");
      }
    }
    if (this.metaFd !== undefined) this.b.closeFd(this.metaFd);
    this.b.objectClose(this.obj);
    if (opts.unpin && this.pinDir) {
      try {
        removePinDir(this.pinDir);
      } catch (e) {
        this.log.warn({ err: (e as Error).message, dir: this.pinDir }, "removing the pinned policy failed");
      }
    }
  }

  private exec(op: MapOp): void {
    switch (op.op) {
      case "update":
        this.b.mapUpdate(this.maps[op.map], op.key, op.value);
        return;
      case "delete":
        this.b.mapDelete(this.maps[op.map], op.key);
        return;
      case "config": {
        const v = Buffer.alloc(8);
        v.writeUInt32LE(op.defaultVerdict === "deny" ? VERDICT_DENY : VERDICT_ALLOW, 0);
        v.writeUInt32LE(op.enabled ? 1 : 0, 4);
        this.b.mapUpdate(this.maps.config, Buffer.alloc(4), v);
        return;
      }
      case "zero-counter": {
        if (op.slot >= MAX_SLOTS) throw new BpfError("counter slot", 28 /* ENOSPC */);
        const key = Buffer.alloc(4);
        key.writeUInt32LE(op.slot);
        this.b.mapUpdate(this.maps.counters, key, Buffer.alloc(16 * this.cpus));
        return;
      }
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error("the edge policy program was closed");
  }
}
