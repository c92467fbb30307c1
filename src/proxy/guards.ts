// Request guards: per-route checks that run after routing and before the request is answered or
// forwarded — authentication, authorization, CORS, rate limits, request limits. A guard lets the
// request through (null), answers it itself (a reply: 401, 403, 429, a CORS preflight ...), and may
// edit the upstream request and add response headers on the way.
//
// Guards are compiled per route at snapshot time by the factories in guard-factories.ts (one
// factory per feature, each in its own module). Most guards decide synchronously; one that needs
// I/O (a JWKS fetch, an external authorizer, Redis) returns a promise, and only then does the
// request wait — the synchronous path allocates one small object per request and no closures.
import type { IncomingHttpHeaders } from "node:http";
import type { CompiledListener, CompiledRoute } from "./compiled.js";
import type { Req } from "./respond.js";

/** What a guard sees of the request, and the edits it may make. Header names are lowercase. */
export interface GuardRequest {
  readonly req: Req;
  readonly isH2: boolean;
  readonly method: string;
  /** Host without port, lowercase. */
  readonly host: string;
  readonly path: string;
  /** Without the "?". */
  readonly query: string;
  /** The client's address as the socket sees it (IPv4-mapped IPv6 unwrapped). */
  readonly clientIp: string;
  readonly headers: IncomingHttpHeaders;
  readonly route: CompiledRoute;
  readonly listener: CompiledListener;
  /** Sets a header on the upstream request (after the route's own header filters). */
  setUpstreamHeader(name: string, value: string): void;
  /** Removes a header from the upstream request (e.g. a credential the backend must not see). */
  removeUpstreamHeader(name: string): void;
  /** Adds a header to the response the client gets, whoever makes it (backend or gateway). */
  addResponseHeader(name: string, value: string): void;
  /** Replaces the query string sent upstream (without "?"; "" drops it), e.g. to strip a credential. */
  replaceUpstreamQuery(query: string): void;
  /** Who the request is, as established by the authentication guards that ran before. */
  readonly principal: Principal;
}

/** Identities authentication guards establish, for later guards (authorization, rate limits). */
export interface Principal {
  jwt?: { provider: string; claims: Record<string, unknown> };
  /** The claims of the ID token of an OIDC browser session. */
  oidc?: { claims: Record<string, unknown> };
  /** API key client id. */
  clientId?: string;
  /** Basic auth user. */
  user?: string;
}

/** A response the gateway sends instead of forwarding. */
export interface GuardReply {
  status: number;
  body: string | Buffer;
  /** Flat [name, value, ...] list, lowercase names. */
  headers?: string[];
}

export type GuardVerdict = GuardReply | null;

export interface RequestGuard {
  /** For logs and metrics: "jwt", "cors", "rate-limit" ... */
  readonly name: string;
  check(g: GuardRequest): GuardVerdict | Promise<GuardVerdict>;
}

/** The state of one request's pass through its route's guards. */
export class GuardRun implements GuardRequest {
  upstreamSet: string[] | null = null;
  upstreamRemove: string[] | null = null;
  responseAdd: string[] | null = null;
  /** null: the request's own query goes upstream. */
  upstreamQuery: string | null = null;
  readonly principal: Principal = {};

  constructor(
    readonly req: Req,
    readonly isH2: boolean,
    readonly method: string,
    readonly host: string,
    readonly path: string,
    readonly query: string,
    readonly clientIp: string,
    readonly headers: IncomingHttpHeaders,
    readonly route: CompiledRoute,
    readonly listener: CompiledListener,
  ) {}

  setUpstreamHeader(name: string, value: string): void {
    (this.upstreamSet ??= []).push(name.toLowerCase(), value);
  }

  removeUpstreamHeader(name: string): void {
    (this.upstreamRemove ??= []).push(name.toLowerCase());
  }

  addResponseHeader(name: string, value: string): void {
    (this.responseAdd ??= []).push(name.toLowerCase(), value);
  }

  replaceUpstreamQuery(query: string): void {
    this.upstreamQuery = query;
  }

  /**
   * Runs the guards in order. Returns the verdict synchronously when every guard decided
   * synchronously, else a promise of it. A guard that throws (or rejects) answers 500: a bug in
   * one check must never let a request through unchecked.
   */
  run(guards: readonly RequestGuard[]): GuardVerdict | Promise<GuardVerdict> {
    for (let i = 0; i < guards.length; i++) {
      let v: GuardVerdict | Promise<GuardVerdict>;
      try {
        v = guards[i]!.check(this);
      } catch (err) {
        return guardFailure(guards[i]!, err);
      }
      if (v === null) continue;
      if (isPromise(v)) return this.finishAsync(guards, i, v);
      return v;
    }
    return null;
  }

  private async finishAsync(guards: readonly RequestGuard[], at: number, pending: Promise<GuardVerdict>): Promise<GuardVerdict> {
    let v: GuardVerdict;
    try {
      v = await pending;
    } catch (err) {
      return guardFailure(guards[at]!, err);
    }
    for (let i = at + 1; v === null && i < guards.length; i++) {
      try {
        v = await guards[i]!.check(this);
      } catch (err) {
        return guardFailure(guards[i]!, err);
      }
    }
    return v;
  }

  /** Applies the guards' upstream edits to a flat upstream header list. */
  applyUpstream(list: string[]): void {
    const rm = this.upstreamRemove;
    if (rm !== null) for (const name of rm) removeAll(list, name);
    const set = this.upstreamSet;
    if (set !== null)
      for (let i = 0; i < set.length; i += 2) {
        removeAll(list, set[i]!);
        list.push(set[i]!, set[i + 1]!);
      }
  }
}

/** The socket peer's address, an IPv4 client on a dual-stack socket as plain IPv4. */
export function clientIpOf(req: Req): string {
  return unmapIPv4(req.socket?.remoteAddress ?? "");
}

/** "::ffff:10.0.0.1" -> "10.0.0.1": one client, one address, whichever socket family it came on. */
export function unmapIPv4(ip: string): string {
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

function removeAll(list: string[], name: string): void {
  for (let i = list.length - 2; i >= 0; i -= 2) if (list[i] === name) list.splice(i, 2);
}

function isPromise(v: unknown): v is Promise<GuardVerdict> {
  return typeof (v as { then?: unknown } | null)?.then === "function";
}

function guardFailure(g: RequestGuard, err: unknown): GuardReply {
  process.stderr.write(`sluice: guard ${g.name} failed: ${(err as Error)?.stack ?? String(err)}\n`);
  return { status: 500, body: "internal error in request check\n" };
}
