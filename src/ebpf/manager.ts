// The eBPF data plane of the control process: receives every published snapshot (like the workers
// do) and keeps the edge policy program's maps in step with its networkPolicy section, on each
// interface given with --interface.
//
// Life cycle, per interface (state pinned under <bpffs>/sluice/<interface>, see pin.ts):
// * start: a directory left by a run that is gone is taken over: its maps are re-used (they hold
//   the policy in force), the program in its link is replaced atomically, and the first snapshot is
//   applied as a diff. Directories of other interfaces whose owner is gone are stale: removed.
// * each snapshot: compile + window-free diff (policy-map.ts); unchanged sections do nothing.
// * clean stop: links detached, pins removed. Stop for a restart (keepPinned): pins stay, the
//   kernel keeps enforcing the last policy until the next run takes over.
// Without eBPF (no privileges, no kernel support, --no-ebpf, no --interface) this says so once; the
// workers enforce the same compiled policy at accept time in any case (src/proxy/conn-policy.ts).
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { IrConfig, IrNetworkPolicy } from "../ir/types.js";
import type { FlowRecord } from "../observe/flow-record.js";
import type { Logger } from "../observe/log.js";
import { canonicalJson } from "../util/canonical-json.js";
import { detectBpfSupport } from "./capabilities.js";
import { FlowReader } from "./flow-reader.js";
import { libbpf } from "./libbpf.js";
import { bpfObjectPath, EdgePolicy, type Attachment, type Counter } from "./policy-loader.js";
import { policyModelOf, ruleVerdicts } from "./policy-model.js";
import {
  ensureBpffs,
  META_KEY_OWNER,
  metaRead,
  ownerRecord,
  parseOwner,
  pinDir,
  pinnedInterfaces,
  pinSys,
  privateMountNamespace,
  processAlive,
  removePinDir,
} from "./pin.js";

export const DEFAULT_BPFFS = "/sys/fs/bpf";

export interface EbpfOptions {
  /** Interfaces to attach the edge policy to (XDP, tcx fallback). */
  interfaces: string[];
  /** --no-ebpf: never touch the kernel datapath. */
  disabled: boolean;
  /** bpffs mount point for pins (mounted when missing). */
  bpffs: string;
  /** Where kernel flow events go (the control process's flow hub); none: flow events stay off. */
  flows?: { publish(r: FlowRecord): void };
}

export interface InterfaceState {
  ifname: string;
  mode?: Attachment["mode"];
  pinDir?: string;
  /** Set when the program is not attached there. */
  error?: string;
}

export type Datapath = "kernel" | "userspace";

export class EbpfManager {
  private readonly edges = new Map<string, EdgePolicy>();
  private readonly readers = new Map<string, FlowReader>();
  private readonly states = new Map<string, InterfaceState>();
  private appliedKey: string | null = null;
  private policy: IrNetworkPolicy | undefined;
  private stopped = false;
  datapath: Datapath = "userspace";
  /** Why the kernel does not enforce (userspace datapath only). */
  reason: string | undefined;

