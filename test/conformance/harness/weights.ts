// Weighted distribution check: 500 requests, 10 at a time; each backend's share must be within
// 5 percentage points of its weight, and weight-0 backends must get nothing. A few tries allowed.
import { compare, send, type Expectation } from "./http.js";

export async function checkWeightedDistribution(port: number, exp: Expectation, weights: Record<string, number>, total = 500, rounds = 3): Promise<void> {
  let last = "";
  for (let round = 0; round < rounds; round++) {
    const seen: Record<string, number> = {};
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < total) {
        next++;
        const res = await send(port, exp);
        const diff = compare(exp, res);
        if (diff) throw new Error(diff);
        const backend = Object.keys(weights).find((b) => res.echo!.pod.startsWith(b)) ?? res.echo!.pod;
        seen[backend] = (seen[backend] ?? 0) + 1;
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    const errs: string[] = [];
    for (const b of Object.keys(seen)) if (!(b in weights) || weights[b] === 0) errs.push(`${b} got ${seen[b]} requests, expected none`);
    for (const [b, w] of Object.entries(weights)) {
      const got = (seen[b] ?? 0) / total;
      if (Math.abs(got - w) > 0.05) errs.push(`${b} got ${(got * 100).toFixed(1)}%, expected ${w * 100}% ± 5`);
    }
    if (errs.length === 0) return;
    last = `${errs.join("; ")} (counts ${JSON.stringify(seen)})`;
  }
  throw new Error(last);
}
