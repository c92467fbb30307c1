// SecurityPolicy oidc end to end: a real gateway process (2 workers, so one worker opens the
// cookies another set), an echo backend, and a real OpenID provider (the `oidc-provider` package)
// on 127.0.0.1, driven like a browser: redirects followed, cookies kept, the provider's login and
// consent forms submitted. First redirect (PKCE, state, nonce) -> login -> callback -> backend with
// the session and the bearer token; refresh after the access token expires; logout through the
// provider's end_session_endpoint; bad state, a callback without its verifier cookie, a tampered
// session cookie and a code exchanged without the verifier are all refused.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startEchoServer, type EchoResponse, type EchoServer } from "../../../src/demo/echo-server.js";
import { parseDocuments } from "../../../src/resources/index.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { gatewayYaml, prefixRouteYaml } from "../../helpers/gateway-yaml.js";
import { BACKEND } from "../control/fixtures.js";

/** The few parts of the oidc-provider package the test uses (it ships no type declarations). */
interface OidcProvider {
  callback(): (req: http.IncomingMessage, res: http.ServerResponse) => void;
}
type ProviderCtor = new (issuer: string, config: Record<string, unknown>) => OidcProvider;
const PROVIDER_MODULE: string = "oidc-provider";

const CLIENT_ID = "sluice-app";
const CLIENT_SECRET = "a-long-client-secret-for-tests-0123456789";
/** Access tokens live 8 s; the gateway refreshes 5 s before expiry, so a session is fresh ~3 s. */
const ACCESS_TTL_S = 8;

let echo: EchoServer;
let gw: GatewayProcess;
let gwPort: number;
let tlsPort: number;
let certDir: string;
let idpServer: http.Server;
let issuer: string;

// ---- a small browser: one cookie jar per browser, redirects followed, forms submitted ----

interface Cookie {
  value: string;
  path: string;
}

interface Res {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  url: string;
}

class Browser {
  /** host:port -> name -> cookie */
  readonly jar = new Map<string, Map<string, Cookie>>();

  cookies(url: string): Map<string, Cookie> {
    const host = new URL(url).host;
    let m = this.jar.get(host);
    if (!m) this.jar.set(host, (m = new Map()));
    return m;
  }

  cookieHeader(url: string): string | undefined {
    const path = new URL(url).pathname;
    const parts: string[] = [];
    for (const [name, c] of this.cookies(url)) if (path.startsWith(c.path)) parts.push(`${name}=${c.value}`);
    return parts.length ? parts.join("; ") : undefined;
  }

  store(url: string, setCookies: string[] | undefined): void {
    for (const sc of setCookies ?? []) {
      const [pair, ...attrs] = sc.split(";").map((s) => s.trim());
      const eq = pair!.indexOf("=");
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? "/";
      const maxAge = attrs.find((a) => /^max-age=/i.test(a));
      const expires = attrs.find((a) => /^expires=/i.test(a));
      const gone = (maxAge !== undefined && Number(maxAge.slice(8)) <= 0) || (expires !== undefined && Date.parse(expires.slice(8)) < Date.now()) || value === "";
      if (gone) this.cookies(url).delete(name);
      else this.cookies(url).set(name, { value, path });
    }
  }

