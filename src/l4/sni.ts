// A small bounded ClientHello reader: enough of TLS to find the server_name extension in the first
// bytes of a connection without terminating TLS. Handles a ClientHello spread over several
// records (and records split across reads) by reassembling the handshake message.

/** Largest ClientHello we wait for; TLS caps a handshake message far above real ones. */
export const MAX_CLIENT_HELLO = 64 * 1024;

export type SniResult =
  | { state: "more" }
  | { state: "done"; serverName: string | null }
  | { state: "invalid"; why: string };

const MORE: SniResult = { state: "more" };
const invalid = (why: string): SniResult => ({ state: "invalid", why });

/**
 * Reads the SNI from the bytes received so far. "more" means the ClientHello is not complete yet;
 * call again with more bytes (the whole buffer, from the first byte).
 */
export function readClientHelloSni(data: Buffer): SniResult {
  // 1. Reassemble the handshake layer from TLS records of type handshake (22).
  const chunks: Buffer[] = [];
  let have = 0;
  let need = -1; // handshake message length incl. its 4-byte header, once known
  let off = 0;
  while (need < 0 || have < need) {
    if (data.length < off + 5) return data.length > MAX_CLIENT_HELLO + 5 ? invalid("too long") : MORE;
    if (data[off] !== 22) return invalid("not a TLS handshake record");
    if (data[off + 1] !== 3) return invalid("not TLS");
    const len = data.readUInt16BE(off + 3);
    if (len === 0) return invalid("empty record");
    // A plaintext record carries at most 2^14 bytes (RFC 8446 5.1).
    if (len > 16384) return invalid("record too long");
    if (data.length < off + 5 + len) return off + 5 + len > MAX_CLIENT_HELLO + 5 * 16 ? invalid("too long") : MORE;
    chunks.push(data.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const hs = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (hs[0] !== 1) return invalid("first handshake message is not a ClientHello");
      need = 4 + ((hs[1] << 16) | (hs[2] << 8) | hs[3]);
      if (need > MAX_CLIENT_HELLO) return invalid("ClientHello too long");
    }
  }
  const hello = (chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)).subarray(4, need);
  return parseHelloBody(hello);
}

function parseHelloBody(b: Buffer): SniResult {
  // client_version(2) random(32) session_id<0..32> cipher_suites<2..> compression<1..> extensions<0..>
  let p = 34;
  if (b.length < p + 1) return invalid("truncated ClientHello");
  p += 1 + b[p];
  if (b.length < p + 2) return invalid("truncated cipher suites");
  p += 2 + b.readUInt16BE(p);
  if (b.length < p + 1) return invalid("truncated compression methods");
  p += 1 + b[p];
  if (p === b.length) return { state: "done", serverName: null }; // no extensions at all
  if (b.length < p + 2) return invalid("truncated extensions");
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return invalid("extensions overrun the ClientHello");
  p += 2;
  while (p + 4 <= end) {
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    p += 4;
    if (p + len > end) return invalid("extension overruns");
    if (type === 0) return readServerNameList(b.subarray(p, p + len));
    p += len;
  }
  return { state: "done", serverName: null };
}

function readServerNameList(e: Buffer): SniResult {
  if (e.length < 2) return invalid("empty server_name");
  const end = 2 + e.readUInt16BE(0);
  if (end > e.length) return invalid("server_name list overruns");
  let p = 2;
  while (p + 3 <= end) {
    const type = e[p];
    const len = e.readUInt16BE(p + 1);
    p += 3;
    if (p + len > end) return invalid("server name overruns");
    if (type === 0) {
      const name = e.toString("latin1", p, p + len);
      // A host_name is ASCII letters, digits, '-', '.' (RFC 6066); anything else is not routable.
      if (!/^[A-Za-z0-9._-]{1,253}$/.test(name)) return invalid("malformed host_name");
      return { state: "done", serverName: name.toLowerCase().replace(/\.$/, "") };
    }
    p += len;
  }
  return { state: "done", serverName: null };
}
