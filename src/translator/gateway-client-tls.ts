// The Gateway's own TLS settings beyond listener certificates:
//  * spec.tls.frontend (GEP-91): client certificate validation for HTTPS listeners, a default and
//    per-port overrides; an unusable CA reference makes the listeners of that port not Accepted
//    (NoValidCACertificate) with ResolvedRefs False (InvalidCACertificateRef / InvalidCACertificateKind
//    / RefNotPermitted). Mode AllowInsecureFallback raises the Gateway condition
//    InsecureFrontendValidationMode.
//  * spec.tls.backend.clientCertificateRef (GEP-3155): the certificate the gateway presents to TLS
//    backends (BackendTLSPolicy); the Gateway's ResolvedRefs condition reports the reference.
import { createPrivateKey, X509Certificate } from "node:crypto";
import type { IrClientCertificate, IrClientValidation } from "../ir/types.js";
import type { Condition } from "../resources/types.js";
import { loadCaBundle, type CaRef } from "./ca-bundle.js";
import { condition } from "./conditions.js";
import { type Context, refOfItem } from "./context.js";
import type { GatewayState, ListenerState } from "./gateways.js";
import { GW_GROUP } from "./kinds.js";
import { referencePermitted, type Referrer } from "./reference-grants.js";
import { secretValue } from "./secrets.js";

/** How the Gateway (GEP-91) and ClientTrafficPolicy read CA references: kind defaults to ConfigMap. */
export const FRONTEND_CA = { defaultKind: "ConfigMap", kindReason: "InvalidCACertificateKind" } as const;

interface GatewayTls {
  /** Gateway-level conditions to add (only when spec.tls asks for something). */
  conditions: Condition[];
  backendCert: IrClientCertificate | null;
}

/** By the Gateway object (GatewayState copies are made for the L7 build). */
const gatewayTls = new WeakMap<object, GatewayTls>();
const listenerValidation = new WeakMap<ListenerState, IrClientValidation>();

interface FrontendValidationSpec {
  caCertificateRefs?: CaRef[];
  mode?: string;
}

/** The validation block that applies to a port: its perPort entry, else the default. */
function validationFor(g: GatewayState, port: number): { spec: FrontendValidationSpec; field: string } | null {
  const fe = g.item.typed.spec?.tls?.frontend;
  if (!fe) return null;
  const i = (fe.perPort ?? []).findIndex((p) => p.port === port);
  if (i >= 0) {
    const v = fe.perPort![i]!.tls?.validation;
    return v ? { spec: v as FrontendValidationSpec, field: `spec.tls.frontend.perPort[${i}].tls.validation` } : null;
  }
  const v = fe.default?.validation;
  return v ? { spec: v as FrontendValidationSpec, field: "spec.tls.frontend.default.validation" } : null;
}

export interface FrontendVerdict {
  /** ResolvedRefs problems, in reference order. */
  problems: { ok: false; reason: string; message: string }[];
  /** Set when no reference is usable: the listener is not Accepted. */
  notAccepted: { ok: false; reason: "NoValidCACertificate"; message: string } | null;
}

/**
 * GEP-91 client certificate validation for one HTTPS listener (called while listeners are
 * validated). Remembers the resolved CA for the IR; returns what the listener's status must say.
 */
export function frontendValidation(ctx: Context, g: GatewayState, l: ListenerState): FrontendVerdict | null {
  const v = validationFor(g, l.port);
  if (v === null) return null;
  const refs = v.spec.caCertificateRefs ?? [];
  const from: Referrer = { group: GW_GROUP, kind: "Gateway", namespace: g.item.namespace };
  const pems: string[] = [];
  const problems: FrontendVerdict["problems"] = [];
  refs.forEach((r, j) => {
    const res = loadCaBundle(ctx, from, r, FRONTEND_CA);
    if ("pem" in res) pems.push(res.pem);
    else {
      problems.push({ ok: false, reason: res.reason, message: res.message });
      ctx.report("error", refOfItem(g.item), `${v.field}.caCertificateRefs[${j}]`, `${res.message} (listener ${l.name})`, "a ConfigMap (or Secret) with a PEM CA certificate under ca.crt, in the Gateway's namespace or granted by a ReferenceGrant");
    }
  });
  if (pems.length === 0) {
    const message = refs.length === 0 ? "client certificate validation lists no caCertificateRefs" : `no valid CA certificate: ${problems.map((p) => p.message).join("; ")}`;
    if (refs.length === 0) problems.push({ ok: false, reason: "InvalidCACertificateRef", message });
    return { problems, notAccepted: { ok: false, reason: "NoValidCACertificate", message } };
  }
  listenerValidation.set(l, { caPem: pems.join(""), mode: v.spec.mode === "AllowInsecureFallback" ? "AllowInsecureFallback" : "Require" });
  return { problems, notAccepted: null };
}

