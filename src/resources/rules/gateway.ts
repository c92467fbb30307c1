// Gateway rules that the API server enforces through CEL.
import { quote } from "../describe.js";
import type { Reporter } from "../reporter.js";
import type { K8sObject } from "../types.js";
import { asArr, asObj, asStr, has } from "./util.js";

const NO_HOSTNAME = ["TCP", "UDP"];
const NO_TLS = ["HTTP", "TCP", "UDP"];

/** GatewayClass spec.description: a string of at most 64 characters (the CRD's limits). */
export function checkGatewayClass(obj: K8sObject, rep: Reporter): void {
  const spec = asObj(obj.spec);
  if (!spec || spec.description === undefined) return;
  const d = spec.description;
  if (typeof d !== "string") rep.error(["spec", "description"], `${quote(d)} is not a string`, "a short text of at most 64 characters");
  else if (d.length > 64) rep.error(["spec", "description"], `description is ${d.length} characters long`, "at most 64 characters");
}

export function checkGateway(obj: K8sObject, rep: Reporter): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  const listeners = asArr(spec.listeners);
  const names = new Map<string, number>();
  const combos = new Map<string, number>();
  listeners.forEach((l, i) => {
    const listener = asObj(l);
    if (!listener) return;
    const at = ["spec", "listeners", i];
    const name = asStr(listener.name);
    const protocol = asStr(listener.protocol);
    const hostname = asStr(listener.hostname);
    if (name !== undefined) {
      const prev = names.get(name);
      if (prev !== undefined) rep.error([...at, "name"], `listener name ${quote(name)} is already used by spec.listeners[${prev}]`, "a name unique within the Gateway");
      else names.set(name, i);
    }
    const combo = `${String(listener.port)}/${protocol ?? ""}/${hostname ?? ""}`;
    const prevCombo = combos.get(combo);
    if (prevCombo !== undefined) {
      rep.error(
        at,
        `port ${quote(listener.port)}, protocol ${quote(protocol)} and hostname ${hostname === undefined ? "(none)" : quote(hostname)} repeat spec.listeners[${prevCombo}]`,
        "a unique combination of port, protocol and hostname for each listener",
      );
    } else combos.set(combo, i);
    if (protocol !== undefined && NO_HOSTNAME.includes(protocol) && hostname !== undefined && hostname !== "") {
      rep.error([...at, "hostname"], `hostname ${quote(hostname)} is not allowed for protocol ${protocol}`, "no hostname on TCP and UDP listeners (they match on the port only)");
    }
    const tls = asObj(listener.tls);
    if (protocol !== undefined && NO_TLS.includes(protocol) && has(listener, "tls")) {
      rep.error([...at, "tls"], `tls is not allowed for protocol ${protocol}`, "tls only on HTTPS and TLS listeners");
      return;
    }
    if (protocol === "HTTPS" && !tls) {
      rep.error([...at, "tls"], "an HTTPS listener has no tls configuration", "tls.certificateRefs naming a Secret of type kubernetes.io/tls");
      return;
    }
    if (protocol === "TLS" && (!tls || !has(tls, "mode"))) {
      rep.error([...at, "tls"], "a TLS listener has no tls.mode", `tls.mode "Terminate" (with certificateRefs) or "Passthrough"`);
      return;
    }
    if (!tls) return;
    const mode = asStr(tls.mode) ?? "Terminate";
    if (protocol === "HTTPS" && mode !== "Terminate") {
      rep.error([...at, "tls", "mode"], `tls.mode ${quote(mode)} is not allowed for protocol HTTPS`, `"Terminate" (use protocol TLS for passthrough)`);
    }
    if (mode === "Terminate" && asArr(tls.certificateRefs).length === 0 && Object.keys(asObj(tls.options) ?? {}).length === 0) {
      rep.error([...at, "tls", "certificateRefs"], `tls.mode is "Terminate" but no certificateRefs are given`, "at least one certificateRefs entry naming a Secret of type kubernetes.io/tls");
    }
  });
  const seenAddr = new Map<string, number>();
  asArr(spec.addresses).forEach((a, i) => {
    const addr = asObj(a);
    const type = asStr(addr?.type) ?? "IPAddress";
    const value = asStr(addr?.value);
    if (value === undefined || (type !== "IPAddress" && type !== "Hostname")) return;
    const key = `${type}/${value}`;
    const prev = seenAddr.get(key);
    if (prev !== undefined) rep.error(["spec", "addresses", i, "value"], `${type} ${quote(value)} repeats spec.addresses[${prev}]`, `unique ${type} values`);
    else seenAddr.set(key, i);
  });
}
