// Structured logs (JSON lines) on stderr, so stdout stays free for the access log.
import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function isLogLevel(v: string): v is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

let root: Logger = pino({ level: "info", base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));

/** Replaces the process-wide logger (called once by the CLI after parsing --log-level). */
export function configureLog(level: LevelWithSilent, component?: string): Logger {
  const base: Record<string, unknown> = { pid: process.pid };
  if (component) base.component = component;
  // sync writes: logs must not be lost when the process exits right after an error.
  root = pino({ level, base }, pino.destination({ fd: 2, sync: true }));
  return root;
}

export function log(): Logger {
  return root;
}

export function childLog(component: string): Logger {
  return root.child({ component });
}
