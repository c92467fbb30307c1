// `sluice doctor`: what the kernel and our privileges allow, and what we have attached where.
import { existsSync, readFileSync, realpathSync, statSync } from "node:fs";
import { release } from "node:os";
import { detectBpfSupport } from "./capabilities.js";
import { bpfObjectPath, EdgePolicy } from "./policy-loader.js";
import { inspectPinned, type PinnedInterface } from "./pinned-report.js";
import { L4LoadBalancer } from "./l4-lb.js";
import { formatSockmapDoctor, sockmapDoctor, type SockmapDoctor } from "./sockmap.js";
import { formatSpliceDoctor, spliceDoctor, type SpliceDoctor } from "./splice.js";
import { uringRefusal } from "../l4/relay-thread.js";

export interface DoctorCounter {
  packets: number;
  bytes: number;
}

export interface DoctorReport {
  kernel: string;
  privileges: { uid: number; capabilities: string[] };
  mounts: { bpffs: string[]; cgroup2: string[] };
  btf: { vmlinux: boolean; bytes?: number };
  sysctl: { bpfJitEnable?: number; unprivilegedBpfDisabled?: number };
  libbpf: { version?: string; file?: string };
  trivialProgram: { loads: boolean; error?: string };
  policyProgram: { object?: string; loads?: boolean; error?: string };
  /** The socket-level L4 load balancer (bpf/lb.bpf.c): built, and whether it passes the verifier. */
  l4LbProgram?: { object?: string; loads?: boolean; error?: string };
  /** Present when a running L4 load balancer was passed in. */
  l4Lb?: {
    cgroup: string;
    tableSize: number;
    services: Record<string, { connect: number; sendmsg: number; refused: number; missing: number; backends: Record<string, number> }>;
    skipped: Array<{ name: string; reason: string }>;
  };
  /** Present when a running EdgePolicy was passed in. */
  edgePolicy?: {
    attachments: Array<{ ifindex: number; ifname?: string; netns?: string; mode: string }>;
    entries: { src4: number; src6: number; ports: number };
    defaultVerdict: string;
    enabled: boolean;
    counters: { rules: Record<string, DoctorCounter>; defaultPass: DoctorCounter; defaultDrop: DoctorCounter; notIp: DoctorCounter };
  };
  /** Network policy pinned under <bpffs>/sluice by running (or crashed) gateways. */
  pinned?: { bpffs: string; interfaces: PinnedInterface[]; error?: string };
  /** Socket acceleration (bpf/sockops.bpf.c): loads here?, gateway cgroups, live counters. */
  sockmap?: SockmapDoctor;
  /** Kernel splicing for L4 routes (bpf/splice.bpf.c): loads here?, live counters. */
  splice?: SpliceDoctor;
  /** Whether this process may use io_uring, which the default L4 relay needs (no eBPF involved). */
  ioUring: { usable: boolean; error?: string };
  /** The datapath verdict in one sentence. */
  summary: string;
  ok: boolean;
}

export interface DoctorOptions {
  /** A live policy program whose attachments, map sizes and counters to include. */
  policy?: EdgePolicy;
  /** A live L4 load balancer whose cgroup, services and counters to include. */
  l4Lb?: L4LoadBalancer;
  /** Skip loading dist/bpf/policy.bpf.o (it needs the build and root). */
  skipPolicyLoad?: boolean;
  /** bpffs mount whose <bpffs>/sluice pins to report (when it is mounted and readable). */
  bpffs?: string;
}

function readNumber(path: string): number | undefined {
  try {
    return Number(readFileSync(path, "utf8").trim());
  } catch {
    return undefined;
  }
}

function libbpfFile(): string | undefined {
  for (const dir of ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib"]) {
    const p = `${dir}/libbpf.so.1`;
    if (existsSync(p)) return realpathSync(p);
  }
  return undefined;
}

function ioUringReport(): DoctorReport["ioUring"] {
  const refusal = uringRefusal();
  return refusal === null ? { usable: true } : { usable: false, error: refusal };
}

