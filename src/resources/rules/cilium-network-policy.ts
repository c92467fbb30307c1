// Hand validator for cilium.io/v2 CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy. The one
// interpretation of the shape lives in src/ebpf/cnp.ts (also used by the translator); this turns
// its issues into located diagnostics. Errors reject the object; parts the gateway does not
// enforce are warnings that say so.
import { cnpToPolicy } from "../../ebpf/cnp.js";
import { parsePath } from "../field-path.js";
import type { Reporter } from "../reporter.js";
import type { K8sObject } from "../types.js";
import { asObj } from "./util.js";

export const CILIUM_GROUP = "cilium.io";

export function checkCiliumNetworkPolicy(obj: K8sObject, rep: Reporter): void {
  const meta = asObj(obj.metadata);
  for (const m of ["labels", "annotations"]) {
    const map = meta?.[m];
    if (map === undefined) continue;
    const o = asObj(map);
    if (!o) {
      rep.error(["metadata", m], `${JSON.stringify(map)} is not a mapping`, "a mapping of string keys to string values");
      continue;
    }
    for (const [k, val] of Object.entries(o)) {
      if (typeof val !== "string") rep.error(["metadata", m, k], `${JSON.stringify(val)} is not a string`, 'a string (quote numbers and booleans, e.g. "true")');
    }
  }
  for (const issue of cnpToPolicy(obj).issues) {
    const path = issue.field ? parsePath(issue.field) : [];
    if (issue.severity === "error") rep.error(path, issue.message, issue.expected);
    else rep.warning(path, issue.message, issue.expected);
  }
}
