// Defaults the API server would apply (from the CRDs' `default:` markers and core API defaulting),
// so the translator always sees filled-in objects. Runs before validation, as the API server does.
// Every function tolerates wrongly-typed input: validation reports it afterwards.
import { GATEWAY_GROUP } from "./kinds.js";
import type { K8sObject } from "./types.js";
import { asArr, asObj, type Obj } from "./rules/util.js";

export const DEFAULT_NAMESPACE = "default";

function setIfAbsent(o: Obj | undefined, key: string, value: unknown): void {
  if (o && o[key] === undefined) o[key] = value;
}

function each(list: unknown, fn: (o: Obj) => void): void {
  for (const item of asArr(list)) {
    const o = asObj(item);
    if (o) fn(o);
  }
}

export function applyDefaults(obj: K8sObject, group: string, namespaced: boolean): void {
  const meta = asObj(obj.metadata);
  // metadata.namespace: namespaced objects without one land in "default", as kubectl would put them.
  if (namespaced && meta && (meta.namespace === undefined || meta.namespace === "")) meta.namespace = DEFAULT_NAMESPACE;
  const spec = asObj(obj.spec);
  if (group === GATEWAY_GROUP) {
    switch (obj.kind) {
      case "Gateway":
        return gatewayDefaults(spec);
      case "HTTPRoute":
        return httpRouteDefaults(spec);
      case "GRPCRoute":
        return grpcRouteDefaults(spec);
      case "TLSRoute":
      case "TCPRoute":
      case "UDPRoute":
        parentRefDefaults(spec);
        each(spec?.rules, (r) => each(r.backendRefs, backendRefDefaults));
        return;
    }
    return;
  }
  if (group === "" && obj.kind === "Service") return serviceDefaults(spec);
  if (group === "" && obj.kind === "Secret") {
    // Secret.type: "Opaque" when unset (core API defaulting).
    setIfAbsent(obj as Obj, "type", "Opaque");
    return;
  }
  if (group === "discovery.k8s.io" && obj.kind === "EndpointSlice") return endpointSliceDefaults(obj as Obj);
  if (group === "sluice.dev" && obj.kind === "Backend") {
    // Backend spec.endpoints[].weight: 1, like a backendRef's weight.
    each(spec?.endpoints, (e) => setIfAbsent(e, "weight", 1));
  }
}

function gatewayDefaults(spec: Obj | undefined): void {
  // spec.addresses[].type: IPAddress.
  each(spec?.addresses, (a) => setIfAbsent(a, "type", "IPAddress"));
  // spec.allowedListeners.namespaces: {from: None} (experimental ListenerSets), only when allowedListeners is given.
  const al = asObj(spec?.allowedListeners);
  if (al) {
    setIfAbsent(al, "namespaces", {});
    setIfAbsent(asObj(al.namespaces), "from", "None");
  }
  each(spec?.listeners, (l) => {
    // spec.listeners[].allowedRoutes: {namespaces: {from: Same}}.
    setIfAbsent(l, "allowedRoutes", {});
    const ar = asObj(l.allowedRoutes);
    // spec.listeners[].allowedRoutes.namespaces: {from: Same}; .from: Same.
    setIfAbsent(ar, "namespaces", {});
    setIfAbsent(asObj(ar?.namespaces), "from", "Same");
    // spec.listeners[].allowedRoutes.kinds[].group: gateway.networking.k8s.io.
    each(ar?.kinds, (k) => setIfAbsent(k, "group", GATEWAY_GROUP));
    const tls = asObj(l.tls);
    if (tls) {
      // spec.listeners[].tls.mode: Terminate.
      setIfAbsent(tls, "mode", "Terminate");
      // spec.listeners[].tls.certificateRefs[]: group "" and kind Secret.
      each(tls.certificateRefs, (c) => {
        setIfAbsent(c, "group", "");
        setIfAbsent(c, "kind", "Secret");
      });
    }
  });
  // spec.tls.frontend.default.validation.caCertificateRefs / backend.clientCertificateRef carry no defaults we rely on.
}

function parentRefDefaults(spec: Obj | undefined): void {
  // spec.parentRefs[].group: gateway.networking.k8s.io; .kind: Gateway.
  each(spec?.parentRefs, (p) => {
    setIfAbsent(p, "group", GATEWAY_GROUP);
    setIfAbsent(p, "kind", "Gateway");
  });
}

