// Upstream's eventually-consistent checks, one loop for all of them: an outcome must hold
// `consecutive` times in a row, the first time within `windowMs`; 100 ms between attempts after a
// miss, none after a hit; a bounded number of attempts.

export interface HoldOptions {
  windowMs?: number;
  consecutive?: number;
  attempts?: number;
}

/** `attempt` gives null when the outcome holds, else what differs; throws an Error with the last difference. */
export async function holdsInARow(attempt: () => Promise<string | null>, opts: HoldOptions = {}): Promise<void> {
  const deadline = Date.now() + (opts.windowMs ?? 1500);
  const need = opts.consecutive ?? 2;
  const attempts = opts.attempts ?? 100;
  let ok = 0;
  let last = "";
  for (let i = 0; i < attempts; i++) {
    const diff = await attempt();
    if (diff === null) {
      if (++ok >= need) return;
      continue;
    }
    ok = 0;
    last = diff;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(last);
}
