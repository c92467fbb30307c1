// A gRPC echo backend for tests and demos, in the spirit of the Gateway API conformance suite's gRPC
// echo server: every call is answered with a description of the request the server saw (method,
// authority, metadata) and who answered (namespace, pod). Messages are JSON in gRPC framing (the
// gateway never looks inside a message), so no .proto compilation is needed; the service and method
// names are the conformance suite's, so routes written for it work unchanged.
import * as grpc from "@grpc/grpc-js";

export const GRPC_ECHO_SERVICE = "gateway_api_conformance.echo_basic.grpcecho.GrpcEcho";

export interface GrpcEchoRequest {
  message?: string;
  /** ServerStream: how many replies to send (default 3, at most 1,000). */
  count?: number;
}

export interface GrpcEchoReply {
  /** "/<service>/<method>" as the server saw it. */
  method: string;
  authority: string;
  /** Request metadata, lowercase names (binary values left out). */
  headers: Record<string, string[]>;
  namespace: string;
  pod: string;
  service: string;
  /** The request's message (ClientStream: the messages joined with ","). */
  message: string;
  /** ServerStream/Bidi: position of this reply in the stream. */
  index?: number;
  /** "h2c" or "h2+tls". */
  transport: string;
}

export interface GrpcEchoOptions {
  host?: string;
  port?: number;
  namespace?: string;
  pod?: string;
  service?: string;
  /** Serve TLS (h2 via ALPN) with this certificate instead of h2c. */
  tls?: { certPem: string; keyPem: string };
}

export interface GrpcEchoServer {
  port: number;
  /** Calls received, in order (bounded to the last 10,000). */
  calls: { method: string; headers: Record<string, string[]> }[];
  close(): Promise<void>;
}

const MAX_RECORDED = 10_000;

const serialize = (v: unknown): Buffer => Buffer.from(JSON.stringify(v ?? {}));
const deserialize = (b: Buffer): never => (b.length === 0 ? {} : JSON.parse(b.toString("utf8"))) as never;

function method(name: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<unknown, unknown> {
  return {
    path: `/${GRPC_ECHO_SERVICE}/${name}`,
    requestStream,
    responseStream,
    requestSerialize: serialize,
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: deserialize,
  };
}

/** The service definition, shared by the server and by clients (makeGenericClientConstructor). */
export const grpcEchoDefinition: grpc.ServiceDefinition = {
  Echo: method("Echo", false, false),
  EchoTwo: method("EchoTwo", false, false),
  EchoThree: method("EchoThree", false, false),
  ServerStream: method("ServerStream", false, true),
  ClientStream: method("ClientStream", true, false),
  Bidi: method("Bidi", true, true),
};

/** A client class with one method per entry of the definition (echo.Echo(req, md, opts, cb) ...). */
export const GrpcEchoClient = grpc.makeGenericClientConstructor(grpcEchoDefinition, "GrpcEcho");

function metadataMap(md: grpc.Metadata): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(md.getMap())) {
    if (Buffer.isBuffer(v)) continue;
    out[k] = md.get(k).map((x) => String(x));
  }
  return out;
}

/**
 * Metadata that steers the server (for tests):
 *   x-echo-grpc-status: 14        fail the call with this status code
 *   x-echo-fail-times: 2          ... but only for the first 2 calls carrying the same x-echo-id
 *   x-echo-delay-ms: 200          wait before answering
 *   x-echo-set-trailer: a:1       add this response trailer
 */
interface Steering {
  status: number;
  delayMs: number;
  trailer: [string, string] | null;
}

