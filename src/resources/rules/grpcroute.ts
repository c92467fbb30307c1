// GRPCRoute rules that the API server enforces through CEL.
import type { Reporter } from "../reporter.js";
import type { K8sObject } from "../types.js";
import { checkBackendRefPort, checkFilterRepeats, checkFilterShapes, checkParentRefs } from "./common.js";
import { asArr, asObj, has } from "./util.js";

const GRPC_FILTERS = ["RequestHeaderModifier", "ResponseHeaderModifier", "RequestMirror", "ExtensionRef"];
const ONCE = ["RequestHeaderModifier", "ResponseHeaderModifier"];

export function checkGRPCRoute(obj: K8sObject, rep: Reporter): void {
  const spec = asObj(obj.spec);
  if (!spec) return;
  checkParentRefs(asArr(spec.parentRefs), ["spec", "parentRefs"], rep);
  asArr(spec.rules).forEach((r, i) => {
    const rule = asObj(r);
    if (!rule) return;
    const at = ["spec", "rules", i];
    checkFilterShapes(asArr(rule.filters), [...at, "filters"], rep, GRPC_FILTERS);
    checkFilterRepeats(asArr(rule.filters), [...at, "filters"], rep, ONCE);
    asArr(rule.matches).forEach((m, j) => {
      const method = asObj(asObj(m)?.method);
      if (method && !has(method, "service") && !has(method, "method")) {
        rep.error([...at, "matches", j, "method"], "neither service nor method is set", "service, method or both (e.g. service: \"helloworld.Greeter\")");
      }
    });
    asArr(rule.backendRefs).forEach((b, j) => {
      const ref = asObj(b);
      checkBackendRefPort(ref, [...at, "backendRefs", j], rep);
      checkFilterShapes(asArr(ref?.filters), [...at, "backendRefs", j, "filters"], rep, GRPC_FILTERS);
    });
  });
}
