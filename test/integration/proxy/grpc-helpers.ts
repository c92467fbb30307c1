// gRPC test clients (@grpc/grpc-js) for the gateway's gRPC tests: one call per fresh channel, with
// its authority, metadata, deadline and (for TLS listeners) trusted CA and server name.
import * as grpc from "@grpc/grpc-js";
import { GrpcEchoClient, type GrpcEchoReply, type GrpcEchoRequest } from "../../../src/demo/grpc-echo.js";

export interface CallOptions {
  authority?: string;
  metadata?: Record<string, string>;
  deadlineMs?: number;
  /** TLS listener: the CA to trust and the name to verify (also sent as SNI). */
  tls?: { caPem: string; servername: string };
}

export interface CallResult {
  code: number;
  details: string;
  reply: GrpcEchoReply | null;
  headers: Record<string, string[]>;
  trailers: Record<string, string[]>;
}

type Unary = (req: GrpcEchoRequest, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, reply?: GrpcEchoReply) => void) => grpc.ClientUnaryCall;

export function client(port: number, o: CallOptions = {}): grpc.Client {
  const options: grpc.ChannelOptions = {};
  if (o.authority) options["grpc.default_authority"] = o.authority;
  if (o.tls) options["grpc.ssl_target_name_override"] = o.tls.servername;
  const creds = o.tls ? grpc.credentials.createSsl(Buffer.from(o.tls.caPem)) : grpc.credentials.createInsecure();
  return new GrpcEchoClient(`127.0.0.1:${port}`, creds, options);
}

function mdMap(md: grpc.Metadata): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const k of Object.keys(md.getMap())) out[k] = md.get(k).map(String);
  return out;
}

function metadataOf(o: CallOptions): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(o.metadata ?? {})) md.add(k, v);
  return md;
}

/** One unary call on a fresh channel; never rejects: failures come back as a status code. */
export function unary(port: number, method: "Echo" | "EchoTwo" | "EchoThree", req: GrpcEchoRequest = {}, o: CallOptions = {}): Promise<CallResult> {
  const c = client(port, o);
  const fn = (c as unknown as Record<string, Unary>)[method]!.bind(c);
  return new Promise((resolve) => {
    const out: CallResult = { code: -1, details: "", reply: null, headers: {}, trailers: {} };
    const call = fn(req, metadataOf(o), { deadline: Date.now() + (o.deadlineMs ?? 5000) }, (err, reply) => {
      if (err) {
        out.code = err.code;
        out.details = err.details;
      } else {
        out.code = 0;
        out.reply = reply ?? null;
      }
    });
    call.on("metadata", (md: grpc.Metadata) => (out.headers = mdMap(md)));
    call.on("status", (s: grpc.StatusObject) => {
      out.trailers = mdMap(s.metadata);
      // The callback runs before 'status'; resolve after both.
      setImmediate(() => {
        c.close();
        resolve(out);
      });
    });
  });
}

export { GrpcEchoClient, grpc };
