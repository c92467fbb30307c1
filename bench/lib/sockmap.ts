// L7 variants for socket acceleration: "sluice 1 worker" with sockmap on and off, in one run.
// Acceleration works between sockets of processes in the gateway's cgroup, so the "on" variant gets
// its own origin started inside that cgroup (as a same-host backend the gateway manages would be);
// "off" (--no-sockmap) forwards to the shared origin. Where the kernel or privileges do not allow
// it, there are no such variants and a note says why.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountsOfType } from "../../src/ebpf/capabilities.js";
import { cellKey, type Cell, type MatrixPlan, type Variant } from "./matrix.js";
import { start, tempDir } from "./procs.js";
import { gatewayYaml, routeYaml, ROOT, startOrigin, waitHttp, waitVersion, type OriginKind, type Server, type Sluice } from "./servers.js";

export interface SockmapVariants {
  servers: Server[];
  variants: Variant[];
  note?: string;
}

function ownCgroup(mount: string): string {
  const line = readFileSync("/proc/self/cgroup", "utf8")
    .split("\n")
    .find((l) => l.startsWith("0::"));
  return join(mount, line ? line.slice(3) : "/");
}

async function sluice1(name: string, port: number, adminPort: number, origin: number, cpus: string, extra: string[]): Promise<Sluice> {
  const dir = tempDir(name);
  writeFileSync(join(dir, "gateway.yaml"), gatewayYaml(port, origin));
  writeFileSync(join(dir, "route.yaml"), routeYaml("all", origin));
  const proc = start(
    name,
    process.execPath,
    [join(ROOT, "bin/sluice"), "run", "--config", dir, "--workers", "1", "--admin-port", String(adminPort), "--access-log", "off",
      "--listen-address", "127.0.0.1", "--log-level", "warn", ...extra],
    { cpus, cwd: ROOT },
  );
  const s: Sluice = { name, port, proc, adminPort, configDir: dir };
  await waitVersion(s, 0, 60_000);
  await waitHttp(port, "/20b", proc);
  return s;
}

async function redirected(adminPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  return Number(/^sluice_sockmap_redirected_messages_total (\S+)$/m.exec(text)?.[1] ?? NaN);
}

export async function startSockmapVariants(o: {
  origin: OriginKind;
  /** Port of the shared origin (the "off" variant forwards there). */
  originPort: number;
  originCpus: string;
  proxyCpus: string;
  /** Five free ports: origin in the cgroup, on (listener, admin), off (listener, admin). */
  ports: number[];
}): Promise<SockmapVariants> {
  const [pOrigin, pOn, aOn, pOff, aOff] = o.ports as [number, number, number, number, number];
  const mounts = mountsOfType("cgroup2");
  const mount = mounts.find((m) => m === "/sys/fs/cgroup/unified") ?? mounts[0];
  if (process.getuid?.() !== 0 || !mount) return { servers: [], variants: [], note: "sockmap on/off variants left out: they need root and a cgroup2 mount" };
  const cgroup = join(mount, `sluice-bench-${process.pid}`);
  if (!existsSync(cgroup)) mkdirSync(cgroup);
  // Removed when the benchmark exits (every process in it has been stopped by then).
  process.once("exit", () => {
    try {
      rmdirSync(cgroup);
    } catch {
      // not empty or already gone
    }
  });
  const servers: Server[] = [];
  // The origin inherits our cgroup at spawn: step in, start it, step back out. startOrigin spawns
  // before its first await, and we step out before awaiting it, so nothing else this process
  // starts meanwhile (--quick starts many things at once) lands in the cgroup.
  const home = ownCgroup(mount);
  writeFileSync(join(cgroup, "cgroup.procs"), String(process.pid));
  let originStarted: Promise<Server>;
  try {
    originStarted = startOrigin(o.origin, pOrigin, o.originCpus);
  } finally {
    writeFileSync(join(home, "cgroup.procs"), String(process.pid));
  }
  servers.push(await originStarted);
  // Started together (each start registers its process for cleanup even if the other fails).
  const [on, off] = await Promise.all([
    sluice1("sluice-1-sockmap-on", pOn, aOn, pOrigin, o.proxyCpus, ["--cgroup", cgroup]),
    sluice1("sluice-1-sockmap-off", pOff, aOff, o.originPort, o.proxyCpus, ["--no-sockmap"]),
  ]);
  servers.push(on, off);
  // waitHttp went through the gateway: when nothing was redirected, acceleration did not attach.
  const n = await redirected(aOn);
  const variants: Variant[] = [
    // pgid: the proxy's CPU per request. Softirq time (TCP receive work on loopback) is charged to
    // no process, on or off; a redirected send is charged to its sender.
    { id: "sluice-1-sockmap-off", label: "sluice 1 worker, sockmap off", port: pOff, cpus: o.proxyCpus, pgid: off.proc.pid, adminPort: aOff },
    { id: "sluice-1-sockmap-on", label: "sluice 1 worker, sockmap on", port: pOn, cpus: o.proxyCpus, pgid: on.proc.pid, adminPort: aOn },
  ];
  return { servers, variants, ...(n > 0 ? {} : { note: `sockmap on: no message was redirected after start (${n}); see \`sluice doctor\`` }) };
}

/** One line per body size and connection count: on / off requests per second, p50 and proxy CPU per request. */
export function sockmapRatios(cells: Map<string, Cell>, plan: MatrixPlan): string[] {
  const out: string[] = [];
  for (const size of plan.sizes)
    for (const c of plan.connections) {
      const on = cells.get(cellKey("sluice-1-sockmap-on", size, c));
      const off = cells.get(cellKey("sluice-1-sockmap-off", size, c));
      if (!on || !off) continue;
      const [cOn, cOff] = [on.cpuUsPerReq, off.cpuUsPerReq];
      const cpuRatio = Number.isFinite(cOn / cOff) ? `, proxy CPU per request x${(cOn / cOff).toFixed(2)} (${cOn.toFixed(1)} vs ${cOff.toFixed(1)} us)` : "";
      out.push(`sockmap on/off, ${size} -c${c}: req/s x${(on.rps / off.rps).toFixed(2)} (${Math.round(on.rps)} vs ${Math.round(off.rps)}), p50 x${(on.p50ms / off.p50ms).toFixed(2)}${cpuRatio}`);
    }
  return out;
}
