// SecurityPolicy extAuth -> IR: the authorizer's endpoints resolved from its Service/Backend
// references (so the worker calls them directly), with Envoy Gateway's defaults: 10 s timeout,
// fail closed with 403.
import type { IrClusterTls, IrEndpoint, IrExtAuth } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import { resolveBackendRef } from "../backends.js";
import type { Context } from "../context.js";
import { SLUICE_GROUP } from "../kinds.js";
import { referencePermitted } from "../reference-grants.js";
import type { AppliedSection } from "./attach.js";
import { registerSecuritySection } from "./registry.js";

interface AuthorizerRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
  weight?: number;
}

interface ExtAuthSpec {
  http?: { backendRef?: AuthorizerRef; backendRefs?: AuthorizerRef[]; path?: string; pathOverride?: string; headersToBackend?: string[] };
  headersToExtAuth?: string[];
  timeout?: string;
  failOpen?: boolean;
  statusOnError?: number;
}

const KIND = "SecurityPolicy";
const TIMEOUT_MS = 10_000;
const STATUS_ON_ERROR = 403;

function authorizer(ctx: Context, s: AppliedSection, refs: AuthorizerRef[], field: string): { endpoints: IrEndpoint[]; tls?: IrClusterTls; error?: string } {
  const p = s.policy;
  const report = (at: string, message: string, expected: string): void =>
    ctx.report("error", { group: SLUICE_GROUP, kind: p.obj.kind, namespace: p.namespace, name: p.name }, at, message, expected);
  const endpoints: IrEndpoint[] = [];
  const problems: string[] = [];
  let tls: IrClusterTls | undefined;
  refs.forEach((ref, i) => {
    const at = `${field}[${i}]`;
    const group = ref.group ?? "";
    const kind = ref.kind ?? "Service";
    const ns = ref.namespace || p.namespace;
    if (!referencePermitted(ctx.index, { group: SLUICE_GROUP, kind: KIND, namespace: p.namespace }, { group, kind, namespace: ns, name: ref.name })) {
      const m = `${kind} ${ns}/${ref.name} is in another namespace and no ReferenceGrant allows it`;
      report(at, m, `a ReferenceGrant in namespace ${ns} from ${KIND} in ${p.namespace} to ${kind}s`);
      problems.push(m);
      return;
    }
    // Resolved as if referenced from its own namespace: the grant was checked above, for this kind.
    const r = resolveBackendRef(ctx, KIND, ns, { group, kind, name: ref.name, namespace: ns, ...(ref.port !== undefined ? { port: ref.port } : {}) });
    if (!r.ok) {
      report(at, r.message, r.expected);
      problems.push(r.message);
      return;
    }
    const cluster = ctx.clusters.get(r.cluster);
    if (!cluster) return;
    const weight = ref.weight ?? 1;
    if (weight === 0) return;
    for (const e of cluster.endpoints) endpoints.push({ ...e, weight: e.weight * weight });
    if (cluster.tls) {
      if (tls && JSON.stringify(tls) !== JSON.stringify(cluster.tls)) report(at, "the authorizer's backends have different BackendTLSPolicies", "one TLS setting for every backend of the authorizer");
      tls ??= cluster.tls;
    }
  });
  const out: { endpoints: IrEndpoint[]; tls?: IrClusterTls; error?: string } = { endpoints };
  if (tls) out.tls = tls;
  if (problems.length > 0 && endpoints.length === 0) out.error = problems.join("; ");
  else if (endpoints.length === 0) out.error = "the authorizer has no ready endpoint";
  return out;
}

function extAuthOf(ctx: Context, s: AppliedSection): IrExtAuth {
  const spec = s.value as ExtAuthSpec;
  const h = spec.http ?? {};
  const refs = h.backendRefs ?? (h.backendRef ? [h.backendRef] : []);
  const a = h.backendRefs ? authorizer(ctx, s, refs, `${s.field}.http.backendRefs`) : authorizer(ctx, s, refs, `${s.field}.http.backendRef`);
  const out: IrExtAuth = {
    endpoints: a.endpoints,
    pathPrefix: (h.path ?? "").replace(/\/+$/, ""),
    headersToExtAuth: [...new Set((spec.headersToExtAuth ?? []).map((x) => x.toLowerCase()))],
    headersToBackend: [...new Set((h.headersToBackend ?? []).map((x) => x.toLowerCase()))],
    timeoutMs: spec.timeout !== undefined ? parseDuration(spec.timeout) ?? TIMEOUT_MS : TIMEOUT_MS,
    failOpen: spec.failOpen === true,
    statusOnError: spec.statusOnError ?? STATUS_ON_ERROR,
  };
  if (a.tls) out.tls = a.tls;
  if (spec.http === undefined) out.error = "no HTTP authorizer is configured";
  else if (a.error !== undefined) out.error = a.error;
  if (h.pathOverride !== undefined) out.pathOverride = h.pathOverride;
  return out;
}

registerSecuritySection("extAuth", extAuthOf);