  request(url: string, opts: { method?: string; headers?: Record<string, string>; form?: Record<string, string> } = {}): Promise<Res> {
    const u = new URL(url);
    const headers: Record<string, string> = { ...opts.headers };
    const cookie = this.cookieHeader(url);
    if (cookie !== undefined && headers.cookie === undefined) headers.cookie = cookie;
    let body: string | undefined;
    if (opts.form) {
      body = new URLSearchParams(opts.form).toString();
      headers["content-type"] = "application/x-www-form-urlencoded";
    }
    return new Promise((resolve, reject) => {
      const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: opts.method ?? (body ? "POST" : "GET"), headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          this.store(url, res.headers["set-cookie"]);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString(), url });
        });
      });
      req.setTimeout(10_000, () => req.destroy(new Error(`timeout: ${url}`)));
      req.on("error", reject);
      req.end(body);
    });
  }

  /** Follows redirects (at most `hops`), stopping early when `stop` says so; returns every response. */
  async follow(url: string, opts: { hops?: number; stop?: (nextUrl: string) => boolean; first?: Parameters<Browser["request"]>[1] } = {}): Promise<Res[]> {
    const out: Res[] = [];
    let next: string | null = url;
    let reqOpts = opts.first ?? {};
    for (let i = 0; next !== null && i < (opts.hops ?? 15); i++) {
      const r = await this.request(next, reqOpts);
      out.push(r);
      reqOpts = {};
      next = r.status >= 300 && r.status < 400 && r.headers.location ? new URL(r.headers.location, next).toString() : null;
      if (next !== null && opts.stop?.(next)) break;
    }
    return out;
  }

  /** Submits the page's first form (its hidden inputs plus `fields`), then follows redirects. */
  async submit(page: Res, fields: Record<string, string>, opts: { stop?: (nextUrl: string) => boolean } = {}): Promise<Res[]> {
    const form = /<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(page.body);
    assert.ok(form, `no form in:\n${page.body.slice(0, 500)}`);
    const values: Record<string, string> = {};
    for (const m of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/gi)) values[m[1]!] = m[2]!;
    const action = new URL(form[1]!.replace(/&amp;/g, "&"), page.url).toString();
    const r = await this.request(action, { form: { ...values, ...fields } });
    if (r.status >= 300 && r.status < 400 && r.headers.location) {
      const next = new URL(r.headers.location, action).toString();
      if (opts.stop?.(next)) return [r];
      return [r, ...(await this.follow(next, opts))];
    }
    return [r];
  }
}

const app = (path: string): string => `http://127.0.0.1:${gwPort}${path}`;
const last = <T>(a: T[]): T => a[a.length - 1]!;
const isCallback = (u: string): boolean => u.startsWith(app("/oauth2/callback"));
const echoOf = (r: Res): EchoResponse => JSON.parse(r.body) as EchoResponse;

/**
 * From a gateway URL to the provider's callback redirect: the first response (the gateway's 302),
 * the login form, the consent form, and the callback URL the provider sends the browser to.
 */
async function loginUntilCallback(b: Browser, path: string, user = "alice"): Promise<{ first: Res; callback: string }> {
  const hops = await b.follow(app(path));
  const first = hops[0]!;
  assert.equal(first.status, 302, first.body);
  let page = last(hops);
  let callback: string | null = null;
  const stop = (u: string): boolean => {
    if (isCallback(u)) callback = u;
    return isCallback(u);
  };
  for (let step = 0; step < 4 && callback === null; step++) {
    assert.equal(page.status, 200, `expected a provider page at ${page.url}: ${page.body.slice(0, 300)}`);
    const prompt = /name="prompt" value="(\w+)"/.exec(page.body)?.[1];
    const res = await b.submit(page, prompt === "login" ? { login: user, password: "any" } : {}, { stop });
    page = last(res);
  }
  assert.ok(callback, "the provider never redirected to the callback");
  return { first, callback };
}

async function login(b: Browser, path: string, user = "alice"): Promise<Res> {
  const { callback } = await loginUntilCallback(b, path, user);
  const back = await b.request(callback);
  assert.equal(back.status, 302, back.body);
  return back;
}

async function userinfo(accessToken: string): Promise<{ status: number; sub?: string }> {
  const r = await fetch(`${issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
  const body = (await r.json()) as { sub?: string };
  return { status: r.status, ...(body.sub ? { sub: body.sub } : {}) };
}

// ---- setup ----

const GATEWAY = (http: number, tls: number): string => gatewayYaml("gw", [`{name: http, protocol: HTTP, port: ${http}}`, `{name: https, protocol: HTTPS, port: ${tls}, tls: {certificateRefs: [{name: gw-cert}]}}`], "namespace: default");

const CERT_SECRET = (crt: string, key: string): string => `apiVersion: v1
kind: Secret
metadata: { name: gw-cert, namespace: default }
type: kubernetes.io/tls
data:
  tls.crt: ${Buffer.from(crt).toString("base64")}
  tls.key: ${Buffer.from(key).toString("base64")}
`;

const ROUTES = `${prefixRouteYaml("app", ["/"])}---
${prefixRouteYaml("api", ["/api"])}---
${prefixRouteYaml("broken", ["/broken"])}---
${prefixRouteYaml("limited", ["/limited"])}---
${prefixRouteYaml("idp-down", ["/idp-down"])}`;

const POLICIES = (iss: string, deadIssuer: string): string => `apiVersion: v1
kind: Secret
metadata: { name: oidc-client, namespace: default }
stringData:
  client-secret: ${CLIENT_SECRET}
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: web-login, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app }]
  oidc:
    provider: { issuer: "${iss}" }
    clientID: ${CLIENT_ID}
    clientSecret: { name: oidc-client }
    scopes: [profile, offline_access]
    forwardAccessToken: true
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: api-login, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: api }]
  oidc:
    provider: { issuer: "${iss}" }
    clientID: ${CLIENT_ID}
    clientSecret: { name: oidc-client }
    passThroughAuthHeader: true
    denyRedirect:
      headers: [{ name: x-requested-with, value: XMLHttpRequest }]
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: limited-login, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: limited }]
  oidc:
    provider: { issuer: "${iss}" }
    clientID: ${CLIENT_ID}
    clientSecret: { name: oidc-client }