export async function startGrpcEchoServer(opts: GrpcEchoOptions = {}): Promise<GrpcEchoServer> {
  const ident = { namespace: opts.namespace ?? "default", pod: opts.pod ?? "grpc-echo", service: opts.service ?? "grpc-echo" };
  const transport = opts.tls ? "h2+tls" : "h2c";
  const calls: GrpcEchoServer["calls"] = [];
  const failures = new Map<string, number>();

  type AnyCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerReadableStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;
  const describe = (call: AnyCall, name: string, message: string, index?: number): GrpcEchoReply => {
    const headers = metadataMap(call.metadata);
    const r: GrpcEchoReply = {
      method: `/${GRPC_ECHO_SERVICE}/${name}`,
      authority: call.getHost(),
      headers,
      ...ident,
      message,
      transport,
    };
    if (index !== undefined) r.index = index;
    return r;
  };

  const steer = (call: AnyCall, name: string): Steering => {
    const md = call.metadata;
    calls.push({ method: `/${GRPC_ECHO_SERVICE}/${name}`, headers: metadataMap(md) });
    if (calls.length > MAX_RECORDED) calls.splice(0, calls.length - MAX_RECORDED);
    const one = (k: string): string | undefined => {
      const v = md.get(k)[0];
      return v === undefined ? undefined : String(v);
    };
    let status = Number(one("x-echo-grpc-status") ?? 0) || 0;
    const times = one("x-echo-fail-times");
    if (status !== 0 && times !== undefined) {
      const id = one("x-echo-id") ?? "";
      const seen = failures.get(id) ?? 0;
      failures.set(id, seen + 1);
      if (seen >= Number(times)) status = 0;
    }
    const delayMs = Math.min(Number(one("x-echo-delay-ms") ?? 0) || 0, 60_000);
    const t = one("x-echo-set-trailer");
    const i = t?.indexOf(":") ?? -1;
    return { status, delayMs, trailer: t !== undefined && i > 0 ? [t.slice(0, i), t.slice(i + 1)] : null };
  };

  const later = (ms: number, f: () => void): void => {
    if (ms > 0) setTimeout(f, ms);
    else f();
  };
  const trailers = (s: Steering): grpc.Metadata => {
    const md = new grpc.Metadata();
    if (s.trailer) md.set(s.trailer[0], s.trailer[1]);
    return md;
  };
  const error = (s: Steering): Partial<grpc.StatusObject> => ({ code: s.status, details: `echo asked to fail with status ${s.status}`, metadata: trailers(s) });

  const unary = (name: string): grpc.handleUnaryCall<unknown, unknown> => (call, cb) => {
    const s = steer(call, name);
    later(s.delayMs, () => {
      if (s.status !== 0) cb(error(s));
      else cb(null, describe(call, name, String((call.request as GrpcEchoRequest).message ?? "")), trailers(s));
    });
  };

  const impl: grpc.UntypedServiceImplementation = {
    Echo: unary("Echo"),
    EchoTwo: unary("EchoTwo"),
    EchoThree: unary("EchoThree"),
    ServerStream: ((call: grpc.ServerWritableStream<unknown, unknown>) => {
      const s = steer(call, "ServerStream");
      const req = call.request as GrpcEchoRequest;
      const n = Math.max(0, Math.min(Number(req.count ?? 3) || 0, 1000));
      later(s.delayMs, () => {
        if (s.status !== 0) {
          call.emit("error", error(s));
          return;
        }
        for (let i = 0; i < n; i++) call.write(describe(call, "ServerStream", String(req.message ?? ""), i));
        call.end(trailers(s));
      });
    }) as grpc.handleServerStreamingCall<unknown, unknown>,
    ClientStream: ((call: grpc.ServerReadableStream<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const s = steer(call, "ClientStream");
      const parts: string[] = [];
      call.on("data", (m: GrpcEchoRequest) => parts.push(String(m.message ?? "")));
      call.on("end", () => {
        if (s.status !== 0) cb(error(s));
        else cb(null, describe(call, "ClientStream", parts.join(",")), trailers(s));
      });
    }) as grpc.handleClientStreamingCall<unknown, unknown>,
    Bidi: ((call: grpc.ServerDuplexStream<unknown, unknown>) => {
      const s = steer(call, "Bidi");
      let i = 0;
      call.on("data", (m: GrpcEchoRequest) => call.write(describe(call, "Bidi", String(m.message ?? ""), i++)));
      call.on("end", () => {
        if (s.status !== 0) call.emit("error", error(s));
        else call.end(trailers(s));
      });
    }) as grpc.handleBidiStreamingCall<unknown, unknown>,
  };

  const server = new grpc.Server();
  server.addService(grpcEchoDefinition, impl);
  const creds = opts.tls
    ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(opts.tls.certPem), private_key: Buffer.from(opts.tls.keyPem) }], false)
    : grpc.ServerCredentials.createInsecure();
  const host = opts.host ?? "127.0.0.1";
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${opts.port ?? 0}`, creds, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return {
    port,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        // Calls still open (streams a test abandoned) must not hold the server.
        server.forceShutdown();
        resolve();
      }),
  };
}
