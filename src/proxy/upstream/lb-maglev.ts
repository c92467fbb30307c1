// Consistent hashing with a Maglev table (the same builder as the kernel L4 balancer): entry
// hash % size names the endpoint. Built once per endpoint-set change; adding or removing one of N
// endpoints moves about 1/N of the keys. Weights give proportional shares of the table.
import { buildMaglevTable, isPrime } from "../../ebpf/maglev.js";
import { HASH_SPACE } from "./lb-hash.js";
import type { Candidate, Picker } from "./lb-picker.js";

/** The smallest prime >= n (table sizes must be prime; the schema asks for one, this is a backstop). */
export function primeAtLeast(n: number): number {
  let p = Math.max(2, Math.floor(n));
  while (!isPrime(p)) p++;
  return p;
}

export class MaglevPicker implements Picker {
  private readonly table: Int32Array;
  private readonly size: number;

  constructor(cands: Candidate[], tableSize: number) {
    const size = primeAtLeast(Math.max(tableSize, cands.length));
    const t = buildMaglevTable(cands.map((c) => ({ key: c.key, weight: c.weight })), size);
    // Map candidate positions to endpoint indices once, so a pick is a single load.
    for (let i = 0; i < t.length; i++) t[i] = t[i]! < 0 ? -1 : cands[t[i]!]!.index;
    this.table = t;
    this.size = size;
  }

  pick(hash: number): number {
    const h = hash < 0 ? Math.floor(Math.random() * HASH_SPACE) : hash;
    return this.table[h % this.size]!;
  }
}