---
apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: per-user, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: limited }]
  rateLimit:
    type: Local
    local:
      rules:
        - clientSelectors: [{ jwtClaims: [{ name: sub, type: Distinct }] }]
          limit: { requests: 3, unit: Hour }
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: no-secret, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: broken }]
  oidc:
    provider: { issuer: "${iss}" }
    clientID: ${CLIENT_ID}
    clientSecret: { name: does-not-exist }
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: dead-idp, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: idp-down }]
  oidc:
    provider: { issuer: "${deadIssuer}" }
    clientID: ${CLIENT_ID}
    clientSecret: { name: oidc-client }
`;

before(async () => {
  echo = await startEchoServer({ pod: "echo-1" });
  gwPort = await freePort();
  tlsPort = await freePort();
  const deadPort = await freePort();
  certDir = mkdtempSync(join(tmpdir(), "sluice-oidc-"));
  execFileSync("openssl", [
    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", join(certDir, "gw.key"), "-out", join(certDir, "gw.crt"), "-days", "2",
    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
  ], { stdio: "ignore" });
  idpServer = http.createServer();
  await new Promise<void>((r) => idpServer.listen(0, "127.0.0.1", r));
  issuer = `http://127.0.0.1:${(idpServer.address() as AddressInfo).port}`;
  const { default: Provider } = (await import(PROVIDER_MODULE)) as { default: ProviderCtor };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        redirect_uris: [app("/oauth2/callback"), `https://127.0.0.1:${tlsPort}/oauth2/callback`],
        post_logout_redirect_uris: [app("/")],
        grant_types: ["authorization_code", "refresh_token"],
        response_types: ["code"],
      },
    ],
    pkce: { required: () => true },
    ttl: { AccessToken: ACCESS_TTL_S, IdToken: 3600, RefreshToken: 3600, Grant: 3600, Session: 3600, Interaction: 600, AuthorizationCode: 60 },
    issueRefreshToken: async () => true,
    scopes: ["openid", "profile", "offline_access"],
    claims: { openid: ["sub"], profile: ["name"] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub, name: `User ${sub}` }) }),
    cookies: { keys: ["cookie-signing-key-for-tests"] },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  });
  idpServer.on("request", provider.callback());
  gw = await GatewayProcess.start({
    workers: 2,
    files: {
      "gw.yaml": GATEWAY(gwPort, tlsPort),
      "cert.yaml": CERT_SECRET(readFileSync(join(certDir, "gw.crt"), "utf8"), readFileSync(join(certDir, "gw.key"), "utf8")),
      "backend.yaml": BACKEND("echo", echo.port),
      "routes.yaml": ROUTES,
      "policies.yaml": POLICIES(issuer, `http://127.0.0.1:${deadPort}`),
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  idpServer?.closeAllConnections();
  await new Promise((r) => idpServer?.close(r));
  if (certDir) rmSync(certDir, { recursive: true, force: true });
});

// ---- tests ----

let alice: Browser;

test("the policies are accepted", async () => {
  const r = await fetch(gw.admin("/status"));
  const list = (await r.json()) as { items: { kind: string; metadata: { name: string }; status?: { ancestors?: { conditions: { type: string; status: string; message: string }[] }[] } }[] };
  const policies = list.items.filter((i) => i.kind === "SecurityPolicy" && (i.metadata.name === "web-login" || i.metadata.name === "api-login"));
  assert.equal(policies.length, 2);
  for (const p of policies) assert.equal(p.status?.ancestors?.[0]?.conditions[0]?.status, "True", JSON.stringify(p.status));
});

test("login: redirect with PKCE, provider login and consent, callback, then the backend sees the user's request with the bearer token", async () => {
  alice = new Browser();
  const before = echo.requests.length;
  const { first, callback } = await loginUntilCallback(alice, "/app/page?x=1");
  assert.equal(echo.requests.length, before, "nothing reaches the backend before login");
  const loc = new URL(first.headers.location!);
  assert.equal(`${loc.origin}${loc.pathname}`, `${issuer}/auth`, "discovered authorization endpoint");
  const q = loc.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), CLIENT_ID);
  assert.equal(q.get("redirect_uri"), app("/oauth2/callback"));
  assert.deepEqual(q.get("scope")?.split(" ").sort(), ["offline_access", "openid", "profile"]);
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.match(q.get("code_challenge") ?? "", /^[A-Za-z0-9_-]{43}$/);
  assert.ok((q.get("state") ?? "").length >= 32 && (q.get("nonce") ?? "").length >= 32);
  const loginCookie = String(first.headers["set-cookie"]);
  assert.match(loginCookie, /Path=\/oauth2\/callback/);
  assert.match(loginCookie, /HttpOnly/);
  assert.match(loginCookie, /SameSite=Lax/);
  assert.doesNotMatch(loginCookie, /Secure/, "an HTTP listener sets no Secure cookies");

  const back = await alice.request(callback);
  assert.equal(back.status, 302, back.body);
  assert.equal(back.headers.location, "/app/page?x=1", "back where the browser was going");
  const session = (back.headers["set-cookie"] ?? []).find((c) => c.startsWith("sluice-oidc-") && !c.includes("-login-"));
  assert.ok(session, String(back.headers["set-cookie"]));
  assert.match(session, /; Path=\/;/);
  assert.match(session, /HttpOnly/);
  assert.match(session, /SameSite=Lax/);

  const page = await alice.request(app("/app/page?x=1"));
  assert.equal(page.status, 200, page.body);
  const seen = echoOf(page);
  assert.equal(seen.path, "/app/page?x=1");
  const auth = seen.headers.authorization?.[0] ?? "";
  assert.match(auth, /^Bearer .+/);
  assert.deepEqual(await userinfo(auth.slice(7)), { status: 200, sub: "alice" }, "the forwarded token is alice's, as the provider says");
  assert.equal(seen.headers.cookie, undefined, "the session cookie is not sent to the backend");

  // Both workers serve the session (new connection per request: the workers take turns).
  for (let i = 0; i < 6; i++) assert.equal((await alice.request(app(`/app/${i}`))).status, 200);
  // The same session on another route with the same provider client.
  assert.equal((await alice.request(app("/api/x"))).status, 200);
});

