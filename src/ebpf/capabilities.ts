// Can this process load and attach BPF programs? Answers with facts and, when not, one sentence.
import { existsSync, readFileSync } from "node:fs";
import { libbpf } from "./libbpf.js";

export interface BpfSupport {
  ok: boolean;
  /** One sentence for the log when ok is false (said once by the caller). */
  reason?: string;
  uid: number;
  /** Effective capabilities relevant to BPF, by name. */
  capabilities: string[];
  bpffs: string[];
  cgroup2: string[];
  btf: boolean;
  libbpfVersion?: string;
  /** Whether a two-instruction XDP program passed the verifier and loaded. */
  trivialLoad: boolean;
  trivialLoadError?: string;
}

const CAPS: Record<number, string> = { 12: "CAP_NET_ADMIN", 21: "CAP_SYS_ADMIN", 38: "CAP_PERFMON", 39: "CAP_BPF" };
const BPF_PROG_TYPE_XDP = 6;
// r0 = XDP_PASS (2); exit
const TRIVIAL = Buffer.from([0xb7, 0x00, 0, 0, 2, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

export function effectiveCapabilities(): string[] {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (!m) return [];
    const eff = BigInt(`0x${m[1]}`);
    return Object.entries(CAPS)
      .filter(([bit]) => (eff >> BigInt(bit)) & 1n)
      .map(([, name]) => name);
  } catch {
    return [];
  }
}

/** Mount points of a filesystem type, from /proc/self/mounts. */
export function mountsOfType(type: string): string[] {
  try {
    return readFileSync("/proc/self/mounts", "utf8")
      .split("\n")
      .map((l) => l.split(" "))
      .filter((f) => f[2] === type)
      .map((f) => f[1]);
  } catch {
    return [];
  }
}

let cached: BpfSupport | undefined;

/** Detects support once per process (the trivial load is cheap but not free). */
export function detectBpfSupport(refresh = false): BpfSupport {
  if (cached && !refresh) return cached;
  const s: BpfSupport = {
    ok: false,
    uid: process.getuid?.() ?? -1,
    capabilities: effectiveCapabilities(),
    bpffs: mountsOfType("bpf"),
    cgroup2: mountsOfType("cgroup2"),
    btf: existsSync("/sys/kernel/btf/vmlinux"),
    trivialLoad: false,
  };
  const canBpf = s.capabilities.includes("CAP_BPF") || s.capabilities.includes("CAP_SYS_ADMIN");
  const canNet = s.capabilities.includes("CAP_NET_ADMIN");
  if (process.platform !== "linux") s.reason = "eBPF needs Linux; running the userspace path";
  else {
    try {
      const b = libbpf();
      s.libbpfVersion = b.version;
      const fd = b.progLoad(BPF_PROG_TYPE_XDP, "sluice_probe", TRIVIAL);
      b.closeFd(fd);
      s.trivialLoad = true;
    } catch (e) {
      s.trivialLoadError = (e as Error).message;
    }
    if (!s.libbpfVersion) s.reason = `${s.trivialLoadError ?? "libbpf is missing"}; install libbpf1 to use the eBPF datapath (running the userspace path)`;
    else if (!s.trivialLoad && !canBpf)
      s.reason = "no privilege to load eBPF programs (needs root or CAP_BPF + CAP_NET_ADMIN); running the userspace path";
    else if (!s.trivialLoad) s.reason = `the kernel refused a trivial eBPF program (${s.trivialLoadError}); running the userspace path`;
    else if (!canNet) s.reason = "eBPF programs load but attaching to interfaces needs CAP_NET_ADMIN; running the userspace path";
    else s.ok = true;
  }
  cached = s;
  return s;
}
