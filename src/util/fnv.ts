// FNV-1a over a string's UTF-16 code units, from a given 32-bit state: the base of the stable
// hashes that must agree across workers and processes (Maglev permutations, UDP client affinity).
export function fnv1a(s: string, state: number): number {
  let h = state >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}
