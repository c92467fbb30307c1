// Active TCP health check: connect (TLS when the cluster uses it); with a send payload, write it;
// with a receive payload, healthy once the bytes read so far contain it. No payloads: a completed
// connection is healthy.
import { connectTarget, errorText, type Probe } from "./health-probe.js";

const MAX_READ = 64 * 1024;

export const tcpProbe: Probe = (t, check, signal) =>
  new Promise((resolve) => {
    const send = check.tcp?.send ? Buffer.from(check.tcp.send.base64, "base64") : null;
    const want = check.tcp?.receive ? Buffer.from(check.tcp.receive.base64, "base64") : null;
    const sock = connectTarget(t);
    let got = Buffer.alloc(0);
    let settled = false;
    const done = (r: string | null): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = (): void => done(want !== null ? "timed out waiting for the expected bytes" : "timed out connecting");
    signal.addEventListener("abort", onAbort);
    sock.on("error", (err) => done(errorText(err)));
    sock.once(t.tls !== null ? "secureConnect" : "connect", () => {
      if (send !== null) sock.write(send);
      if (want === null) done(null);
    });
    sock.on("data", (c: Buffer) => {
      if (want === null) return;
      got = Buffer.concat([got, c]).subarray(-MAX_READ);
      if (got.indexOf(want) >= 0) done(null);
    });
    sock.on("end", () => done(want !== null ? "connection closed before the expected bytes arrived" : null));
  });