  constructor(
    private readonly opts: EbpfOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    const { interfaces, disabled, bpffs } = this.opts;
    if (disabled) {
      this.fallback("eBPF is disabled by --no-ebpf");
      this.removeStale(new Set());
      return;
    }
    if (interfaces.length === 0) {
      this.fallback("no --interface was given, so there is nothing to attach the kernel program to");
      return;
    }
    const support = detectBpfSupport();
    if (!support.ok) {
      this.fallback(support.reason ?? "eBPF is not usable here");
      return;
    }
    let objectPath: string;
    try {
      objectPath = bpfObjectPath("policy");
    } catch (e) {
      this.fallback((e as Error).message);
      return;
    }
    try {
      const fs = ensureBpffs(bpffs);
      if (fs.mounted) {
        const note = privateMountNamespace()
          ? "; this process has a mount namespace of its own (ip netns exec?), so pins last only as long as it: pass --bpffs on a bpffs shared with the host to keep policy across restarts"
          : "";
        this.log.warn({ bpffs }, `mounted bpffs at ${bpffs}${note}`);
      }
    } catch (e) {
      this.fallback(`cannot use bpffs at ${bpffs}: ${(e as Error).message}`);
      return;
    }
    this.removeStale(new Set(interfaces));
    for (const ifname of interfaces) {
      const dir = pinDir(bpffs, ifname);
      try {
        this.claim(dir, ifname);
        const edge = EdgePolicy.load(objectPath, { pinDir: dir });
        try {
          edge.restore();
          edge.writeOwner(JSON.stringify(ownerRecord(ifname, libbpf().ifIndex(ifname))));
          const a = edge.attachPinned(ifname);
          this.edges.set(ifname, edge);
          this.states.set(ifname, { ifname, pinDir: dir, ...(a ? { mode: a.mode } : {}) });
          if (edge.reusedMaps) this.log.info({ ifname, dir }, "re-using the policy maps pinned by an earlier run");
          this.startFlows(ifname, edge);
        } catch (e) {
          edge.close({ unpin: !edge.reusedMaps });
          throw e;
        }
      } catch (e) {
        const err = (e as Error).message;
        this.states.set(ifname, { ifname, error: err });
        this.log.error({ ifname, err }, `network policy is not enforced in the kernel on ${ifname}; the workers still enforce it at accept time`);
      }
    }
    if (this.edges.size === 0) {
      this.fallback("the policy program attached to none of the interfaces");
      return;
    }
    this.datapath = "kernel";
    const where = [...this.states.values()].filter((s) => !s.error).map((s) => `${s.ifname} (${s.mode ?? "pending: pinned link switches at the first policy"})`);
    this.log.info({ interfaces: where }, `network policy is enforced in the kernel on ${where.join(", ")}, and at accept time by the workers`);
  }

  /** Applies the networkPolicy section of a published snapshot (a no-op when it did not change). */
  apply(config: IrConfig): void {
    if (this.stopped) return;
    const np = config.networkPolicy;
    const key = np ? canonicalJson(np) : "";
    if (key === this.appliedKey) return;
    this.appliedKey = key;
    this.policy = np;
    for (const [ifname, edge] of this.edges) {
      try {
        const r = np ? edge.apply(policyModelOf(np)) : edge.clear();
        const st = this.states.get(ifname);
        if (st && !st.mode) st.mode = edge.attachments()[0]?.mode;
        this.log.debug({ ifname, operations: r.operations }, "network policy maps updated");
      } catch (e) {
        // The maps keep the last good policy (apply rolls back); the next snapshot tries again.
        this.appliedKey = null;
        this.log.error({ ifname, err: (e as Error).message }, "updating the network policy in the kernel failed; the previous policy stays in force");
      }
    }
  }

  interfaces(): InterfaceState[] {
    return [...this.states.values()];
  }

  /** Per-rule counters summed over every interface's CPUs, for /metrics. */
  metricsText(): string {
    const verdicts = ruleVerdicts(this.policy);
    const lines: string[] = [
      "# HELP sluice_policy_datapath Where network policy is enforced: kernel (XDP/tcx, plus accept-time checks) or userspace (accept-time checks only).",
      "# TYPE sluice_policy_datapath gauge",
      `sluice_policy_datapath{datapath="${this.datapath}"} 1`,
    ];
    if (this.edges.size === 0) return lines.join("\n") + "\n";
    const packets: string[] = [];
    const bytes: string[] = [];
    const add = (ifname: string, rule: string, verdict: string, c: Counter): void => {
      const labels = `{interface="${esc(ifname)}",rule="${esc(rule)}",verdict="${verdict}"}`;
      packets.push(`sluice_policy_packets_total${labels} ${c.packets}`);
      bytes.push(`sluice_policy_bytes_total${labels} ${c.bytes}`);
    };
    for (const [ifname, edge] of this.edges) {
      let c;
      try {
        c = edge.counters();
      } catch (e) {
        this.log.warn({ ifname, err: (e as Error).message }, "reading policy counters failed");
        continue;
      }
      add(ifname, "default", "allow", c.defaultPass);
      add(ifname, "default", "deny", c.defaultDrop);
      add(ifname, "not-ip", "allow", c.notIp);
      for (const [rule, counter] of [...c.rules].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
        add(ifname, rule, verdicts.get(rule) ?? "allow", counter);
      }
    }
    lines.push(
      "# HELP sluice_policy_packets_total Packets decided by the network policy in the kernel, by interface, rule and verdict.",
      "# TYPE sluice_policy_packets_total counter",
      ...packets,
      "# HELP sluice_policy_bytes_total Bytes decided by the network policy in the kernel, by interface, rule and verdict.",
      "# TYPE sluice_policy_bytes_total counter",
      ...bytes,
    );
    return lines.join("\n") + "\n";
  }

