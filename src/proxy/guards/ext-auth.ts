// External authorization over HTTP, with Envoy's raw-HTTP ext_authz semantics (what Envoy Gateway
// users carry over): each request is asked of the authorizer with its method, its path (after the
// configured prefix, or replaced by pathOverride), Host, Authorization and the headers named in
// headersToExtAuth, and no body.
//   200      -> allowed; headersToBackend are copied from the answer onto the upstream request.
//   5xx, no answer, timeout -> an error: pass when failOpen, else statusOnError (403 by default).
//   anything else -> denied: the authorizer's status, headers and body go to the client as they are
//                    (so its 401 challenges, 403 pages and login redirects work).
// Connections to the authorizer are pooled per endpoint (undici keep-alive pools) and shared by
// every snapshot of the worker, so a reload keeps them warm.
import type { IncomingHttpHeaders } from "node:http";
import { Pool, type Dispatcher } from "undici";
import type { IrEndpoint, IrExtAuth } from "../../ir/types.js";
import { type GuardEnv, registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { undiciConnector, upstreamTls } from "../upstream/tls-connect.js";

/** A denial body larger than this is not relayed (the authorizer is misbehaving): an error. */
const MAX_DENIAL_BODY = 1 << 20;
/** Most picks per endpoint in the weighted rotation; keeps the table small for large weights. */
const MAX_SLOTS_PER_ENDPOINT = 16;

/** Request headers that describe the client's connection or body, never the authorizer's request. */
const NOT_SENT = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "expect", "te", "proxy-connection", "http2-settings"]);
/** Response headers that belong to the authorizer's connection, not to the client's answer. */
const NOT_RELAYED = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "proxy-connection", "proxy-authenticate", "te", "trailer", "content-length", "date"]);

function poolFor(env: GuardEnv, ep: IrEndpoint, cfg: IrExtAuth): Pool {
  const tls = cfg.tls && cfg.tls.error === undefined ? upstreamTls(cfg.tls, "http/1.1") : null;
  const where = "path" in ep ? `unix:${ep.path}` : ep.address.includes(":") ? `[${ep.address}]:${ep.port}` : `${ep.address}:${ep.port}`;
  const key = `ext-auth:pool:${where}|${tls?.key ?? ""}`;
  let pool = env.shared.get(key) as Pool | undefined;
  if (!pool) {
    const socketPath = "path" in ep ? ep.path : null;
    const origin = `${tls ? "https" : "http"}://${socketPath !== null ? "localhost" : where}`;
    pool = new Pool(origin, {
      connections: 64,
      keepAliveTimeout: 4_000,
      // Each check is bounded by its own timeout (the policy's); these only bound stuck sockets.
      headersTimeout: 300_000,
      bodyTimeout: 300_000,
      ...(socketPath !== null ? { socketPath } : {}),
      ...(tls ? { connect: undiciConnector(tls, socketPath) } : {}),
    });
    env.shared.set(key, pool);
  }
  return pool;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

class ExtAuthGuard implements RequestGuard {
  readonly name = "ext-auth";
  /** Pools in weighted rotation order. */
  private readonly slots: Pool[] = [];
  private next = 0;

  constructor(
    private readonly cfg: IrExtAuth,
    env: GuardEnv,
  ) {
    if (cfg.error !== undefined || (cfg.tls && cfg.tls.error !== undefined)) return;
    const maxW = Math.max(1, ...cfg.endpoints.map((e) => e.weight));
    const scale = maxW > MAX_SLOTS_PER_ENDPOINT ? MAX_SLOTS_PER_ENDPOINT / maxW : 1;
    const pools = cfg.endpoints.map((e) => ({ pool: poolFor(env, e, cfg), n: Math.max(1, Math.round(e.weight * scale)) }));
    // Interleaved so consecutive checks spread over the endpoints.
    for (let round = 0; pools.some((p) => p.n > round); round++) for (const p of pools) if (p.n > round) this.slots.push(p.pool);
  }

  check(g: GuardRequest): GuardReply | null | Promise<GuardReply | null> {
    if (this.slots.length === 0) return this.failure(`external authorization is not usable: ${this.cfg.error ?? this.cfg.tls?.error ?? "no authorizer endpoint"}`);
    const pool = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    return this.ask(g, pool);
  }

  private headersFor(g: GuardRequest): Record<string, string | string[]> {
    const h = g.headers;
    const out: Record<string, string | string[]> = {};
    const host = first(g.isH2 ? (h[":authority"] as string | undefined) ?? h.host : h.host);
    if (host !== undefined) out.host = host;
    if (h.authorization !== undefined) out.authorization = h.authorization;
    for (const name of this.cfg.headersToExtAuth) {
      if (NOT_SENT.has(name) || name.startsWith(":")) continue;
      const v = h[name];
      if (v !== undefined) out[name] = v;
    }
    return out;
  }

  private async ask(g: GuardRequest, pool: Pool): Promise<GuardReply | null> {
    const cfg = this.cfg;
    const path = cfg.pathOverride ?? `${cfg.pathPrefix}${g.path}${g.query.length > 0 ? `?${g.query}` : ""}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await pool.request({ path, method: g.method as Dispatcher.HttpMethod, headers: this.headersFor(g), signal: AbortSignal.timeout(cfg.timeoutMs) });
    } catch (err) {
      const e = err as Error & { name?: string };
      return this.failure(e?.name === "TimeoutError" || e?.name === "AbortError" ? `the authorizer did not answer within ${cfg.timeoutMs} ms` : `the authorizer could not be reached: ${e?.message ?? String(err)}`);
    }
    if (res.statusCode === 200) {
      res.body.dump().catch(() => undefined);
      for (const name of cfg.headersToBackend) {
        const v = res.headers[name];
        if (v === undefined) continue;
        g.setUpstreamHeader(name, Array.isArray(v) ? v.join(", ") : v);
      }
      return null;
    }
    if (res.statusCode >= 500) {
      res.body.dump().catch(() => undefined);
      return this.failure(`the authorizer answered ${res.statusCode}`);
    }
    let body: Buffer;
    try {
      body = await readLimited(res.body, MAX_DENIAL_BODY);
    } catch (err) {
      return this.failure(`the authorizer's answer could not be read: ${(err as Error)?.message ?? String(err)}`);
    }
    return { status: res.statusCode, body, headers: relayed(res.headers) };
  }

  private failure(why: string): GuardReply | null {
    if (this.cfg.failOpen) return null;
    return { status: this.cfg.statusOnError, body: `external authorization failed: ${why}\n` };
  }
}

async function readLimited(body: Dispatcher.ResponseData["body"], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body) {
    const b = c as Buffer;
    n += b.length;
    if (n > limit) {
      body.destroy();
      throw new Error(`body larger than ${limit} bytes`);
    }
    chunks.push(b);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function relayed(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): string[] {
  const out: string[] = [];
  for (const [name, v] of Object.entries(headers)) {
    if (v === undefined || NOT_RELAYED.has(name)) continue;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}

registerGuardFactory({
  name: "ext-auth",
  // Before the other authentication guards, as Envoy Gateway orders its ext_authz filter.
  order: 38,
  build(route, _listener, env) {
    const e = route.security?.extAuth;
    return e ? new ExtAuthGuard(e, env) : null;
  },
});
