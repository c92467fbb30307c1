// Hostname matching shared by listener isolation, virtual hosts and SNI.

/** Lowercased host of a Host/:authority value with the port stripped ("[::1]:80" -> "[::1]"). */
export function hostOf(authority: string | undefined): string {
  if (!authority) return "";
  let h = authority;
  if (h.charCodeAt(0) === 91 /* [ */) {
    const end = h.indexOf("]");
    h = end > 0 ? h.slice(0, end + 1) : h;
  } else {
    const c = h.lastIndexOf(":");
    if (c >= 0) h = h.slice(0, c);
  }
  // Fully-qualified form "example.com." names the same host.
  if (h.length > 1 && h.charCodeAt(h.length - 1) === 46) h = h.slice(0, -1);
  return h.toLowerCase();
}

/** Compiled test for one configured hostname: exact, "*.suffix" (one or more labels), or any. */
export type HostTest = (host: string) => boolean;

export function compileHostname(pattern: string | null): HostTest {
  if (pattern === null || pattern === "" || pattern === "*") return () => true;
  const p = pattern.toLowerCase();
  if (p.startsWith("*.")) {
    const suffix = p.slice(1); // ".example.com"
    return (host) => host.length > suffix.length && host.endsWith(suffix);
  }
  return (host) => host === p;
}

/** 0 = any, 1 = wildcard, 2 = exact: used to prefer exact over wildcard. */
export function hostnameRank(pattern: string | null): number {
  if (pattern === null || pattern === "" || pattern === "*") return 0;
  return pattern.startsWith("*.") ? 1 : 2;
}
