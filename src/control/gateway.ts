// `sluice run`: the control process. Wires the file provider, the translator, the worker pool,
// the admin server and (optionally) the demo backends, and stops them all on SIGINT/SIGTERM.
import { fileURLToPath } from "node:url";
import { AggregatorRegistry } from "prom-client";
import { startAdminServer, type AdminServer, type AdminSource, type ReadyView } from "../admin/server.js";
import { ReadyChanges } from "../admin/ready-wait.js";
import { ControlMetrics } from "../observe/control-metrics.js";
import { FlowHub } from "../observe/flow-hub.js";
import type { Logger } from "../observe/log.js";
import { formatDiagnostic } from "../resources/types.js";
import { CONTROLLER_NAME } from "../translator/api.js";
import type { LoadResult } from "../resources/index.js";
import { ConfigController, errText } from "./config-controller.js";
import { DemoBackends } from "./demo-backends.js";
import { gatewayAddresses } from "./addresses.js";
import { BindFailures } from "./bind-failures.js";
import { viewOf } from "./diagnostics.js";
import { FileProvider, translate } from "./sources.js";
import { WorkerPool } from "./worker-pool.js";
import { DEFAULT_BPFFS, EbpfManager } from "../ebpf/manager.js";
import type { L4LbPlane } from "../ebpf/l4-lb.js";
import { registerSockmapMetrics, startSocketAcceleration } from "../ebpf/sockmap.js";
import { configureKernelSplice } from "../ebpf/splice.js";
import { l4Relay } from "../l4/relay-mode.js";
import { RateLimitService } from "./rate-limit-service.js";
import { registerL4LbMetrics } from "../ebpf/l4-lb-metrics.js";
import { rateLimitCounts } from "./rate-limit-status.js";
import { DEFAULT_CONTROL_NICE, setControlPriority } from "./process-priority.js";
import { ChangeBoost } from "./change-boost.js";
import { setRealtime } from "../sys/realtime.js";

export interface RunOptions {
  configDir: string;
  workers: number;
  adminAddress: string;
  adminPort: number;
  /** undefined: listeners bind every address. */
  listenAddress?: string;
  accessLog: string;
  logLevel: string;
  demoBackends: boolean;
  /** Network policy in the kernel: interfaces to attach to (none: userspace only), --no-ebpf, bpffs path. */
  ebpf?: { interfaces: string[]; disabled: boolean; bpffs?: string };
  /** cgroup v2 whose processes get kernel (socket-level) L4 load balancing; off when undefined. */
  l4LbCgroup?: string;
  /** Socket acceleration (sock_ops + sk_msg on the gateway's cgroup); default on. */
  sockmap?: boolean;
  /** Redis for global rate-limit counters; without it global rules act as their failClosed says. */
  redisUrl?: string;
  /** cgroup v2 directory for the gateway's processes (default: <cgroup2 mount>/sluice-<pid>). */
  cgroup?: string;
  /** Kernel splicing of L4 TCP routes in the workers; default on. */
  splice?: boolean;
  /** nice value of the control process (process-priority.ts); default DEFAULT_CONTROL_NICE. */
  controlNice?: number;
  /** Route changes in the real-time scheduling class where permitted (change-boost.ts); default on. */
  realtimeChanges?: boolean;
}

export const WORKER_ENTRY = fileURLToPath(new URL("../proxy/worker-main.js", import.meta.url));

const STOP_TIMEOUT_MS = 5000;
const METRICS_WAIT_MS = 2000;

export interface RunningGateway {
  /** keepKernelState: leave the pinned network policy enforcing for the next run (a restart). */
  stop(opts?: { keepKernelState?: boolean }): Promise<void>;
}

