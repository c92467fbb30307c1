// SecurityPolicy authorization: the first rule whose conditions all hold (client address in its
// CIDRs; a valid token of its JWT provider with its scopes and claim values) decides, Allow or
// Deny, else the default action. Denied requests get 403.
import { BlockList, isIP } from "node:net";
import type { IrAuthorization, IrJwtPrincipal } from "../../ir/types.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { clientAddress } from "./client-address.js";
import { claimAt } from "./jwt.js";

interface CompiledRule {
  name: string;
  allow: boolean;
  /** null: any client. */
  cidrs: BlockList | null;
  jwt: IrJwtPrincipal | null;
}

const DENIED: GuardReply = { status: 403, body: "access denied\n" };

class AuthorizationGuard implements RequestGuard {
  readonly name = "authorization";
  private readonly rules: CompiledRule[];
  private readonly allowByDefault: boolean;
  private readonly hops: number;

  constructor(a: IrAuthorization) {
    this.allowByDefault = a.defaultAction === "Allow";
    this.hops = a.clientIp?.xffTrustedHops ?? 0;
    this.rules = a.rules.map((r) => {
      let cidrs: BlockList | null = null;
      if (r.clientCIDRs.length > 0) {
        cidrs = new BlockList();
        for (const c of r.clientCIDRs) {
          const [addr, bits] = c.split("/");
          const family = isIP(addr!);
          if (family !== 0) cidrs.addSubnet(addr!, Number(bits), family === 6 ? "ipv6" : "ipv4");
        }
      }
      return { name: r.name, allow: r.action === "Allow", cidrs, jwt: r.jwt ?? null };
    });
  }

  check(g: GuardRequest): GuardReply | null {
    const ip = clientAddress(g, this.hops);
    const family = isIP(ip);
    for (const r of this.rules) {
      if (r.cidrs !== null && (family === 0 || !r.cidrs.check(ip, family === 6 ? "ipv6" : "ipv4"))) continue;
      if (r.jwt !== null && !jwtMatches(r.jwt, g)) continue;
      return r.allow ? null : DENIED;
    }
    return this.allowByDefault ? null : DENIED;
  }
}

registerGuardFactory({
  name: "authorization",
  // After authentication, as Envoy runs RBAC after JWT: rules may later name identities too.
  order: 60,
  build(route) {
    const a = route.security?.authorization;
    return a ? new AuthorizationGuard(a) : null;
  },
});

/** Scopes as identity providers issue them: "scope" space-separated (RFC 8693), or "scp" as a list or string. */
export function scopesOf(claims: Record<string, unknown>): Set<string> {
  const out = new Set<string>();
  for (const v of [claims.scope, claims.scp]) {
    if (typeof v === "string") for (const s of v.split(" ")) if (s) out.add(s);
    if (Array.isArray(v)) for (const s of v) if (typeof s === "string") out.add(s);
  }
  return out;
}

function jwtMatches(want: IrJwtPrincipal, g: GuardRequest): boolean {
  const id = g.principal.jwt;
  if (id === undefined || id.provider !== want.provider) return false;
  if (want.scopes.length > 0) {
    const have = scopesOf(id.claims);
    for (const s of want.scopes) if (!have.has(s)) return false;
  }
  for (const c of want.claims) {
    const v = claimAt(id.claims, c.name);
    const values = Array.isArray(v) ? v : [v];
    if (!values.some((x) => typeof x === "string" && c.values.includes(x))) return false;
  }
  return true;
}