test("the session's ID token claims identify the user for rate limits (sub: 3 an hour)", async () => {
  const seq: number[] = [];
  for (let i = 0; i < 4; i++) seq.push((await alice.request(app(`/limited/${i}`))).status);
  assert.deepEqual(seq, [200, 200, 200, 429]);
});

test("other cookies of the site still reach the backend, ours do not", async () => {
  const host = `127.0.0.1:${gwPort}`;
  alice.jar.get(host)!.set("theme", { value: "dark", path: "/" });
  const r = await alice.request(app("/app/cookies"));
  assert.equal(r.status, 200);
  assert.deepEqual(echoOf(r).headers.cookie, ["theme=dark"]);
  alice.jar.get(host)!.delete("theme");
});

test("a tampered session cookie is refused: a new login, nothing reaches the backend", async () => {
  const host = `127.0.0.1:${gwPort}`;
  const [name, c] = [...alice.jar.get(host)!].find(([n]) => n.startsWith("sluice-oidc-"))!;
  const mid = Math.floor(c.value.length / 2);
  const flipped = c.value.slice(0, mid) + (c.value[mid] === "A" ? "B" : "A") + c.value.slice(mid + 1);
  const before = echo.requests.length;
  const r = await new Browser().request(app("/app/tampered"), { headers: { cookie: `${name}=${flipped}` } });
  assert.equal(r.status, 302);
  assert.ok(r.headers.location?.startsWith(`${issuer}/auth?`));
  const forged = await new Browser().request(app("/app/tampered"), { headers: { cookie: `${name}=v1.${Buffer.from('{"at":"x","exp":9999999999}').toString("base64url")}` } });
  assert.equal(forged.status, 302, "a cookie not sealed with the gateway's key is no session");
  assert.equal(echo.requests.length, before);
});