export async function runGateway(opts: RunOptions, log: Logger): Promise<RunningGateway> {
  // Before any worker is forked (they go back to the gateway's own value).
  const niceProblem = setControlPriority(opts.controlNice ?? DEFAULT_CONTROL_NICE);
  if (niceProblem) log.info({ problem: niceProblem }, "control process priority unchanged: route changes may wait behind busy workers");
  const metrics = new ControlMetrics();
  // First: the workers and demo backends started below inherit the cgroup and the splice setting.
  const sockmap = startSocketAcceleration({ enabled: opts.sockmap !== false, cgroup: opts.cgroup, log: log.child({ component: "sockmap" }) });
  registerSockmapMetrics(metrics.registry, sockmap);
  // Probed (and its absence reported) only when the kernel splice is the relay asked for.
  if (opts.splice === false || l4Relay() === "kernel") configureKernelSplice(opts.splice !== false, log.child({ component: "l4-splice" }));
  const aggregator = new AggregatorRegistry();
  const demo = opts.demoBackends ? new DemoBackends(log.child({ component: "demo" })) : null;

  let pool: WorkerPool | null = null;
  let ebpf: EbpfManager | null = null;
  let l4lb: L4LbPlane | null = null;
  // GET /ready?after=N&wait=MS answers when these say the state it waits for came.
  const readyChanges = new ReadyChanges();
  const boost = new ChangeBoost({
    enabled: opts.realtimeChanges !== false,
    set: setRealtime,
    workersSettled: () => {
      const version = controller.snapshot?.version ?? 0;
      return (pool?.states() ?? []).every((w) => w.pid === null || w.version >= version || w.error !== undefined);
    },
    log: log.child({ component: "config" }),
  });
  const controller = new ConfigController({
    translate: (objects, memo) => translate(objects, { controllerName: CONTROLLER_NAME, memo }),
    metrics,
    log: log.child({ component: "config" }),
    publish: (snapshot) => {
      // The workers first: they apply it in their own processes while the kernel's part is done here.
      pool?.publish(snapshot);
      l4lb?.apply(snapshot.config);
      ebpf?.apply(snapshot.config);
      readyChanges.notify();
    },
  });

  // The flow stream: kernel flow events are published into it (eBPF manager), workers' L7/L4
  // records are fetched from or shipped by the workers (see src/observe/flow-hub.ts).
  const flows = new FlowHub();
  // Before the provider starts: the first snapshot already reaches the kernel.
  ebpf = new EbpfManager(
    { interfaces: opts.ebpf?.interfaces ?? [], disabled: opts.ebpf?.disabled ?? false, bpffs: opts.ebpf?.bpffs ?? DEFAULT_BPFFS, flows },
    log.child({ component: "ebpf" }),
  );
  ebpf.start();
  const addresses = gatewayAddresses(opts.listenAddress);
  if (opts.l4LbCgroup) {
    const { startL4LbPlane } = await import("../ebpf/l4-lb.js");
    l4lb = startL4LbPlane({ cgroup: opts.l4LbCgroup, addresses: addresses.map((a) => a.value), log: log.child({ component: "l4lb" }) });
  }
  registerL4LbMetrics(metrics.registry, () => l4lb);
  const bindFailures = new BindFailures();
  // prom-client waits 5 s for silent workers; an admin request should not.
  const workerMetricsText = (): Promise<string> =>
    Promise.race([
      aggregator.clusterMetrics(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer from the workers within ${METRICS_WAIT_MS} ms`)), METRICS_WAIT_MS).unref()),
    ]);
  const source: AdminSource = {
    flows,
    ready: () => readiness(controller, pool),
    readyChanges,
    statusList: async () => {
      const entries = controller.statuses.list();
      // What rate-limit rules allowed and refused so far: runtime facts, like the Gateway's below.
      const limited = entries.some(({ object }) => object.kind === "BackendTrafficPolicy" && (object.spec as { rateLimit?: unknown } | undefined)?.rateLimit !== undefined);
      const counts = limited ? rateLimitCounts(await workerMetricsText().catch(() => "")) : null;
      return {
        apiVersion: "v1" as const,
        kind: "List" as const,
        metadata: { resourceVersion: String(controller.snapshot?.version ?? 0) },
        items: entries.map(({ object, status }) => {
          const { status: _fromFile, ...rest } = object;
          if (status === undefined) return rest;
          // Where the Gateway is reachable, and whether its ports are bound, are facts of this
          // host and its workers, not of the (pure) translation.
          if (object.kind === "Gateway") return { ...rest, status: { addresses, ...bindFailures.apply(object, status) } };
          const rl = counts?.get(`${object.metadata.namespace ?? "default"}/${object.metadata.name}`);
          if (object.kind === "BackendTrafficPolicy" && rl) return { ...rest, status: { ...status, rateLimit: { rules: rl } } };
          return { ...rest, status };
        }),
      };
    },
    configDump: () => {
      const views = controller.diagnostics.map(viewOf);
      return {
        version: controller.snapshot?.version ?? 0,
        hash: controller.snapshot?.hash ?? null,
        config: controller.snapshot?.config ?? null,
        diagnostics: {
          errors: views.filter((d) => d.severity === "error"),
          warnings: views.filter((d) => d.severity !== "error"),
        },
      };
    },
    metrics: async () => {
      let workerText: string;
      try {
        workerText = await workerMetricsText();
      } catch (err) {
        // The control metrics are still worth serving when a worker does not answer.
        workerText = `# worker metrics unavailable: ${errText(err)}\n`;
      }
      const controlText = joinExposition(await metrics.text(), ebpf?.metricsText() ?? "");
      return { contentType: aggregator.contentType, text: joinExposition(workerText, controlText) };
    },
  };

  let admin: AdminServer;
  try {
    admin = await startAdminServer(source, opts.adminAddress, opts.adminPort);
  } catch (err) {
    throw new Error(`cannot start the admin server on ${opts.adminAddress}:${opts.adminPort}: ${errText(err)}`);
  }
  log.info({ address: `${admin.address}:${admin.port}` }, "admin server listening");

  // Once every worker serves the first snapshot (an idle moment), the change path runs a few times
  // on it so that the first real change does not run unoptimised code (ConfigController.warmUp).
  let warmedUp = false;
  const warmUpOnceServing = (): void => {
    const snap = controller.snapshot;
    const states = pool?.states() ?? [];
    if (warmedUp || !snap || states.length === 0 || states.some((w) => w.version !== snap.version)) return;
    warmedUp = true;
    pool?.warmUp();
    // With the provider's rehearsal: the rewrite of one route file, parsed and stamped afresh.
    void controller.warmUp(undefined, () => provider.rehearsal());
  };

  const init = { accessLog: opts.accessLog, logLevel: opts.logLevel, ...(opts.listenAddress ? { listenAddress: opts.listenAddress } : {}) };
  pool = new WorkerPool({
    count: opts.workers,
    exec: WORKER_ENTRY,
    init,
    log: log.child({ component: "workers" }),
    // A bind failure's transition time is when a worker reported it.
    onChange: () => {
      bindFailures.observe(pool?.states() ?? []);
      boost.workersChanged();
      readyChanges.notify();
      warmUpOnceServing();
    },
    onFlows: (records, lost) => flows.fromWorker(records, lost),
    boost,
  });
  flows.attachWorkers(pool);
  // Before the workers start: their first rate-limited request asks the control process.
  const rateLimits = new RateLimitService(opts.redisUrl, log.child({ component: "ratelimit" }));
  pool.start();

  const provider = new FileProvider(opts.configDir, { onBusy: (busy) => boost.providerBusy(busy) });
  const onLoad = (load: LoadResult): void => {
    try {
      demo?.sync(load.objects.map((lo) => lo.object));
      controller.onLoad(load);
    } catch (err) {
      log.error({ err: errText(err) }, "could not process a configuration load");
    }
  };
  await provider.start(onLoad);
  log.info({ config: opts.configDir, workers: opts.workers }, "sluice started");

  let stopping: Promise<void> | null = null;
  const stop = (stopOpts: { keepKernelState?: boolean } = {}): Promise<void> =>
    (stopping ??= (async () => {
      log.info("stopping");
      try {
        await provider.stop();
      } catch (err) {
        log.warn({ err: errText(err) }, "provider did not stop cleanly");
      }
      await pool?.stop(STOP_TIMEOUT_MS);
      boost.stop();
      await rateLimits.close();
      await ebpf?.stop({ keepPinned: stopOpts.keepKernelState === true });
      l4lb?.close();
      await Promise.all([admin.close(), demo?.close()]);
      const cgroupProblem = sockmap?.close();
      if (cgroupProblem) log.warn({ problem: cgroupProblem }, "socket acceleration: cgroup not cleaned up");
      log.info("stopped");
    })());
  return { stop };
}

