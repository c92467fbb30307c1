// SecurityPolicy authorization by client address: the first rule whose CIDRs contain the client
// decides (Allow or Deny), else the default action. Denied requests get 403.
import { BlockList, isIP } from "node:net";
import type { IrAuthorization } from "../../ir/types.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { clientAddress } from "./client-address.js";

interface CompiledRule {
  name: string;
  allow: boolean;
  /** null: any client. */
  cidrs: BlockList | null;
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
      return { name: r.name, allow: r.action === "Allow", cidrs };
    });
  }

  check(g: GuardRequest): GuardReply | null {
    const ip = clientAddress(g, this.hops);
    const family = isIP(ip);
    for (const r of this.rules) {
      if (r.cidrs !== null && (family === 0 || !r.cidrs.check(ip, family === 6 ? "ipv6" : "ipv4"))) continue;
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