test("callbacks: an unknown state, a callback without its login cookie (no PKCE verifier) and a code exchanged without the verifier are refused", async () => {
  const bob = new Browser();
  const { callback } = await loginUntilCallback(bob, "/app/bob", "bob");
  const cb = new URL(callback);
  const before = echo.requests.length;

  const wrongState = new URL(cb);
  wrongState.searchParams.set("state", "x".repeat(32));
  const r1 = await bob.request(wrongState.toString());
  assert.equal(r1.status, 401);
  assert.match(r1.body, /no login in progress/);

  // Another browser (an attacker who got the URL) has no login cookie, so no verifier.
  const r2 = await new Browser().request(callback);
  assert.equal(r2.status, 401);

  // The code is bound to the challenge: exchanging it without the verifier fails at the provider.
  const direct = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", authorization: `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString("base64")}` },
    body: new URLSearchParams({ grant_type: "authorization_code", code: cb.searchParams.get("code")!, redirect_uri: app("/oauth2/callback") }).toString(),
  });
  assert.equal(direct.status, 400);
  assert.match(((await direct.json()) as { error: string }).error, /invalid_(grant|request)/);

  const r3 = await bob.request(app("/app/bob"));
  assert.equal(r3.status, 302, "bob is still not logged in");
  assert.equal(echo.requests.length, before);

  const missing = await bob.request(app("/oauth2/callback?state=abc"));
  assert.equal(missing.status, 400);
  const denied = await bob.request(app("/oauth2/callback?error=access_denied&state=abc"));
  assert.equal(denied.status, 401);
  assert.match(denied.body, /access_denied/);
});

test("API clients: denyRedirect answers 401 instead of a login redirect; passThroughAuthHeader lets bearer requests through", async () => {
  const anon = new Browser();
  const xhr = await anon.request(app("/api/data"), { headers: { "x-requested-with": "XMLHttpRequest" } });
  assert.equal(xhr.status, 401);
  assert.equal(xhr.headers.location, undefined);
  const browser = await anon.request(app("/api/data"));
  assert.equal(browser.status, 302);
  const bearer = await anon.request(app("/api/data"), { headers: { authorization: "Bearer token-from-an-api-client" } });
  assert.equal(bearer.status, 200);
  assert.deepEqual(echoOf(bearer).headers.authorization, ["Bearer token-from-an-api-client"]);
  const webBearer = await anon.request(app("/app/data"), { headers: { authorization: "Bearer token-from-an-api-client" } });
  assert.equal(webBearer.status, 302, "without passThroughAuthHeader a bearer header is no session");
});

test("refresh: after the access token expires the gateway refreshes it and sets the new session cookie", async () => {
  const first = echoOf(await alice.request(app("/app/before"))).headers.authorization?.[0];
  assert.ok(first);
  // Fresh for ACCESS_TTL_S - 5 s after login; wait until past that.
  await new Promise((r) => setTimeout(r, (ACCESS_TTL_S - 5 + 1.5) * 1000));
  // Several requests with the expired session at once (over both workers): every one passes.
  const expired = alice.cookieHeader(app("/app/x"))!;
  const burst = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => new Browser().request(app(`/app/burst${i}`), { headers: { cookie: expired } })));
  for (const b of burst) {
    assert.equal(b.status, 200, b.body);
    assert.ok((b.headers["set-cookie"] ?? []).some((c) => c.startsWith("sluice-oidc-")));
  }
  const r = await alice.request(app("/app/after"));
  assert.equal(r.status, 200, r.body);
  const renewed = (r.headers["set-cookie"] ?? []).find((c) => c.startsWith("sluice-oidc-"));
  assert.ok(renewed, "the refreshed session is stored in the browser");
  const second = echoOf(r).headers.authorization?.[0];
  assert.ok(second && second !== first, "a new access token went upstream");
  assert.deepEqual(await userinfo(second.slice(7)), { status: 200, sub: "alice" });
  // The next request uses the stored session without another refresh.
  const again = await alice.request(app("/app/again"));
  assert.equal(again.status, 200);
  assert.equal(again.headers["set-cookie"], undefined);
  assert.equal(echoOf(again).headers.authorization?.[0], second);
});

