// sluice.dev/v1alpha1 BackendTrafficPolicy: how a route's traffic reaches its backends
// (load balancing, retries, timeouts, circuit breaking, health checks, rate limits).
// Field names follow Envoy Gateway's BackendTrafficPolicy. Section schemas are refined where the
// feature is implemented; see src/translator/policies/ for how each section is applied.
import { quote } from "../describe.js";
import { asArr, asObj } from "../rules/util.js";
import { validCidr } from "./security-policy.js";
import { DURATION_SCHEMA, TARGET_BACKEND, TARGET_GATEWAY, TARGET_GRPCROUTE, TARGET_HTTPROUTE, TARGET_SERVICE, type PolicyKindSpec } from "./policy-kind.js";

const OBJ = { type: "object" } as const;

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

export const BACKEND_TRAFFIC_POLICY: PolicyKindSpec = {
  check(obj, rep) {
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
    loadBalancer: { scope: "backend", schema: OBJ },
    retry: { scope: "route", schema: OBJ },
    timeout: {
      scope: "backend",
      schema: {
        type: "object",
        properties: {
          http: { type: "object", properties: { requestTimeout: DURATION_SCHEMA } },
        },
      },
    },
    circuitBreaker: { scope: "backend", schema: OBJ },
    healthCheck: { scope: "backend", schema: OBJ },
    rateLimit: { scope: "route", schema: RATE_LIMIT },
    requestBuffer: { scope: "route", schema: REQUEST_BUFFER },
  },
};
