// Small helpers to quote user values and to say in words what a value should look like.

/** A user's value as it should appear in a message: strings quoted, long values shortened. */
export function quote(value: unknown): string {
  let s: string;
  if (value === undefined) s = "nothing";
  else if (typeof value === "string") s = JSON.stringify(value);
  else {
    try {
      s = JSON.stringify(value) ?? String(value);
    } catch {
      s = String(value);
    }
  }
  return s.length > 80 ? s.slice(0, 77) + "..." : s;
}

export function typeName(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  if (typeof value === "number") return Number.isInteger(value) ? "an integer" : "a number";
  if (typeof value === "boolean") return "a boolean";
  if (typeof value === "string") return "a string";
  return typeof value;
}

export function expectedType(t: string | string[]): string {
  const one = (x: string): string =>
    ({
      string: "a string",
      integer: "an integer",
      number: "a number",
      boolean: "a boolean (true or false)",
      object: "a mapping (key: value)",
      array: "a list",
      null: "null",
    })[x] ?? x;
  return Array.isArray(t) ? t.map(one).join(" or ") : one(t);
}

/** Patterns from the Kubernetes and Gateway API schemas, said in words. */
const PATTERN_WORDS: Record<string, string> = {
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$":
    "a lowercase RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. \"web-1\")",
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$":
    "a lowercase RFC 1123 subdomain: dot-separated labels of lowercase letters, digits and '-' (e.g. \"example.com\")",
  "^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$":
    "an API group: \"\" for the core group, or a lowercase DNS subdomain such as \"gateway.networking.k8s.io\"",
  "^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$":
    "a lowercase DNS hostname, optionally starting with \"*.\" (e.g. \"api.example.com\" or \"*.example.com\"); no IP address, port or trailing dot",
  "^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$": "a kind name: letters, digits and '-', starting with a letter (e.g. \"Service\")",
  "^([0-9]{1,5}(h|m|s|ms)){1,4}$":
    "a Gateway API duration: up to four <number><unit> parts with units h, m, s or ms, each number at most 5 digits (e.g. \"10s\", \"500ms\", \"1h2m3s\")",
  "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$": "an HTTP header name: letters, digits and !#$%&'*+-.^_`|~ (e.g. \"x-request-id\")",
  "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$":
    "a URL path of valid characters (letters, digits, -/._~!$&'()*+,;=:@ and %XX escapes)",
  "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$":
    "a label value: empty, or letters, digits, '-', '_' and '.', starting and ending with a letter or digit",
  "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$":
    "a domain-prefixed path such as \"sluice.dev/gateway-controller\"",
  "^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\/[A-Za-z0-9]+$":
    "an implementation-neutral name such as \"Terminate\", or a domain-prefixed name such as \"example.com/option\"",
};

export function describePattern(pattern: string): string {
  return PATTERN_WORDS[pattern] ?? `a value matching the regular expression /${pattern}/`;
}

/** Levenshtein distance, bounded: used for "did you mean" hints. */
export function editDistance(a: string, b: string): number {
  const al = a.toLowerCase();
  const bl = b.toLowerCase();
  const dp: number[] = Array.from({ length: bl.length + 1 }, (_, j) => j);
  for (let i = 1; i <= al.length; i++) {
    let prev = dp[0];
    dp[0] = i;
    for (let j = 1; j <= bl.length; j++) {
      const tmp = dp[j];
      dp[j] = Math.min(dp[j] + 1, dp[j - 1] + 1, prev + (al[i - 1] === bl[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[bl.length];
}

export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = editDistance(word, c);
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

export const RFC1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
export const RFC1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
