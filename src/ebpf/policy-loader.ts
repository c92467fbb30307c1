// Loads bpf/policy.bpf.o, attaches it to interfaces (XDP first, tcx ingress otherwise), and keeps
// its maps in step with a policy model through window-free incremental updates.
import { closeSync, existsSync, openSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { childLog } from "../observe/log.js";
import { BPF_TCX_INGRESS, BpfError, CLONE_NEWNET, libbpf, type Libbpf, type Ptr } from "./libbpf.js";
import {
  compilePolicy,
  diffPolicy,
  emptyCompiled,
  applyOps,
  MAX_SLOTS,
  SLOT_DEFAULT_DROP,
  SLOT_DEFAULT_PASS,
  SLOT_NOT_IP,
  VERDICT_ALLOW,
  VERDICT_DENY,
  type CompiledPolicy,
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
}

export class EdgePolicy {
  private readonly log = childLog("ebpf-policy");
  private current: CompiledPolicy = emptyCompiled();
  private readonly links: Link[] = [];
  private readonly maps: Record<MapName | "config" | "counters", number>;
  private readonly cpus: number;
  private closed = false;

  private constructor(
    private readonly b: Libbpf,
    private readonly obj: Ptr,
  ) {
    const fd = (name: string) => b.mapFd(b.findMap(obj, name));
    this.maps = { src4: fd("src4"), src6: fd("src6"), ports: fd("ports"), config: fd("config"), counters: fd("counters") };
    this.cpus = b.possibleCpus();
  }

  /** Opens and loads the program (verifier included). Throws BpfError with libbpf's explanation. */
  static load(objectPath = bpfObjectPath("policy")): EdgePolicy {
    const b = libbpf();
    const obj = b.objectOpenFile(objectPath);
    try {
      b.objectLoad(obj);
      return new EdgePolicy(b, obj);
    } catch (e) {
      b.objectClose(obj);
      throw e;
    }
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
    this.current = next;
    if (next.problems.length) this.log.warn({ problems: next.problems }, "parts of the network policy were ignored");
    return { operations: ops.length, problems: next.problems };
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

  /** Detaches every link and unloads the program. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.links.splice(0)) {
      try {
        if (l.xdp) this.b.linkDestroy(l.xdp);
        if (l.fd !== undefined) this.b.closeFd(l.fd);
      } catch (e) {
        this.log.warn({ err: (e as Error).message, ifindex: l.attachment.ifindex }, "detaching the policy program failed");
      }
    }
    this.b.objectClose(this.obj);
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