/** The GEP-91 validation resolved for a listener, if any. */
export function listenerClientValidation(l: ListenerState): IrClientValidation | undefined {
  return listenerValidation.get(l);
}

/** Gateway-level spec.tls: backend client certificate and the insecure-mode condition. Call once per Gateway. */
export function resolveGatewayTls(ctx: Context, g: GatewayState): void {
  const spec = g.item.typed.spec?.tls;
  if (!spec) return;
  const gen = g.item.generation;
  const out: GatewayTls = { conditions: [], backendCert: null };
  const fe = spec.frontend;
  const insecure = [fe?.default?.validation, ...(fe?.perPort ?? []).map((p) => p.tls?.validation)].some((v) => v?.mode === "AllowInsecureFallback");
  if (insecure) {
    out.conditions.push(condition("InsecureFrontendValidationMode", true, "ConfigurationChanged", "client certificate validation is in mode AllowInsecureFallback: clients without a valid certificate are let through", gen));
  }
  const ref = spec.backend?.clientCertificateRef;
  if (ref) {
    const r = backendClientCert(ctx, g, ref);
    if ("cert" in r) {
      out.backendCert = r.cert;
      out.conditions.push(condition("ResolvedRefs", true, "ResolvedRefs", "Resolved all references", gen));
    } else {
      out.conditions.push(condition("ResolvedRefs", false, r.reason, r.message, gen));
      ctx.report("error", refOfItem(g.item), "spec.tls.backend.clientCertificateRef", r.message, r.expected);
    }
  }
  gatewayTls.set(g.item, out);
}

function backendClientCert(
  ctx: Context,
  g: GatewayState,
  ref: { group?: string; kind?: string; name: string; namespace?: string },
): { cert: IrClientCertificate } | { reason: "InvalidClientCertificateRef" | "RefNotPermitted"; message: string; expected: string } {
  const group = ref.group ?? "";
  const kind = ref.kind ?? "Secret";
  const ns = ref.namespace || g.item.namespace;
  const id = `${ns}/${ref.name}`;
  const bad = (message: string, expected: string) => ({ reason: "InvalidClientCertificateRef" as const, message, expected });
  if (group !== "" || kind !== "Secret") return bad(`clientCertificateRef ${group ? group + "/" : ""}${kind} ${ref.name} is not supported`, 'a core Secret (group "", kind Secret) of type kubernetes.io/tls');
  if (!referencePermitted(ctx.index, { group: GW_GROUP, kind: "Gateway", namespace: g.item.namespace }, { group: "", kind: "Secret", namespace: ns, name: ref.name })) {
    return { reason: "RefNotPermitted", message: `Secret ${id} is in another namespace and no ReferenceGrant allows it`, expected: `a ReferenceGrant in namespace ${ns} from Gateways in ${g.item.namespace} to Secrets` };
  }
  const s = ctx.index.secrets.get(id);
  if (!s) return bad(`Secret ${id} not found`, "an existing Secret of type kubernetes.io/tls");
  const t = s.typed as { data?: Record<string, string>; stringData?: Record<string, string> };
  const certPem = secretValue(t.data, t.stringData, "tls.crt");
  const keyPem = secretValue(t.data, t.stringData, "tls.key");
  if (!certPem || !keyPem) return bad(`Secret ${id} lacks ${!certPem ? "tls.crt" : "tls.key"}`, "a Secret with PEM tls.crt and tls.key");
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch {
    return bad(`Secret ${id}: tls.crt is not a valid PEM certificate`, "a PEM certificate (chain) in tls.crt");
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(keyPem))) return bad(`Secret ${id}: tls.key does not match tls.crt`, "the private key of the certificate in tls.key");
  } catch {
    return bad(`Secret ${id}: tls.key is not a valid PEM private key`, "the PEM private key of the certificate in tls.key");
  }
  return { cert: { name: id, certPem, keyPem } };
}

/** Conditions spec.tls adds to the Gateway's status (none when spec.tls is unset). */
export function gatewayTlsConditions(g: GatewayState): Condition[] {
  const conds = gatewayTls.get(g.item)?.conditions ?? [];
  const unresolved = g.listeners.filter((l) => !l.refs.ok).map((l) => l.name);
  // ResolvedRefs also sums up the listeners' own (GEP-3155).
  return conds.map((c) =>
    c.type === "ResolvedRefs" && c.status === "True" && unresolved.length > 0
      ? condition("ResolvedRefs", false, "ListenersNotResolved", `listeners with unresolved references: ${unresolved.join(", ")}`, g.item.generation)
      : c,
  );
}

/** The certificate the Gateway presents to TLS backends, if it names a usable one. */
export function gatewayBackendClientCert(g: GatewayState): IrClientCertificate | null {
  return gatewayTls.get(g.item)?.backendCert ?? null;
}