function backendRefDefaults(b: Obj): void {
  // backendRefs[].group: "" (core); .kind: Service; .weight: 1.
  setIfAbsent(b, "group", "");
  setIfAbsent(b, "kind", "Service");
  setIfAbsent(b, "weight", 1);
}

function filterDefaults(f: Obj): void {
  const mirror = asObj(f.requestMirror);
  if (mirror) {
    // filters[].requestMirror.backendRef: group "" and kind Service.
    const b = asObj(mirror.backendRef);
    setIfAbsent(b, "group", "");
    setIfAbsent(b, "kind", "Service");
    // filters[].requestMirror.fraction.denominator: 100.
    setIfAbsent(asObj(mirror.fraction), "denominator", 100);
  }
  // filters[].requestRedirect.statusCode: 302.
  setIfAbsent(asObj(f.requestRedirect), "statusCode", 302);
  // filters[].cors.maxAge: 5 (seconds).
  setIfAbsent(asObj(f.cors), "maxAge", 5);
}

const DEFAULT_MATCH = (): Obj => ({ path: { type: "PathPrefix", value: "/" } });

function httpRouteDefaults(spec: Obj | undefined): void {
  parentRefDefaults(spec);
  // spec.rules: [{matches: [{path: {type: PathPrefix, value: "/"}}]}].
  if (spec) setIfAbsent(spec, "rules", [{ matches: [DEFAULT_MATCH()] }]);
  each(spec?.rules, (rule) => {
    // spec.rules[].matches: [{path: {type: PathPrefix, value: "/"}}].
    setIfAbsent(rule, "matches", [DEFAULT_MATCH()]);
    each(rule.matches, (m) => {
      // spec.rules[].matches[].path: {type: PathPrefix, value: "/"}; path.type: PathPrefix; path.value: "/".
      setIfAbsent(m, "path", { type: "PathPrefix", value: "/" });
      const p = asObj(m.path);
      setIfAbsent(p, "type", "PathPrefix");
      setIfAbsent(p, "value", "/");
      // spec.rules[].matches[].headers[].type and .queryParams[].type: Exact.
      each(m.headers, (h) => setIfAbsent(h, "type", "Exact"));
      each(m.queryParams, (q) => setIfAbsent(q, "type", "Exact"));
    });
    each(rule.filters, filterDefaults);
    each(rule.backendRefs, (b) => {
      backendRefDefaults(b);
      each(b.filters, filterDefaults);
    });
    const sp = asObj(rule.sessionPersistence);
    if (sp) {
      // spec.rules[].sessionPersistence.type: Cookie; .cookieConfig.lifetimeType: Session (experimental).
      setIfAbsent(sp, "type", "Cookie");
      setIfAbsent(asObj(sp.cookieConfig), "lifetimeType", "Session");
    }
  });
}

function grpcRouteDefaults(spec: Obj | undefined): void {
  parentRefDefaults(spec);
  each(spec?.rules, (rule) => {
    each(rule.matches, (m) => {
      // spec.rules[].matches[].method.type: Exact; headers[].type: Exact.
      setIfAbsent(asObj(m.method), "type", "Exact");
      each(m.headers, (h) => setIfAbsent(h, "type", "Exact"));
    });
    each(rule.filters, filterDefaults);
    each(rule.backendRefs, (b) => {
      backendRefDefaults(b);
      each(b.filters, filterDefaults);
    });
  });
}

function serviceDefaults(spec: Obj | undefined): void {
  if (!spec) return;
  // spec.type: ClusterIP; spec.sessionAffinity: None (core API defaulting).
  setIfAbsent(spec, "type", "ClusterIP");
  setIfAbsent(spec, "sessionAffinity", "None");
  each(spec.ports, (p) => {
    // spec.ports[].protocol: TCP; spec.ports[].targetPort: the port's own number.
    setIfAbsent(p, "protocol", "TCP");
    if (p.targetPort === undefined && p.port !== undefined) p.targetPort = p.port;
  });
}

function endpointSliceDefaults(obj: Obj): void {
  // ports[].protocol: TCP.
  each(obj.ports, (p) => setIfAbsent(p, "protocol", "TCP"));
  each(obj.endpoints, (e) => {
    // endpoints[].conditions.ready: an unset condition means ready (discovery.k8s.io/v1 semantics).
    setIfAbsent(e, "conditions", {});
    setIfAbsent(asObj(e.conditions), "ready", true);
  });
}