test("logout: the session is cleared and the browser goes through the provider's end_session_endpoint back to the site", async () => {
  const hops = await alice.follow(app("/logout"), { stop: (u) => u.startsWith(issuer) });
  const out = hops[0]!;
  assert.equal(out.status, 302);
  const loc = new URL(out.headers.location!);
  assert.equal(`${loc.origin}${loc.pathname}`, `${issuer}/session/end`);
  assert.equal(loc.searchParams.get("client_id"), CLIENT_ID);
  assert.equal(loc.searchParams.get("post_logout_redirect_uri"), app("/"));
  assert.ok(loc.searchParams.get("id_token_hint"));
  assert.ok((out.headers["set-cookie"] ?? []).some((c) => c.startsWith("sluice-oidc-") && /Max-Age=0/.test(c)));
  assert.equal([...(alice.jar.get(`127.0.0.1:${gwPort}`) ?? new Map()).keys()].filter((n: string) => n.startsWith("sluice-oidc-")).length, 0);
  // The provider asks to confirm, then sends the browser to the post-logout URL.
  const confirm = last(await alice.follow(loc.toString()));
  assert.equal(confirm.status, 200);
  const done = await alice.submit(confirm, { logout: "yes" }, { stop: (u) => u.startsWith(app("/")) });
  assert.equal(last(done).headers.location, app("/"));
  const after = await alice.request(app("/app/page"));
  assert.equal(after.status, 302, "logged out: a new login");
  assert.ok(after.headers.location?.startsWith(`${issuer}/auth?`));
});

test("HTTPS listener: the login redirect comes back over https and the cookies are Secure", async () => {
  const get = (path: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      const req = https.request({ host: "127.0.0.1", port: tlsPort, path, rejectUnauthorized: false, agent: false }, (res) => {
        res.resume();
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.setTimeout(5000, () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
    });
  const r = await get("/app/secure");
  assert.equal(r.status, 302);
  assert.equal(new URL(r.headers.location!).searchParams.get("redirect_uri"), `https://127.0.0.1:${tlsPort}/oauth2/callback`);
  const c = String(r.headers["set-cookie"]);
  assert.match(c, /; Secure/);
  assert.match(c, /HttpOnly/);
  const out = await get("/logout");
  assert.equal(out.status, 302);
  assert.match(String(out.headers["set-cookie"]), /Max-Age=0.*; Secure/);
});

test("a policy whose client secret is missing refuses requests (500) instead of opening the route; an unreachable provider gives 503", async () => {
  const before = echo.requests.length;
  const broken = await new Browser().request(app("/broken/x"));
  assert.equal(broken.status, 500);
  assert.match(broken.body, /does-not-exist/);
  const down = await new Browser().request(app("/idp-down/x"));
  assert.equal(down.status, 503);
  assert.match(down.body, /identity provider is unavailable/);
  assert.equal(echo.requests.length, before);
  const st = (await (await fetch(gw.admin("/status"))).json()) as { items: { kind: string; metadata: { name: string } }[] };
  assert.ok(st.items.some((i) => i.metadata.name === "no-secret"));
});

test("schema: fields Sluice does not implement are refused by name; exactly one of clientID/clientIDRef", () => {
  const doc = `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: p, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  oidc:
    provider: { issuer: "https://idp.example.com", backendRefs: [{ name: idp, port: 443 }] }
    clientSecret: { name: s }
    cookieNames: { accessToken: at }
    disableTokenEncryption: true
    forwardAccessToken: true
    forwardIDToken: { header: Authorization }
    logoutPath: logout
`;
  const r = parseDocuments(doc, "p.yaml");
  const errs = r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.field}: ${d.message}`);
  const has = (re: RegExp): void => assert.ok(errs.some((e) => re.test(e)), `${re} in\n${errs.join("\n")}`);
  has(/^spec\.oidc\.provider\.backendRefs: backendRefs is not supported/);
  has(/^spec\.oidc\.cookieNames: cookieNames is not supported/);
  has(/^spec\.oidc\.disableTokenEncryption: disableTokenEncryption is not supported/);
  has(/^spec\.oidc: neither clientID nor clientIDRef is set/);
  has(/^spec\.oidc\.forwardIDToken\.header: forwardAccessToken already sends/);
  has(/^spec\.oidc\.logoutPath/);
  assert.ok(!errs.some((e) => /unknown field/.test(e)), errs.join("\n"));
});
