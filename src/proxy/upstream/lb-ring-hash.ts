// Consistent hashing on a ring (Karger et al.): each endpoint owns virtual nodes at hashes of its
// key, as many as `perEndpoint` x its weight / the largest weight; a request goes to the first node
// at or after its hash. Lookup is a binary search over the sorted ring. An endpoint's node count
// does not depend on the others, so adding one only takes over the arcs in front of its own nodes:
// about 1/N of the keys move, all of them to the new endpoint.
import { HASH_SPACE, hashString } from "./lb-hash.js";
import type { Candidate, Picker } from "./lb-picker.js";

/** Bounds on the ring's node count (Envoy's default maximum is 8M). */
const MAX_RING = 8_388_608;

export class RingHashPicker implements Picker {
  private readonly hashes: Uint32Array;
  private readonly owners: Int32Array;

  constructor(cands: Candidate[], perEndpoint: number) {
    const maxW = cands.reduce((a, c) => Math.max(a, c.weight), 0);
    const per = Math.max(1, Math.min(perEndpoint, Math.floor(MAX_RING / cands.length)));
    const counts = cands.map((c) => Math.max(1, Math.round((per * c.weight) / maxW)));
    const n = counts.reduce((a, b) => a + b, 0);
    const hashes = new Uint32Array(n);
    const owners = new Int32Array(n);
    let k = 0;
    cands.forEach((c, ci) => {
      for (let v = 0; v < counts[ci]!; v++) {
        hashes[k] = hashString(`${c.key}_${v}`);
        owners[k] = c.index;
        k++;
      }
    });
    // Sort nodes by hash (ties by owner, so the ring does not depend on the candidates' order).
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => hashes[a]! - hashes[b]! || owners[a]! - owners[b]!);
    this.hashes = Uint32Array.from(order, (i) => hashes[i]!);
    this.owners = Int32Array.from(order, (i) => owners[i]!);
  }

  pick(hash: number): number {
    const h = hash < 0 ? Math.floor(Math.random() * HASH_SPACE) : hash;
    const a = this.hashes;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === a.length ? 0 : lo]!;
  }
}
