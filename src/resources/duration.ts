// Gateway API Duration (GEP-2257): one to four <number><unit> pairs, units h, m, s, ms.
// Example: "1h30m", "500ms", "0s". Parsed into whole milliseconds; used by the field checks of
// the loader and by the translator.

const PART = /([0-9]{1,5})(ms|h|m|s)/y;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** Milliseconds, or null when the string is not a valid Gateway API duration. */
export function parseDuration(text: string): number | null {
  if (typeof text !== "string" || text.length === 0) return null;
  let total = 0;
  let parts = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (!m) return null;
    total += Number(m[1]) * UNIT_MS[m[2]];
    parts++;
    if (parts > 4) return null;
  }
  return total;
}
