// One progress line on stderr: rewritten in place on a terminal, one line per step otherwise. Each
// line starts with the time since the start and in the current phase, so a run shows where its
// time goes; phaseSummary() gives the totals per phase at the end.
import { performance } from "node:perf_hooks";

const tty = process.stderr.isTTY === true;
let shown = false;
let current: { name: string; t0: number } | null = null;
const phases: { name: string; ms: number }[] = [];

const secs = (ms: number): string => `${(ms / 1000).toFixed(1)}s`;

/** Starts a named phase (ending the one before). */
export function phase(name: string): void {
  endPhase();
  current = { name, t0: performance.now() };
}

export function endPhase(): void {
  if (current !== null) phases.push({ name: current.name, ms: performance.now() - current.t0 });
  current = null;
}

/** "build 0.3s, set-up 4.9s, ...; total 41.2s" (total: since this process started). */
export function phaseSummary(): string {
  endPhase();
  return `${phases.map((p) => `${p.name} ${secs(p.ms)}`).join(", ")}; total ${secs(performance.now())} since the bench process started`;
}

function stamp(): string {
  const now = performance.now();
  return current === null ? `[${secs(now)}]` : `[${secs(now)} ${current.name} +${secs(now - current.t0)}]`;
}

export function progress(text: string): void {
  if (tty) {
    process.stderr.write(`\r\x1b[2K${stamp()} ${text}`);
    shown = true;
  } else process.stderr.write(`${stamp()} ${text}\n`);
}

export function note(text: string): void {
  if (tty && shown) process.stderr.write("\r\x1b[2K");
  shown = false;
  process.stderr.write(`${text}\n`);
}
