// IR for request security on a route: CORS, client address rules, authentication, authorization.
// Resolved by the translator from HTTPRoute filters and SecurityPolicy sections; the proxy compiles
// each into a request guard (src/proxy/guards/).
import type { IrClusterTls, IrEndpoint } from "./types.js";

export interface IrRouteSecurity {
  cors?: IrCors;
  /** SecurityPolicy authorization: allow/deny by client address and identity. */
  authorization?: IrAuthorization;
  basicAuth?: IrBasicAuth;
  apiKeyAuth?: IrApiKeyAuth;
  jwt?: IrJwt;
  /** OpenID Connect browser login (authorization code + PKCE, encrypted session cookie). */
  oidc?: IrOidc;
  /** External authorization over HTTP. */
  extAuth?: IrExtAuth;
}

export interface IrJwt {
  /** Requests without a token pass (an invalid token is still refused). */
  optional: boolean;
  providers: IrJwtProvider[];
}

export interface IrJwtProvider {
  name: string;
  /** Required "iss"; also picks the provider for a token when several are configured. */
  issuer?: string;
  /** The token's "aud" must contain one of these (none: not checked). */
  audiences: string[];
  /** Exactly one of remoteJwks / localJwks. */
  remoteJwks?: { uri: string; cacheDurationMs: number };
  /** A JWKS document (JSON text). */
  localJwks?: string;
  /** Where the token is looked for; empty lists: the Authorization header with "Bearer ". */
  extractFrom: { headers: { name: string; valuePrefix: string }[]; params: string[]; cookies: string[] };
  /** Claims copied to request headers (claim names may be dotted paths into objects). */
  claimToHeaders: { header: string; claim: string }[];
  clockSkewSeconds: number;
}

export interface IrCors {
  /**
   * "*" (any origin), an exact origin "https://www.foo.com", or a pattern with one "*" standing for
   * one or more host labels: "https://*.foo.com". Lowercase.
   */
  allowOrigins: string[];
  /** Uppercase; "*" allows any. */
  allowMethods: string[];
  /** Lowercase; "*" allows any. */
  allowHeaders: string[];
  exposeHeaders: string[];
  /** Preflight cache lifetime the browser is told. */
  maxAgeSeconds?: number;
  allowCredentials: boolean;
}

/** Where the client's address is read from: the socket, or X-Forwarded-For behind trusted proxies. */
export interface IrClientIp {
  /** Number of trusted proxies in front of the gateway that append to X-Forwarded-For; 0: socket. */
  xffTrustedHops: number;
}

export interface IrAuthorization {
  defaultAction: "Allow" | "Deny";
  /** First matching rule decides. */
  rules: IrAuthorizationRule[];
  /** From the listener's ClientTrafficPolicy; absent: the socket's address. */
  clientIp?: IrClientIp;
}

export interface IrAuthorizationRule {
  name: string;
  action: "Allow" | "Deny";
  /** CIDRs the client address must be in (any); empty: any address. Every given condition must hold. */
  clientCIDRs: string[];
  /** The request must carry a valid token of this provider with these scopes and claim values. */
  jwt?: IrJwtPrincipal;
}

export interface IrJwtPrincipal {
  provider: string;
  /** All required; read from "scope" (space-separated) or "scp" (list or string), as IdPs issue them. */
  scopes: string[];
  /** Each claim must have one of the values (for a list claim: contain one). */
  claims: { name: string; values: string[] }[];
}

export interface IrBasicAuth {
  /** user -> password hash as in an htpasswd file ({SHA}base64, $2y$/$2a$/$2b$ bcrypt, $apr1$ is not supported). */
  users: { user: string; hash: string }[];
  /** Request header that carries the authenticated user name to the backend. */
  forwardUsernameHeader?: string;
}

export interface IrApiKeyAuth {
  /** Where the key is looked for, in order. Header names lowercase. */
  extractFrom: { headers: string[]; params: string[]; cookies: string[] };
  /** key -> client id. */
  credentials: { clientId: string; key: string }[];
  /** Request header that carries the client id to the backend. */
  forwardClientIdHeader?: string;
  /** Remove the key (header, query parameter, cookie) from the request before it is forwarded. */
  sanitize: boolean;
}

export interface IrOidc {
  /** Issuer identifier; its /.well-known/openid-configuration gives what is not set below (and jwks_uri). */
  issuer: string;
  authorizationEndpoint?: string;
  tokenEndpoint?: string;
  endSessionEndpoint?: string;
  clientId: string;
  clientSecret: string;
  /** Always contains "openid". */
  scopes: string[];
  /** RFC 8707 resource indicators sent with the authorization request. */
  resources: string[];
  /**
   * Where the provider sends the browser back: an absolute URL, in which "%REQ(x-forwarded-proto)%"
   * and "%REQ(:authority)%" stand for the request's scheme and authority.
   */
  redirectUrl: string;
  /** Path of redirectUrl: requests to it are callbacks. */
  callbackPath: string;
  logoutPath: string;
  /** Name of the session cookie (longer sessions continue in "<name>.1", "<name>.2" ...). */
  cookieName: string;
  cookieDomain?: string;
  sameSite: "Lax" | "Strict" | "None";
  forwardAccessToken: boolean;
  /** Upstream header for the ID token ("authorization" gets "Bearer "). Lowercase. */
  forwardIdTokenHeader?: string;
  /** Refresh expired access tokens with the refresh token. */
  refreshToken: boolean;
  /** Access token lifetime when the token response has no expires_in; 0: the ID token's exp. */
  defaultTokenTtlSeconds: number;
  defaultRefreshTokenTtlSeconds: number;
  /** Lifetime of a login in progress (state, nonce and PKCE verifier cookie). */
  csrfTokenTtlSeconds: number;
  /** Requests with an Authorization header pass untouched (API clients; a jwt section checks them). */
  passThroughAuthHeader: boolean;
  /** Requests matching any of these get 401 instead of a login redirect (XHR, API clients). Names lowercase. */
  denyRedirect: { name: string; type: "Exact" | "Prefix" | "Suffix" | "RegularExpression"; value: string }[];
  /** The policy cannot be applied (e.g. its Secret is missing): every request is refused with 500. */
  error?: string;
}

export interface IrExtAuth {
  /** Authorizer endpoints (from its Service/Backend references); empty with `error` when unusable. */
  endpoints: IrEndpoint[];
  tls?: IrClusterTls;
  /** Why the authorizer cannot be called (requests fail closed or pass, as failOpen says). */
  error?: string;
  /** Put before the request's path ("" for none). */
  pathPrefix: string;
  /** Replaces the request's path when set. */
  pathOverride?: string;
  /** Request headers sent to the authorizer besides Host and Authorization. Lowercase. */
  headersToExtAuth: string[];
  /** Authorizer response headers copied onto the upstream request when it allows. Lowercase. */
  headersToBackend: string[];
  timeoutMs: number;
  failOpen: boolean;
  /** Status when the authorizer fails (error, 5xx, timeout) and failOpen is false. */
  statusOnError: number;
}
