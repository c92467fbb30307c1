// Active gRPC health check: the standard health protocol, grpc.health.v1.Health/Check, over h2c
// (or TLS with ALPN h2) with a minimal hand-encoded protobuf: request { string service = 1 },
// response { ServingStatus status = 1 } where SERVING = 1. Healthy only for grpc-status 0 + SERVING.
import { errorText, probeOverH2, type Probe } from "./health-probe.js";

const SERVING = 1;
const STATUS_NAMES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"];

/** The length-prefixed gRPC message carrying a HealthCheckRequest. */
export function encodeHealthRequest(service: string): Buffer {
  const name = Buffer.from(service, "utf8");
  const body: number[] = [];
  if (name.length > 0) {
    body.push(0x0a); // field 1, length-delimited
    let n = name.length;
    while (n > 0x7f) {
      body.push((n & 0x7f) | 0x80);
      n >>>= 7;
    }
    body.push(n);
  }
  const msg = Buffer.concat([Buffer.from(body), name]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(msg.length, 1);
  return Buffer.concat([frame, msg]);
}

/** status of a HealthCheckResponse message (without the 5-byte prefix); 0 (UNKNOWN) when absent. */
export function decodeHealthStatus(msg: Buffer): number {
  let i = 0;
  while (i < msg.length) {
    const tag = msg[i++]!;
    let v = 0;
    let shift = 0;
    if ((tag & 7) === 0) {
      for (;;) {
        const b = msg[i++];
        if (b === undefined) return 0;
        v |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
        shift += 7;
      }
      if (tag >>> 3 === 1) return v;
    } else if ((tag & 7) === 2) {
      let len = 0;
      for (;;) {
        const b = msg[i++];
        if (b === undefined) return 0;
        len |= (b & 0x7f) << shift;
        if ((b & 0x80) === 0) break;
        shift += 7;
      }
      i += len;
    } else return 0;
  }
  return 0;
}

export const grpcProbe: Probe = (t, check, signal) =>
  probeOverH2(t, signal, (session, done) => {
    const service = check.grpc?.service ?? "";
    const s = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      ":authority": t.label,
      "content-type": "application/grpc",
      te: "trailers",
      "user-agent": "sluice-health-check",
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    let httpStatus = 0;
    s.on("response", (h) => {
      httpStatus = Number(h[":status"]);
      if (h["grpc-status"] !== undefined) grpcStatus = String(h["grpc-status"]); // trailers-only
    });
    s.on("trailers", (tr) => {
      if (tr["grpc-status"] !== undefined) grpcStatus = String(tr["grpc-status"]);
    });
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("end", () => {
      if (httpStatus !== 200) return done(`HTTP ${httpStatus} to grpc.health.v1.Health/Check`);
      if (grpcStatus !== "0") return done(`grpc-status ${grpcStatus ?? "missing"} from grpc.health.v1.Health/Check${service ? ` (service "${service}")` : ""}`);
      const body = Buffer.concat(chunks);
      if (body.length < 5) return done("empty health check response");
      const status = decodeHealthStatus(body.subarray(5, 5 + body.readUInt32BE(1)));
      done(status === SERVING ? null : `health status ${STATUS_NAMES[status] ?? status}${service ? ` for service "${service}"` : ""}`);
    });
    s.on("error", (err) => done(errorText(err)));
    s.end(encodeHealthRequest(service));
  });