export function runDoctor(opts: DoctorOptions = {}): DoctorReport {
  const s = detectBpfSupport(true);
  const report: DoctorReport = {
    kernel: release(),
    privileges: { uid: s.uid, capabilities: s.capabilities },
    mounts: { bpffs: s.bpffs, cgroup2: s.cgroup2 },
    btf: { vmlinux: s.btf, ...(s.btf ? { bytes: statSync("/sys/kernel/btf/vmlinux").size } : {}) },
    sysctl: {
      bpfJitEnable: readNumber("/proc/sys/net/core/bpf_jit_enable"),
      unprivilegedBpfDisabled: readNumber("/proc/sys/kernel/unprivileged_bpf_disabled"),
    },
    libbpf: { version: s.libbpfVersion, file: libbpfFile() },
    trivialProgram: { loads: s.trivialLoad, ...(s.trivialLoadError ? { error: s.trivialLoadError } : {}) },
    policyProgram: {},
    ioUring: ioUringReport(),
    summary: "",
    ok: s.ok,
  };
  try {
    report.policyProgram.object = bpfObjectPath("policy");
  } catch (e) {
    report.policyProgram.error = (e as Error).message;
  }
  if (report.policyProgram.object && s.trivialLoad && !opts.skipPolicyLoad) {
    try {
      EdgePolicy.load(report.policyProgram.object).close();
      report.policyProgram.loads = true;
    } catch (e) {
      report.policyProgram.loads = false;
      report.policyProgram.error = (e as Error).message;
    }
  }
  const lb: NonNullable<DoctorReport["l4LbProgram"]> = {};
  try {
    lb.object = bpfObjectPath("lb");
  } catch (e) {
    lb.error = (e as Error).message;
  }
  if (lb.object && s.trivialLoad && !opts.skipPolicyLoad) {
    try {
      L4LoadBalancer.probe(lb.object);
      lb.loads = true;
    } catch (e) {
      lb.loads = false;
      lb.error = (e as Error).message;
    }
  }
  report.l4LbProgram = lb;
  report.sockmap = sockmapDoctor(s.trivialLoad && !opts.skipPolicyLoad);
  report.splice = spliceDoctor(s.trivialLoad && !opts.skipPolicyLoad);
  if (opts.l4Lb) {
    report.l4Lb = { cgroup: opts.l4Lb.cgroupPath, tableSize: opts.l4Lb.tableSize, services: opts.l4Lb.counters(), skipped: opts.l4Lb.skipped() };
  }
  if (opts.policy) {
    const c = opts.policy.compiled();
    const n = (m: string) => [...c.entries.values()].filter((e) => e.map === m).length;
    const counters = opts.policy.counters();
    const num = (x: { packets: bigint; bytes: bigint }): DoctorCounter => ({ packets: Number(x.packets), bytes: Number(x.bytes) });
    report.edgePolicy = {
      attachments: opts.policy.attachments(),
      entries: { src4: n("src4"), src6: n("src6"), ports: n("ports") },
      defaultVerdict: c.defaultVerdict,
      enabled: c.enabled,
      counters: {
        rules: Object.fromEntries([...counters.rules].map(([k, v]) => [k, num(v)])),
        defaultPass: num(counters.defaultPass),
        defaultDrop: num(counters.defaultDrop),
        notIp: num(counters.notIp),
      },
    };
  }
  if (opts.bpffs && s.ok) {
    report.pinned = { bpffs: opts.bpffs, interfaces: [] };
    if (!s.bpffs.includes(opts.bpffs)) report.pinned.error = `${opts.bpffs} is not a bpffs mount in this mount namespace`;
    else {
      try {
        report.pinned.interfaces = inspectPinned(opts.bpffs);
      } catch (e) {
        report.pinned.error = (e as Error).message;
      }
    }
  }
  if (!s.ok) report.summary = s.reason ?? "eBPF is unavailable; running the userspace path";
  else if (report.policyProgram.loads === false) {
    report.ok = false;
    report.summary = `eBPF works here but the policy program does not load: ${report.policyProgram.error}`;
  } else if (!report.policyProgram.object) {
    report.ok = false;
    report.summary = "eBPF works here but the programs were not built (install clang and run `npm run build`)";
  } else report.summary = "eBPF datapath available: programs load and can attach (XDP, tcx fallback)";
  return report;
}

