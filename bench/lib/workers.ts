// Workers and cores. On 2 cores the L7 part cannot show workers scaling: wrk and the origin need
// most of cpu 0 to load even one worker. Here the gateway's own CPU is the bottleneck instead: every
// request carries a JWT the gateway verifies (ES256, a SecurityPolicy with an inline key set), a
// different one each time (TOKEN_COUNT in turn, so none is served from the gateway's cache of verified
// tokens), which with the proxying costs the gateway 89-103 us of CPU a request (session 11) and wrk
// and the origin almost nothing. sluice with 1 worker (on the proxy core) and with one worker per
// core (every core, beside wrk and the origin) run in turn; what each served per second of CPU its
// processes got says whether a worker added per core keeps its efficiency (near-linear scaling) even
// where it cannot have the whole core. A third gateway, 1 worker on the load core, shows what sharing
// a core with wrk and the origin costs by itself, apart from the number of workers.
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { coreProbe, type CoreProbe } from "./core-probe.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { CACHE_SIZE } from "../../src/proxy/guards/jwt-keys.js";
import { groupCpuSeconds, removeTempDir, stop, tempDir } from "./procs.js";
import { progress } from "./progress.js";
import { get, startSluiceProxy, type Sluice } from "./servers.js";
import { median } from "./stats.js";
import { wrk } from "./wrk.js";

export interface WorkersPlan {
  cpus: number;
  /** Cores of the 1-worker gateway and of the N-worker one. */
  oneCpus: string;
  allCpus: string;
  loadCpus: string;
  originPort: number;
  ports: () => Promise<[number, number]>;
  connections: number;
  seconds: number;
  reps: number;
  warmupSeconds: number;
}

export interface WorkersRun {
  rps: number;
  p99ms: number;
  requests: number;
  errors: number;
  /** CPU seconds of the gateway's processes (control process included) during the run. */
  cpuSeconds: number;
}

export interface WorkersVariant {
  workers: number;
  cpus: string;
  runs: WorkersRun[];
}

export interface WorkersReport {
  plan: WorkersPlan;
  variants: WorkersVariant[];
  /** The machine's own figure for the same kind of work: per core with every core busy against one alone. */
  machine?: CoreProbe;
}

const ISSUER = "https://issuer.bench.test";
const AUDIENCE = "bench";

/**
 * Distinct tokens wrk sends in turn: more than the gateway keeps verified (CACHE_SIZE per provider,
 * per worker), so every request is a full signature check, as when every request comes from a new client.
 */
export const TOKEN_COUNT = 4 * CACHE_SIZE;

/** A key set with one ES256 key, and `count` distinct tokens it verifies (2 h). */
async function jwtMaterial(count: number): Promise<{ jwks: string; tokens: string[] }> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256", use: "sig" };
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    tokens.push(
      await new SignJWT({ sub: `client-${i}` })
        .setProtectedHeader({ alg: "ES256", kid: "bench" })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime("2h")
        .sign(privateKey),
    );
  }
  return { jwks: JSON.stringify({ keys: [jwk] }), tokens };
}

/** A wrk script that sends the tokens of `file` (one a line) in turn, one a request. */
function tokenScript(dir: string, tokens: string[]): string {
  const file = join(dir, "tokens.txt");
  writeFileSync(file, `${tokens.join("\n")}\n`);
  const script = join(dir, "tokens.lua");
  writeFileSync(
    script,
    `local tokens = {}
for line in io.lines(${JSON.stringify(file)}) do tokens[#tokens + 1] = line end
local i = 0
request = function()
  i = i % #tokens + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end
`,
  );
  return script;
}

function policyYaml(jwks: string): string {
  return `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata:
  name: jwt
  namespace: default
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: all }]
  jwt:
    providers:
      - name: bench
        issuer: ${ISSUER}
        audiences: [${AUDIENCE}]
        localJWKS: { type: Inline, inline: '${jwks}' }
`;
}

