// Checks on the envelope every object shares: apiVersion, kind, metadata.name/namespace.
import { DNS1035_LABEL, quote, RFC1123_LABEL, RFC1123_SUBDOMAIN, typeName } from "./describe.js";
import type { Reporter } from "./reporter.js";
import type { KindInfo } from "./kinds.js";
import { asObj } from "./rules/util.js";

const LABEL_WORDS = "at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit (e.g. \"team-a\")";
const DNS1035_WORDS = "a DNS-1035 label: at most 63 lowercase letters, digits and '-', starting with a letter and ending with a letter or digit (e.g. \"web\")";
const SUBDOMAIN_WORDS = "a lowercase RFC 1123 subdomain: at most 253 characters of lowercase letters, digits, '-' and '.', starting and ending with a letter or digit (e.g. \"web-route\")";

export function checkNames(obj: Record<string, unknown>, info: KindInfo, rep: Reporter): void {
  const meta = asObj(obj.metadata);
  if (!meta) return;
  const name = meta.name as string;
  if (info.group === "" && (info.kind === "Service" || info.kind === "Namespace")) {
    const re = info.kind === "Service" ? DNS1035_LABEL : RFC1123_LABEL;
    if (name.length > 63 || !re.test(name)) {
      rep.error(["metadata", "name"], `invalid ${info.kind} name ${quote(name)}`, info.kind === "Service" ? DNS1035_WORDS : `an RFC 1123 label: ${LABEL_WORDS}`);
    }
  } else if (name.length > 253 || !RFC1123_SUBDOMAIN.test(name)) {
    rep.error(["metadata", "name"], `invalid name ${quote(name)}`, SUBDOMAIN_WORDS);
  }
  const ns = meta.namespace;
  if (ns === undefined) return;
  if (!info.namespaced) {
    rep.warning(["metadata", "namespace"], `${info.kind} is cluster-scoped; namespace ${quote(ns)} is ignored`, "no metadata.namespace on cluster-scoped kinds");
    delete meta.namespace;
    return;
  }
  if (typeof ns !== "string") rep.error(["metadata", "namespace"], `${quote(ns)} is ${typeName(ns)}`, "a namespace name (string)");
  else if (ns.length > 63 || !RFC1123_LABEL.test(ns)) rep.error(["metadata", "namespace"], `invalid namespace ${quote(ns)}`, `an RFC 1123 label: ${LABEL_WORDS}`);
}