export function formatDoctor(r: DoctorReport): string {
  const yes = (b: boolean | undefined) => (b ? "yes" : "no");
  const lines = [
    `kernel           ${r.kernel}`,
    `privileges       uid ${r.privileges.uid}; ${r.privileges.capabilities.length ? r.privileges.capabilities.join(", ") : "no BPF-related capabilities"}`,
    `bpffs            ${r.mounts.bpffs.join(", ") || "not mounted"}`,
    `cgroup2          ${r.mounts.cgroup2.join(", ") || "not mounted"}`,
    `kernel BTF       ${r.btf.vmlinux ? `yes (${r.btf.bytes} bytes)` : "no (/sys/kernel/btf/vmlinux missing)"}`,
    `bpf JIT          ${r.sysctl.bpfJitEnable === undefined ? "unknown" : r.sysctl.bpfJitEnable ? "on" : "off"}; unprivileged_bpf_disabled=${r.sysctl.unprivilegedBpfDisabled ?? "unknown"}`,
    `libbpf           ${r.libbpf.version ? `${r.libbpf.version}${r.libbpf.file ? ` (${r.libbpf.file})` : ""}` : "not found"}`,
    `trivial program  ${r.trivialProgram.loads ? "loads" : `does not load${r.trivialProgram.error ? `: ${r.trivialProgram.error}` : ""}`}`,
    `policy program   ${r.policyProgram.object ? `${r.policyProgram.object}${r.policyProgram.loads === undefined ? "" : r.policyProgram.loads ? " (loads)" : ` (does not load: ${r.policyProgram.error})`}` : (r.policyProgram.error ?? "not built")}`,
  ];
  if (r.l4LbProgram) {
    const p = r.l4LbProgram;
    lines.push(`l4 lb program    ${p.object ? `${p.object}${p.loads === undefined ? "" : p.loads ? " (loads)" : ` (does not load: ${p.error})`}` : (p.error ?? "not built")}`);
  }
  if (r.l4Lb) {
    lines.push(`l4 lb            cgroup ${r.l4Lb.cgroup}; Maglev table ${r.l4Lb.tableSize} entries per service`);
    for (const [name, c] of Object.entries(r.l4Lb.services)) {
      lines.push(`  ${name}: ${c.connect} connects, ${c.sendmsg} datagrams, ${c.refused} refused, ${c.missing} left to the proxy`);
    }
    for (const sk of r.l4Lb.skipped) lines.push(`  ${sk.name}: userspace (${sk.reason})`);
  }
  if (r.sockmap) lines.push(...formatSockmapDoctor(r.sockmap));
  if (r.splice) lines.push(...formatSpliceDoctor(r.splice));
  lines.push(
    r.ioUring.usable
      ? "io_uring         usable (the L4 relay thread, --l4-relay uring, the default)"
      : `io_uring         refused: ${r.ioUring.error ?? "unknown"} (L4 routes relay through the splice(2) thread)`,
  );
  if (r.edgePolicy) {
    const e = r.edgePolicy;
    lines.push(
      `edge policy      ${e.enabled ? `default ${e.defaultVerdict}` : "no policy"}; entries src4=${e.entries.src4} src6=${e.entries.src6} ports=${e.entries.ports}`,
      ...e.attachments.map((a) => `  attached       ${a.mode} on ${a.ifname ?? `ifindex ${a.ifindex}`}${a.netns ? ` in netns ${a.netns}` : ""}`),
      `  default pass   ${e.counters.defaultPass.packets} packets, ${e.counters.defaultPass.bytes} bytes`,
      `  default drop   ${e.counters.defaultDrop.packets} packets, ${e.counters.defaultDrop.bytes} bytes`,
      ...Object.entries(e.counters.rules).map(([id, c]) => `  rule ${id}: ${c.packets} packets, ${c.bytes} bytes`),
    );
  }
  if (r.pinned) {
    const p = r.pinned;
    if (p.error) lines.push(`pinned policy    ${p.error}`);
    else if (p.interfaces.length === 0) lines.push(`pinned policy    none under ${p.bpffs}/sluice`);
    for (const i of p.interfaces) {
      const owner = i.owner ? `pid ${i.owner.pid} (${i.owner.alive ? "running" : "gone: the next run takes over or removes it"})` : "unknown owner";
      const link = i.link
        ? `${i.link.mode} link ${i.link.linkId}, program ${i.link.programId}, ifindex ${i.link.ifindex}${i.link.ifindexNow && i.link.ifindexNow !== i.link.ifindex ? ` (the interface now has ifindex ${i.link.ifindexNow})` : ""}`
        : "not attached";
      lines.push(`pinned policy    ${i.ifname}: ${link}; ${owner}; ${i.dir}`);
      if (i.error) lines.push(`  error          ${i.error}`);
      const maps = Object.entries(i.maps).filter(([m]) => m !== "config" && m !== "counters");
      if (maps.length) lines.push(`  maps           ${maps.map(([m, v]) => `${m} ${v.entries}/${v.maxEntries}`).join(", ")}`);
      if (i.counters) {
        const c = i.counters;
        lines.push(`  default pass   ${c.defaultPass.packets} packets, ${c.defaultPass.bytes} bytes`, `  default drop   ${c.defaultDrop.packets} packets, ${c.defaultDrop.bytes} bytes`);
        for (const [id, v] of Object.entries(c.rules)) lines.push(`  rule ${id}: ${v.packets} packets, ${v.bytes} bytes`);
      }
    }
  }
  lines.push(`=> ${r.summary}`, `   eBPF usable: ${yes(r.ok)}`);
  return lines.join("\n") + "\n";
}
