// sluice.dev/v1alpha1 BackendTrafficPolicy: how a route's traffic reaches its backends
// (load balancing, retries, timeouts, circuit breaking, health checks, rate limits).
// Field names follow Envoy Gateway's BackendTrafficPolicy. Section schemas are refined where the
// feature is implemented; see src/translator/policies/ for how each section is applied.
import { quote } from "../describe.js";
import { asArr, asObj } from "../rules/util.js";
import { validCidr } from "./security-policy.js";
import { CIRCUIT_BREAKER_SCHEMA, checkResilience, RETRY_SCHEMA, TIMEOUT_SCHEMA } from "./backend-resilience-schema.js";
import { DURATION_SCHEMA, TARGET_BACKEND, TARGET_GATEWAY, TARGET_GRPCROUTE, TARGET_HTTPROUTE, TARGET_SERVICE, type PolicyKindSpec } from "./policy-kind.js";

/** Envoy Gateway's RateLimitSelectCondition, plus jwtClaims (a consumer by token claim). */
const CLIENT_SELECTOR = {
  type: "object",
  properties: {
    headers: {
      type: "array",
      items: {
        type: "object",
        required: ["name"],
        properties: { name: { type: "string", minLength: 1 }, type: { type: "string", enum: ["Exact", "RegularExpression", "Distinct"] }, value: { type: "string" }, invert: { type: "boolean" } },
      },
    },
    sourceCIDR: { type: "object", required: ["value"], properties: { type: { type: "string", enum: ["Exact", "Distinct"] }, value: { type: "string" } } },
    methods: { type: "array", minItems: 1, items: { type: "object", required: ["value"], properties: { value: { type: "string", enum: ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"] }, invert: { type: "boolean" } } } },
    path: { type: "object", required: ["value"], properties: { type: { type: "string", enum: ["Exact", "PathPrefix", "RegularExpression"] }, value: { type: "string", minLength: 1 }, invert: { type: "boolean" } } },
    jwtClaims: {
      type: "array",
      items: { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 }, type: { type: "string", enum: ["Exact", "Distinct"] }, value: { type: "string" } } },
    },
  },
} as const;

const RATE_LIMIT_RULES = {
  type: "array",
  minItems: 1,
  maxItems: 64,
  items: {
    type: "object",
    required: ["limit"],
    properties: {
      clientSelectors: { type: "array", items: CLIENT_SELECTOR },
      limit: { type: "object", required: ["requests", "unit"], properties: { requests: { type: "integer", minimum: 0, maximum: 1_000_000_000 }, unit: { type: "string", enum: ["Second", "Minute", "Hour", "Day"] } } },
      shadowMode: { type: "boolean" },
    },
  },
} as const;

const RATE_LIMIT = {
  type: "object",
  required: ["type"],
  properties: {
    type: { type: "string", enum: ["Local", "Global"] },
    local: { type: "object", required: ["rules"], properties: { rules: RATE_LIMIT_RULES } },
    global: { type: "object", required: ["rules"], properties: { rules: RATE_LIMIT_RULES, failClosed: { type: "boolean" } } },
  },
} as const;

/** A Kubernetes quantity of bytes: 1048576, "512Ki", "10Mi", "1G". */
export const BYTES_QUANTITY = /^([0-9]+)(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/;

const REQUEST_BUFFER = {
  type: "object",
  required: ["limit"],
  properties: {
    limit: {
      type: ["integer", "string"],
      minimum: 1,
      pattern: BYTES_QUANTITY.source,
      description:
        "Largest request body in bytes (a quantity: 1048576, \"512Ki\", \"10Mi\"). A Content-Length over it gets 413 before anything reaches the backend; a streamed (chunked, HTTP/2) body that grows past it is cut, answered 413 when the response has not started. Bodies are streamed, not buffered. Default: no limit.",
    },
  },
} as const;

const NAMED = { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 } } } as const;

/** Envoy Gateway's LoadBalancer, plus consistentHash.algorithm (Sluice: Maglev, the default, or RingHash). */
const LOAD_BALANCER = {
  type: "object",
  required: ["type"],
  properties: {
    type: { type: "string", enum: ["RoundRobin", "LeastRequest", "Random", "ConsistentHash"] },
    consistentHash: {
      type: "object",
      required: ["type"],
      properties: {
        type: { type: "string", enum: ["SourceIP", "Header", "Headers", "Cookie", "QueryParams"] },
        header: NAMED,
        headers: { type: "array", minItems: 1, items: NAMED },
        cookie: {
          type: "object",
          required: ["name"],
          properties: { name: { type: "string", minLength: 1 }, ttl: DURATION_SCHEMA, attributes: { type: "object", additionalProperties: { type: "string" } } },
        },
        queryParams: { type: "array", minItems: 1, items: NAMED },
        tableSize: { type: "integer", minimum: 2, maximum: 5000011 },
        algorithm: { type: "string", enum: ["Maglev", "RingHash"] },
      },
    },
    slowStart: { type: "object", required: ["window"], properties: { window: DURATION_SCHEMA } },
  },
} as const;

const PAYLOAD = {
  type: "object",
  required: ["type"],
  properties: { type: { type: "string", enum: ["Text", "Binary"] }, text: { type: "string" }, binary: { type: "string", pattern: "^[A-Za-z0-9+/]*={0,2}$" } },
} as const;

/** Envoy Gateway's HealthCheck (active and passive). */
const HEALTH_CHECK = {
  type: "object",
  properties: {
    active: {
      type: "object",
      required: ["type"],
      properties: {
        type: { type: "string", enum: ["HTTP", "TCP", "GRPC"] },
        timeout: DURATION_SCHEMA,
        interval: DURATION_SCHEMA,
        unhealthyThreshold: { type: "integer", minimum: 1 },
        healthyThreshold: { type: "integer", minimum: 1 },
        http: {
          type: "object",
          required: ["path"],
          properties: {
            path: { type: "string", minLength: 1, maxLength: 1024, pattern: "^/" },
            method: { type: "string", enum: ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH"] },
            expectedStatuses: { type: "array", items: { type: "integer", minimum: 100, maximum: 599 } },
            expectedResponse: PAYLOAD,
          },
        },
        tcp: { type: "object", properties: { send: PAYLOAD, receive: PAYLOAD } },
        grpc: { type: "object", properties: { service: { type: "string" } } },
      },
    },
    passive: {
      type: "object",
      properties: {
        splitExternalLocalOriginErrors: { type: "boolean" },
        interval: DURATION_SCHEMA,
        consecutiveLocalOriginFailures: { type: "integer", minimum: 0 },
        consecutiveGatewayErrors: { type: "integer", minimum: 0 },
        consecutive5XxErrors: { type: "integer", minimum: 0 },
        baseEjectionTime: DURATION_SCHEMA,
        maxEjectionPercent: { type: "integer", minimum: 0, maximum: 100 },
      },
    },
  },
} as const;

/** The union rules Envoy Gateway states as CEL on its CRD: a discriminator and only its own member. */
function checkUnions(obj: Parameters<NonNullable<PolicyKindSpec["check"]>>[0], rep: Parameters<NonNullable<PolicyKindSpec["check"]>>[1]): void {
  const spec = asObj(obj.spec);
  const lb = asObj(spec?.loadBalancer);
  if (lb) {
    const at = ["spec", "loadBalancer"];
    if (lb.type === "ConsistentHash" && lb.consistentHash === undefined) rep.error([...at, "consistentHash"], "type is ConsistentHash but consistentHash is missing", "consistentHash.type (SourceIP, Header, Headers, Cookie or QueryParams)");
    if (lb.type !== "ConsistentHash" && lb.consistentHash !== undefined) rep.error([...at, "consistentHash"], `consistentHash is set but type is ${String(lb.type)}`, "type: ConsistentHash, or no consistentHash");
    if ((lb.type === "Random" || lb.type === "ConsistentHash") && lb.slowStart !== undefined) rep.error([...at, "slowStart"], `slowStart is not supported with type ${String(lb.type)}`, "type RoundRobin or LeastRequest, or no slowStart");
    const ch = asObj(lb.consistentHash);
    if (ch) {
      const member: Record<string, string> = { Header: "header", Headers: "headers", Cookie: "cookie", QueryParams: "queryParams" };
      const own = member[String(ch.type)];
      if (own !== undefined && ch[own] === undefined) rep.error([...at, "consistentHash", own], `consistent hash type is ${String(ch.type)} but ${own} is missing`, `consistentHash.${own}`);
      for (const m of Object.values(member)) {
        if (m !== own && ch[m] !== undefined) rep.error([...at, "consistentHash", m], `${m} is set but consistent hash type is ${String(ch.type)}`, `type: ${Object.keys(member).find((k) => member[k] === m)}, or no ${m}`);
      }
      const size = ch.tableSize;
      if (typeof size === "number" && ch.algorithm !== "RingHash" && !isPrime(size)) rep.error([...at, "consistentHash", "tableSize"], `${size} is not a prime number`, `a prime table size such as 65537 (the default) or ${nextPrime(size)}`);
    }
  }
  const active = asObj(asObj(spec?.healthCheck)?.active);
  if (active) {
    const at = ["spec", "healthCheck", "active"];
    const type = String(active.type);
    if (type === "HTTP" && active.http === undefined) rep.error([...at, "http"], "type is HTTP but http is missing", "http.path");
    if (type !== "HTTP" && active.http !== undefined) rep.error([...at, "http"], `http is set but type is ${type}`, "type: HTTP, or no http");
    if (type === "TCP" && active.tcp === undefined) rep.error([...at, "tcp"], "type is TCP but tcp is missing", "tcp: {} (connect only), or tcp.send / tcp.receive");
    if (type !== "TCP" && active.tcp !== undefined) rep.error([...at, "tcp"], `tcp is set but type is ${type}`, "type: TCP, or no tcp");
    if (type !== "GRPC" && active.grpc !== undefined) rep.error([...at, "grpc"], `grpc is set but type is ${type}`, "type: GRPC, or no grpc");
    const payloads: [string[], unknown][] = [
      [["http", "expectedResponse"], asObj(active.http)?.expectedResponse],
      [["tcp", "send"], asObj(active.tcp)?.send],
      [["tcp", "receive"], asObj(active.tcp)?.receive],
    ];
    for (const [path, p] of payloads) {
      const o = asObj(p);
      if (!o) continue;
      if (o.type === "Text" && typeof o.text !== "string") rep.error([...at, ...path, "text"], "payload type is Text but text is missing", "text");
      if (o.type === "Binary" && typeof o.binary !== "string") rep.error([...at, ...path, "binary"], "payload type is Binary but binary is missing", "binary (base64)");
    }
  }
}

function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function nextPrime(n: number): number {
  let p = Math.max(2, n);
  while (!isPrime(p)) p++;
  return p;
}

export const BACKEND_TRAFFIC_POLICY: PolicyKindSpec = {
  check(obj, rep) {
    checkUnions(obj, rep);
    checkResilience(asObj(obj.spec), rep);
    const rl = asObj(asObj(obj.spec)?.rateLimit);
    if (!rl) return;
    const type = rl.type;
    const own = type === "Local" ? "local" : type === "Global" ? "global" : null;
    const other = own === "local" ? "global" : "local";
    if (own && rl[own] === undefined) rep.error(["spec", "rateLimit", own], `type is ${type} but ${own} is missing`, `rateLimit.${own}.rules`);
    if (own && rl[other] !== undefined) rep.error(["spec", "rateLimit", other], `type is ${type} but ${other} is set`, `only rateLimit.${own} (or type: ${other === "local" ? "Local" : "Global"})`);
    for (const which of ["local", "global"]) {
      asArr(asObj(rl[which])?.rules).forEach((r, i) => {
        asArr(asObj(r)?.clientSelectors).forEach((sel, j) => {
          const at = ["spec", "rateLimit", which, "rules", i, "clientSelectors", j];
          const cidr = asObj(asObj(sel)?.sourceCIDR)?.value;
          if (typeof cidr === "string" && !validCidr(cidr)) rep.error([...at, "sourceCIDR", "value"], `${quote(cidr)} is not a CIDR`, 'an address/prefix such as "0.0.0.0/0" or "10.0.0.0/8"');
          asArr(asObj(sel)?.headers).forEach((h, k) => {
            const hh = asObj(h);
            const t = hh?.type ?? "Exact";
            if (t !== "Distinct" && typeof hh?.value !== "string") rep.error([...at, "headers", k, "value"], `a ${String(t)} header match needs a value`, "value, or type: Distinct (each value its own counter)");
            if (t === "RegularExpression" && typeof hh?.value === "string") {
              try {
                new RegExp(hh.value);
              } catch (e) {
                rep.error([...at, "headers", k, "value"], `invalid regular expression: ${(e as Error).message}`, "an ECMAScript regular expression");
              }
            }
          });
        });
      });
    }
  },
  kind: "BackendTrafficPolicy",
  targets: [TARGET_GATEWAY, TARGET_HTTPROUTE, TARGET_GRPCROUTE, TARGET_SERVICE, TARGET_BACKEND],
  sections: {
    loadBalancer: { scope: "backend", schema: LOAD_BALANCER },
    retry: { scope: "route", schema: RETRY_SCHEMA },
    timeout: { scope: "backend", schema: TIMEOUT_SCHEMA },
    circuitBreaker: { scope: "backend", schema: CIRCUIT_BREAKER_SCHEMA },
    healthCheck: { scope: "backend", schema: HEALTH_CHECK },
    rateLimit: { scope: "route", schema: RATE_LIMIT },
    requestBuffer: { scope: "route", schema: REQUEST_BUFFER },
  },
};
