// CA bundles referenced by policies and Gateways: a ConfigMap or Secret key ca.crt holding one or
// more PEM certificates, each checked, with a ReferenceGrant needed across namespaces. Used by
// BackendTLSPolicy, Gateway frontend validation (GEP-91) and ClientTrafficPolicy.
import { X509Certificate } from "node:crypto";
import type { K8sObject } from "../resources/types.js";
import type { Context } from "./context.js";
import { referencePermitted, type Referrer } from "./reference-grants.js";
import { secretValue } from "./secrets.js";

export interface CaRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export type CaProblemReason = "InvalidKind" | "InvalidCACertificateKind" | "InvalidCACertificateRef" | "RefNotPermitted";

export type CaResult<R extends CaProblemReason = CaProblemReason> = { pem: string } | { reason: R; message: string };

export interface CaBundleOptions<K extends CaProblemReason> {
  /** Kind assumed when the reference leaves it out. */
  defaultKind: string;
  /** Reason reported for a reference to anything but a core ConfigMap or Secret (the APIs name it differently). */
  kindReason: K;
  /** Read a Secret's data before stringData (BackendTLSPolicy always has; the others let stringData win). */
  dataFirst?: boolean;
  /** Quote the certificate parser's error (BackendTLSPolicy) instead of a fixed, Node-version-independent text. */
  parserDetail?: boolean;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A PEM CA bundle from a ConfigMap or Secret key ca.crt, checked certificate by certificate. */
export function loadCaBundle<K extends "InvalidKind" | "InvalidCACertificateKind">(
  ctx: Context,
  from: Referrer,
  ref: CaRef,
  opts: CaBundleOptions<K>,
): CaResult<K | "InvalidCACertificateRef" | "RefNotPermitted"> {
  const group = ref.group ?? "";
  const kind = ref.kind ?? opts.defaultKind;
  if (group !== "" || (kind !== "ConfigMap" && kind !== "Secret")) {
    return { reason: opts.kindReason, message: `caCertificateRef ${group ? group + "/" : ""}${kind} ${ref.name}: only ConfigMap and Secret (group "") are supported` };
  }
  const ns = ref.namespace || from.namespace;
  const what = `${kind} ${ns}/${ref.name}`;
  if (!referencePermitted(ctx.index, from, { group: "", kind, namespace: ns, name: ref.name })) {
    return { reason: "RefNotPermitted", message: `${what} is in another namespace and no ReferenceGrant allows it` };
  }
  let raw: string | null | undefined;
  if (kind === "ConfigMap") {
    const cm = ctx.index.byKey.get(`/ConfigMap/${ns}/${ref.name}`) as (K8sObject & { data?: Record<string, string> }) | undefined;
    if (!cm) return { reason: "InvalidCACertificateRef", message: `${what} not found` };
    raw = cm.data?.["ca.crt"];
  } else {
    const sec = ctx.index.secrets.get(`${ns}/${ref.name}`);
    if (!sec) return { reason: "InvalidCACertificateRef", message: `${what} not found` };
    const t = sec.typed as { data?: Record<string, string>; stringData?: Record<string, string> };
    raw = opts.dataFirst ? secretValue(t.data, undefined, "ca.crt") ?? t.stringData?.["ca.crt"] : secretValue(t.data, t.stringData, "ca.crt");
  }
  if (raw === undefined || raw === null || raw.trim() === "") return { reason: "InvalidCACertificateRef", message: `${what} has no key ca.crt with a certificate` };
  const blocks = raw.match(PEM_CERT) ?? [];
  if (blocks.length === 0) return { reason: "InvalidCACertificateRef", message: `${what} key ca.crt holds no PEM certificate` };
  for (const b of blocks) {
    try {
      new X509Certificate(b);
    } catch (err) {
      const detail = opts.parserDetail ? (err as Error).message : "holds an invalid certificate";
      return { reason: "InvalidCACertificateRef", message: `${what} key ca.crt${opts.parserDetail ? ": " : " "}${detail}` };
    }
  }
  return { pem: blocks.join("\n") + "\n" };
}
