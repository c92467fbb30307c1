// CIDR parsing into network-order bytes, normalised (host bits cleared), for the LPM tries.
import { isIPv4, isIPv6 } from "node:net";

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** Network-order address bytes with host bits zeroed (4 or 16 bytes). */
  addr: Uint8Array;
  len: number;
}

function v4Bytes(s: string): Uint8Array {
  return Uint8Array.from(s.split(".").map((p) => Number(p)));
}

function v6Bytes(s: string): Uint8Array {
  let text = s;
  let tail: number[] = [];
  // An embedded dotted quad (::ffff:1.2.3.4) becomes the last two groups.
  const lastColon = text.lastIndexOf(":");
  const maybeV4 = text.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    tail = Array.from(v4Bytes(maybeV4));
    text = text.slice(0, lastColon + 1) + "0:0";
  }
  const [head, rest] = text.split("::") as [string, string | undefined];
  const hs = head ? head.split(":") : [];
  const rs = rest !== undefined && rest !== "" ? rest.split(":") : [];
  const groups = rest === undefined ? hs : [...hs, ...Array<string>(8 - hs.length - rs.length).fill("0"), ...rs];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const n = parseInt(g, 16);
    out[i * 2] = n >> 8;
    out[i * 2 + 1] = n & 0xff;
  });
  if (tail.length) out.set(tail, 12);
  return out;
}

/** Parses "a.b.c.d/n", "x::y/n" or a bare address (full-length prefix). Returns an error sentence instead of throwing. */
export function parseCidr(text: string): Prefix | string {
  const s = text.trim();
  const slash = s.indexOf("/");
  const ip = slash < 0 ? s : s.slice(0, slash);
  const lenText = slash < 0 ? undefined : s.slice(slash + 1);
  let family: Family;
  let addr: Uint8Array;
  if (isIPv4(ip)) {
    family = 4;
    addr = v4Bytes(ip);
  } else if (isIPv6(ip) && !ip.includes("%")) {
    family = 6;
    addr = v6Bytes(ip);
  } else {
    return `"${text}" is not an IPv4 or IPv6 CIDR (expected e.g. 10.0.0.0/8 or 2001:db8::/32)`;
  }
  const max = family === 4 ? 32 : 128;
  let len = max;
  if (lenText !== undefined) {
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return `"${text}" has an invalid prefix length (expected 0..${max})`;
    len = Number(lenText);
  }
  return { family, addr: maskBytes(addr, len), len };
}

function maskBytes(addr: Uint8Array, len: number): Uint8Array {
  const out = Uint8Array.from(addr);
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, len - i * 8));
    out[i] &= bits === 0 ? 0 : (0xff << (8 - bits)) & 0xff;
  }
  return out;
}

/** The prefix of length len (<= p.len) that contains p. */
export function truncate(p: Prefix, len: number): Prefix {
  return { family: p.family, addr: maskBytes(p.addr, len), len };
}

/** True when `outer` contains `inner` (same family, shorter-or-equal prefix, same leading bits). */
export function contains(outer: Prefix, inner: Prefix): boolean {
  if (outer.family !== inner.family || outer.len > inner.len) return false;
  const masked = maskBytes(inner.addr, outer.len);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== outer.addr[i]) return false;
  return true;
}

export function prefixKey(p: Prefix): string {
  return `${p.family}:${Buffer.from(p.addr).toString("hex")}/${p.len}`;
}

export function formatPrefix(p: Prefix): string {
  if (p.family === 4) return `${Array.from(p.addr).join(".")}/${p.len}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((p.addr[i] << 8) | p.addr[i + 1]).toString(16));
  return `${groups.join(":")}/${p.len}`; // uncompressed: for logs and doctor output only
}