  /**
   * Clean stop: detach and remove the pins. With keepPinned (a restart), the kernel keeps enforcing
   * the last policy until the next run takes the pins over.
   */
  async stop(opts: { keepPinned?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // Flow readers first: they use the object's maps, which close() releases.
    await Promise.all(
      [...this.readers].map(([ifname, r]) => r.stop().catch((e: unknown) => this.log.warn({ ifname, err: (e as Error).message }, "stopping the flow reader failed"))),
    );
    this.readers.clear();
    for (const [ifname, edge] of this.edges) {
      try {
        edge.close({ unpin: !opts.keepPinned });
      } catch (e) {
        this.log.warn({ ifname, err: (e as Error).message }, "closing the policy program failed");
      }
    }
    if (this.edges.size > 0) {
      this.log.info(
        { interfaces: [...this.edges.keys()] },
        opts.keepPinned ? "network policy left pinned in the kernel for the next run" : "network policy program detached and unpinned",
      );
    }
    this.edges.clear();
  }

  private startFlows(ifname: string, edge: EdgePolicy): void {
    const hub = this.opts.flows;
    if (!hub) return;
    try {
      const names = (slot: number): string | undefined => {
        for (const [id, s] of edge.compiled().slots) if (s === slot) return id;
        return undefined;
      };
      const reader: FlowReader = new FlowReader((name) => edge.mapFd(name), (e) => hub.publish(reader.record(e)), { ruleName: names });
      reader.start();
      this.readers.set(ifname, reader);
    } catch (e) {
      // The program may be an older build without flow events: policy works without them.
      this.log.warn({ ifname, err: (e as Error).message }, "kernel flow events are not available on this interface");
    }
  }

  private fallback(reason: string): void {
    this.datapath = "userspace";
    this.reason = reason;
    // Said once, at start: everything after this is the userspace path doing its job.
    this.log.warn({ reason }, `${reason}: network policy is enforced in userspace, at accept time in the workers (same compiled rules as the kernel program)`);
  }

  /** Refuses a directory a live process holds (two gateways on one interface would fight). */
  private claim(dir: string, ifname: string): void {
    const owner = readOwner(dir);
    if (owner && owner.pid !== process.pid && processAlive(owner.pid)) {
      throw new Error(`${ifname} is held by another sluice (pid ${owner.pid}, pinned at ${dir})`);
    }
    if (owner) this.log.info({ ifname, previousPid: owner.pid }, "taking over the network policy a previous run left pinned");
  }

  /** Removes pin directories whose owner is gone and that this run does not take over. */
  private removeStale(keep: Set<string>): void {
    const { bpffs } = this.opts;
    if (!existsSync(join(bpffs, "sluice"))) return;
    for (const ifname of pinnedInterfaces(bpffs)) {
      if (keep.has(ifname)) continue;
      const dir = pinDir(bpffs, ifname);
      try {
        const owner = readOwner(dir);
        if (owner && processAlive(owner.pid)) continue;
        removePinDir(dir);
        this.log.warn({ ifname, dir, previousPid: owner?.pid }, "removed a stale network policy attachment left by a run that is gone");
      } catch (e) {
        this.log.warn({ ifname, dir, err: (e as Error).message }, "could not remove a stale pinned policy");
      }
    }
  }
}

function readOwner(dir: string): ReturnType<typeof parseOwner> {
  const path = join(dir, "meta");
  if (!existsSync(path)) return undefined;
  const fd = pinSys().objGet(path);
  if (fd === undefined) return undefined;
  try {
    return parseOwner(metaRead(fd).get(META_KEY_OWNER));
  } finally {
    libbpf().closeFd(fd);
  }
}

function esc(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}