function readiness(controller: ConfigController, pool: WorkerPool | null): ReadyView {
  const snap = controller.snapshot;
  const states = pool?.states() ?? [];
  const iso = (ms: number | undefined): { appliedAt?: string } => (ms === undefined ? {} : { appliedAt: new Date(ms).toISOString() });
  const workers = states.map((w) => ({ id: w.id, pid: w.pid, version: w.version, ...iso(w.appliedAt), ...(w.error ? { error: w.error } : {}) }));
  const errors = controller.errors;
  if (!snap) {
    const reason =
      errors.length > 0
        ? `the configuration has ${errors.length} error(s) and no valid configuration was loaded before: ${errors.slice(0, 5).map(formatDiagnostic).join("; ")}${errors.length > 5 ? "; ..." : ""}`
        : controller.loads === 0
          ? "configuration not loaded yet"
          : "no configuration snapshot yet";
    return { ready: false, version: 0, workers, reason };
  }
  const behind = states.filter((w) => w.version !== snap.version);
  if (behind.length > 0) {
    const detail = behind.map((w) => `worker ${w.id} ${w.pid === null ? "is restarting" : w.error ? `rejected it: ${w.error}` : `has version ${w.version}`}`);
    return { ready: false, version: snap.version, workers, reason: `waiting for workers to apply version ${snap.version}: ${detail.join("; ")}` };
  }
  const failed = states.flatMap((w) => w.listeners.filter((l) => !l.ok).map((l) => `worker ${w.id} listener ${l.name} port ${l.port}: ${l.error ?? "failed"}`));
  if (failed.length > 0) return { ready: false, version: snap.version, workers, reason: `listeners failed: ${failed.join("; ")}` };
  const last = Math.max(...states.map((w) => w.appliedAt ?? 0));
  return { ready: true, version: snap.version, workers, ...(last > 0 ? { servedAt: new Date(last).toISOString() } : {}) };
}

function joinExposition(a: string, b: string): string {
  if (!a) return b;
  return a.endsWith("\n") ? a + b : `${a}\n${b}`;
}