async function startJwtSluice(plan: WorkersPlan, workers: number, cpus: string, jwks: string, token: string): Promise<Sluice> {
  const [port, adminPort] = await plan.ports();
  return startSluiceProxy(`sluice-jwt-${workers}-cpu${cpus}`, port, adminPort, plan.originPort, workers, cpus, {
    files: { "policy.yaml": policyYaml(jwks) },
    probeHeaders: { authorization: `Bearer ${token}` },
  });
}

export async function runWorkers(plan: WorkersPlan): Promise<WorkersReport> {
  const { jwks, tokens } = await jwtMaterial(TOKEN_COUNT);
  const token = tokens[0]!;
  const dir = tempDir("workers-jwt");
  const script = tokenScript(dir, tokens);
  progress(`[workers] the machine alone: ES256 checks on cpu ${plan.oneCpus}, then on every core at once`);
  const every = Array.from({ length: plan.cpus }, (_, i) => String(i));
  const machine = await coreProbe(plan.oneCpus, every, Math.min(plan.seconds, 5));
  const layouts = [
    { workers: 1, cpus: plan.oneCpus },
    { workers: 1, cpus: plan.loadCpus },
    { workers: plan.cpus, cpus: plan.allCpus },
  ];
  progress(`[workers] starting sluice with 1 worker (twice: on cpu ${plan.oneCpus}, on cpu ${plan.loadCpus}) and ${plan.cpus} workers (JWT on every request)`);
  const started = await Promise.allSettled(layouts.map((l) => startJwtSluice(plan, l.workers, l.cpus, jwks, token)));
  const gateways = started.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  try {
    for (const r of started) if (r.status === "rejected") throw r.reason;
    // Without the token the route must refuse: the runs below measure verified requests.
    for (const g of gateways) {
      const status = await get(g.port, "/20b");
      if (status !== 401) throw new Error(`${g.name} answered ${status} to a request without a token (expected 401): the JWT policy is not in force`);
    }
    const variants: WorkersVariant[] = layouts.map((l) => ({ ...l, runs: [] }));
    for (const g of gateways) {
      progress(`[workers] warm-up ${g.name}`);
      await wrk({ url: `http://127.0.0.1:${g.port}/20b`, connections: plan.connections, seconds: plan.warmupSeconds, cpus: plan.loadCpus, script });
    }
    for (let rep = 0; rep < plan.reps; rep++)
      for (let i = 0; i < gateways.length; i++) {
        const k = (i + rep) % gateways.length;
        const g = gateways[k]!;
        progress(`[workers] rep ${rep + 1}/${plan.reps}  ${g.name}  -c${plan.connections}  ${plan.seconds}s`);
        const c0 = groupCpuSeconds(g.proc.pid);
        const r = await wrk({ url: `http://127.0.0.1:${g.port}/20b`, connections: plan.connections, seconds: plan.seconds, cpus: plan.loadCpus, script });
        variants[k]!.runs.push({ rps: r.rps, p99ms: r.p99ms, requests: r.requests, errors: r.non2xx + r.socketErrors, cpuSeconds: groupCpuSeconds(g.proc.pid) - c0 });
      }
    return { plan, variants, machine };
  } finally {
    await Promise.all(gateways.map((g) => stop(g.proc)));
    removeTempDir(dir);
  }
}

/** Requests served per CPU-second the gateway's processes used. */
const perCpuSecond = (r: WorkersRun): number => (r.cpuSeconds > 0 ? r.requests / r.cpuSeconds : NaN);

export function workersSummary(v: WorkersVariant): { rps: number; p99ms: number; cores: number; perCpuSecond: number; errors: number } {
  return {
    rps: median(v.runs.map((r) => r.rps)),
    p99ms: median(v.runs.map((r) => r.p99ms)),
    // wrk counts requests over the run; the CPU sample spans the run plus wrk's start and stop.
    cores: median(v.runs.map((r) => (r.rps > 0 ? (r.cpuSeconds * r.rps) / r.requests : NaN))),
    perCpuSecond: median(v.runs.map(perCpuSecond)),
    errors: v.runs.reduce((a, r) => a + r.errors, 0),
  };
}
