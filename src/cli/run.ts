// `sluice run`
import { statSync } from "node:fs";
import os from "node:os";
import { resolve } from "node:path";
import { configureLog, isLogLevel, LOG_LEVELS } from "../observe/log.js";
import { intOption, parse, str, UsageError } from "./args.js";
import { RUN_USAGE } from "./usage.js";
import { CONTROL_NODE_FLAGS, reexecWithNodeFlags } from "../control/node-flags.js";
import { DEFAULT_L4_RELAY, isL4Relay, L4_RELAY_ENV, L4_RELAYS } from "../l4/relay-mode.js";

export async function runCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      config: { type: "string", short: "c" },
      workers: { type: "string" },
      "admin-port": { type: "string" },
      "admin-address": { type: "string" },
      "listen-address": { type: "string" },
      "access-log": { type: "string" },
      "log-level": { type: "string" },
      "demo-backends": { type: "boolean" },
      interface: { type: "string", multiple: true },
      "no-ebpf": { type: "boolean" },
      bpffs: { type: "string" },
      "l4-lb-cgroup": { type: "string" },
      "no-sockmap": { type: "boolean" },
      "no-splice": { type: "boolean" },
      "l4-relay": { type: "string" },
      cgroup: { type: "string" },
      "redis-url": { type: "string" },
      "control-nice": { type: "string" },
      "no-realtime-changes": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    RUN_USAGE,
    0,
  );
  if (values.help) {
    process.stdout.write(RUN_USAGE);
    return 0;
  }
  const config = str(values.config);
  if (!config) throw new UsageError("--config DIR is required", RUN_USAGE);
  const configDir = resolve(config);
  let isDir = false;
  try {
    isDir = statSync(configDir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) {
    process.stderr.write(`sluice run: ${configDir} is not a folder\n`);
    return 1;
  }
  const logLevel = str(values["log-level"]) ?? "info";
  if (!isLogLevel(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`, RUN_USAGE);
  const workers = intOption(values.workers, "workers", RUN_USAGE, 1, 1024) ?? os.availableParallelism();
  const adminPort = intOption(values["admin-port"], "admin-port", RUN_USAGE, 0, 65535) ?? 9901;
  const controlNice = intOption(values["control-nice"], "control-nice", RUN_USAGE, -20, 19);
  const listenAddress = str(values["listen-address"]);
  const interfaces = interfaceList(values.interface);
  const l4Relay = str(values["l4-relay"]) ?? (values["no-splice"] === true ? "userspace" : DEFAULT_L4_RELAY);
  if (!isL4Relay(l4Relay)) throw new UsageError(`--l4-relay must be one of ${L4_RELAYS.join(", ")}, got "${l4Relay}"`, RUN_USAGE);
  if (values["no-splice"] === true && l4Relay !== "userspace") throw new UsageError(`--no-splice relays in userspace; it contradicts --l4-relay ${l4Relay}`, RUN_USAGE);
  // Arguments are good: from here the gateway starts, in a process with the node flags it needs.
  const unflagged = reexecWithNodeFlags();
  // Workers are forked after this and inherit it.
  process.env[L4_RELAY_ENV] = l4Relay;
  const log = configureLog(logLevel);
  if (unflagged) log.warn({ flags: CONTROL_NODE_FLAGS.join(" "), reason: unflagged }, "running without these node flags: the first route changes after an idle spell may take longer");

  let gw;
  try {
    // Loaded after argument checks so usage errors and --help do not load the whole gateway.
    const { runGateway } = await import("../control/gateway.js");
    gw = await runGateway(
      {
        configDir,
        workers,
        adminPort,
        adminAddress: str(values["admin-address"]) ?? "127.0.0.1",
        ...(listenAddress ? { listenAddress } : {}),
        accessLog: str(values["access-log"]) ?? "stdout",
        logLevel,
        demoBackends: values["demo-backends"] === true,
        ebpf: { interfaces, disabled: values["no-ebpf"] === true, ...(str(values.bpffs) ? { bpffs: resolve(str(values.bpffs)!) } : {}) },
        ...(str(values["l4-lb-cgroup"]) ? { l4LbCgroup: str(values["l4-lb-cgroup"])! } : {}),
        sockmap: values["no-sockmap"] !== true,
        splice: values["no-splice"] !== true,
        ...(str(values.cgroup) ? { cgroup: resolve(str(values.cgroup)!) } : {}),
        ...(str(values["redis-url"]) ? { redisUrl: str(values["redis-url"])! } : {}),
        ...(controlNice !== undefined ? { controlNice } : {}),
        realtimeChanges: values["no-realtime-changes"] !== true,
      },
      log,
    );
  } catch (err) {
    log.fatal({ err: err instanceof Error ? err.message : String(err) }, "sluice could not start");
    process.stderr.write(`sluice run: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }

  // The primary holds the configuration state; a bug here must not take the workers down with it.
  process.on("uncaughtException", (err) => log.error({ err: err.message, stack: err.stack }, "uncaught exception in the control process"));
  process.on("unhandledRejection", (err) => log.error({ err: String(err) }, "unhandled rejection in the control process"));

  return new Promise<number>((done) => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log.warn({ signal: sig }, "second signal; exiting now");
        done(1);
        return;
      }
      log.info({ signal: sig }, "signal received");
      // SIGUSR2: stop for a restart, leaving the pinned network policy enforcing until the next run.
      gw.stop({ keepKernelState: sig === "SIGUSR2" }).then(
        () => done(0),
        (err: unknown) => {
          log.error({ err: String(err) }, "error while stopping");
          done(1);
        },
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    process.on("SIGUSR2", onSignal);
  });
}

/** --interface NAME, repeatable: Linux interface names (1-15 bytes, no "/" or whitespace). */
function interfaceList(v: unknown): string[] {
  const list = Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : [];
  for (const name of list) {
    if (!/^[^\s/:]{1,15}$/.test(name) || name === "." || name === "..") throw new UsageError(`--interface must be a network interface name (1-15 characters, no "/" or spaces), got "${name}"`, RUN_USAGE);
  }
  return [...new Set(list)];
}
