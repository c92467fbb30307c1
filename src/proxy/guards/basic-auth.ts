// HTTP basic authentication against htpasswd users ({SHA} or bcrypt). bcrypt is deliberately slow
// (tens of ms), so a successful check is remembered (keyed by a hash of the credentials, bounded)
// and only the first request of a client pays it; SHA checks are cheap and done every time.
import { createHash, timingSafeEqual } from "node:crypto";
import bcrypt from "bcryptjs";
import type { IrBasicAuth } from "../../ir/types.js";
import { registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";

const CHALLENGE: GuardReply = { status: 401, body: "authentication required\n", headers: ["www-authenticate", 'Basic realm="sluice", charset="UTF-8"'] };
const MAX_REMEMBERED = 4096;

class BasicAuthGuard implements RequestGuard {
  readonly name = "basic-auth";
  private readonly users: Map<string, string>;
  /** sha256(user \0 password \0 hash) of credentials bcrypt accepted. */
  private readonly remembered = new Set<string>();

  constructor(private readonly cfg: IrBasicAuth) {
    this.users = new Map(cfg.users.map((u) => [u.user, u.hash]));
  }

  check(g: GuardRequest): GuardReply | null | Promise<GuardReply | null> {
    const h = g.headers.authorization;
    if (typeof h !== "string" || h.length < 7 || h.slice(0, 6).toLowerCase() !== "basic ") return CHALLENGE;
    const decoded = Buffer.from(h.slice(6).trim(), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) return CHALLENGE;
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = this.users.get(user);
    if (hash === undefined) return CHALLENGE;
    if (hash.startsWith("{SHA}")) return sameSecret(createHash("sha1").update(password).digest("base64"), hash.slice(5)) ? this.pass(g, user) : CHALLENGE;
    const key = createHash("sha256").update(`${user}\0${password}\0${hash}`).digest("base64");
    if (this.remembered.has(key)) return this.pass(g, user);
    return bcrypt.compare(password, hash).then((ok) => {
      if (!ok) return CHALLENGE;
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
      this.remembered.add(key);
      return this.pass(g, user);
    });
  }

  private pass(g: GuardRequest, user: string): null {
    g.principal.user = user;
    if (this.cfg.forwardUsernameHeader) g.setUpstreamHeader(this.cfg.forwardUsernameHeader, user);
    return null;
  }
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

registerGuardFactory({
  name: "basic-auth",
  order: 45,
  build(route) {
    const b = route.security?.basicAuth;
    return b ? new BasicAuthGuard(b) : null;
  },
});
