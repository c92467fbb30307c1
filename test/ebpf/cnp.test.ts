// CiliumNetworkPolicy -> policy model (pure).
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { cnpToPolicy, mergePolicies, selectsEndpoint } from "../../src/ebpf/cnp.js";
import { compilePolicy, evaluate } from "../../src/ebpf/policy-map.js";
import type { K8sObject } from "../../src/resources/types.js";

const TCP = 6;
const UDP = 17;

const cnp = (text: string): K8sObject => parse(text) as K8sObject;

test("fromCIDR, fromCIDRSet with except and toPorts with ranges become rules; ingress turns on default deny", () => {
  const p = cnpToPolicy(
    cnp(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: edge, namespace: gw }
spec:
  endpointSelector: { matchLabels: { app: gateway } }
  ingress:
    - fromCIDR: [192.0.2.0/24]
      fromCIDRSet:
        - cidr: 10.0.0.0/8
          except: [10.96.0.0/12]
      toPorts:
        - ports:
            - { port: "443", protocol: TCP }
            - { port: "8000", endPort: 8100, protocol: TCP }
  ingressDeny:
    - fromCIDR: [192.0.2.66/32]
`),
  );
  assert.deepEqual(p.issues, []);
  assert.equal(p.defaultDeny, true);
  assert.deepEqual(p.rules, [
    {
      id: "gw/edge/spec.ingress[0]",
      field: "spec.ingress[0]",
      verdict: "allow",
      from: [{ cidr: "192.0.2.0/24" }, { cidr: "10.0.0.0/8", except: ["10.96.0.0/12"] }],
      ports: [
        { protocol: "TCP", port: 443 },
        { protocol: "TCP", port: 8000, endPort: 8100 },
      ],
    },
    { id: "gw/edge/spec.ingressDeny[0]", field: "spec.ingressDeny[0]", verdict: "deny", from: [{ cidr: "192.0.2.66/32" }], ports: [] },
  ]);
  const c = compilePolicy(mergePolicies([p]));
  assert.equal(evaluate(c, "192.0.2.1", TCP, 443).verdict, "allow");
  assert.equal(evaluate(c, "192.0.2.66", TCP, 443).verdict, "deny");
  assert.equal(evaluate(c, "10.1.0.1", TCP, 8050).verdict, "allow");
  assert.equal(evaluate(c, "10.97.0.1", TCP, 8050).verdict, "deny", "except");
  assert.equal(evaluate(c, "10.1.0.1", UDP, 8050).verdict, "deny", "protocol");
  assert.equal(evaluate(c, "203.0.113.1", TCP, 443).verdict, "deny", "default deny");
});

test("ports without sources apply to every source; {} selects nothing but denies by default; protocol ANY", () => {
  const p = cnpToPolicy(
    cnp(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: l4, namespace: gw }
spec:
  endpointSelector: {}
  ingress:
    - toPorts: [{ ports: [{ port: "53" }] }]
    - {}
`),
  );
  assert.deepEqual(p.issues, []);
  assert.equal(p.rules.length, 1);
  const c = compilePolicy(mergePolicies([p]));
  assert.equal(evaluate(c, "198.51.100.7", UDP, 53).verdict, "allow");
  assert.equal(evaluate(c, "2001:db8::7", TCP, 53).verdict, "allow");
  assert.equal(evaluate(c, "198.51.100.7", TCP, 54).verdict, "deny");
});

test("ingressDeny only stays default-allow; enableDefaultDeny overrides both ways", () => {
  const base = `
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: d, namespace: gw }
spec:
  endpointSelector: {}
`;
  assert.equal(cnpToPolicy(cnp(base + "  ingressDeny: [{ fromEntities: [world] }]\n")).defaultDeny, false);
  assert.equal(cnpToPolicy(cnp(base + "  enableDefaultDeny: { ingress: true }\n")).defaultDeny, true);
  assert.equal(cnpToPolicy(cnp(base + "  enableDefaultDeny: { ingress: false }\n  ingress: [{ fromCIDR: [10.0.0.0/8] }]\n")).defaultDeny, false);
  const world = cnpToPolicy(cnp(base + "  ingressDeny: [{ fromEntities: [world] }]\n"));
  assert.deepEqual(world.rules[0].from, [{ cidr: "0.0.0.0/0" }, { cidr: "::/0" }]);
});

test("unsupported parts are reported with field paths and never widen a rule", () => {
  const p = cnpToPolicy(
    cnp(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: bad, namespace: gw }
spec:
  endpointSelector: {}
  ingress:
    - fromEndpoints: [{ matchLabels: { app: x } }]
      toPorts: [{ ports: [{ port: "80", protocol: TCP }] }]
    - fromCIDR: [10.0.0.0/33]
    - fromCIDRSet: [{ cidr: 10.0.0.0/8, except: [11.0.0.0/8] }]
      toPorts: [{ ports: [{ port: http, protocol: TCP }, { port: "90", endPort: 80 }, { port: "1", protocol: ICMP }] }]
  ingressDeny:
    - fromEntities: [cluster]
  egress:
    - toCIDR: [0.0.0.0/0]
`),
  );
  const fields = p.issues.map((i) => `${i.severity} ${i.field}`);
  assert.deepEqual(fields, [
    "warning spec.egress",
    "warning spec.ingress[0].fromEndpoints",
    "error spec.ingress[1].fromCIDR[0]",
    "error spec.ingress[2].fromCIDRSet[0].except[0]",
    "error spec.ingress[2].toPorts[0].ports[0].port",
    "error spec.ingress[2].toPorts[0].ports[1].endPort",
    "error spec.ingress[2].toPorts[0].ports[2].protocol",
    "error spec.ingressDeny[0].fromEntities[0]",
  ]);
  assert.ok(p.issues.every((i) => i.message.length > 0));
  // fromEndpoints-only rule selects nothing (not every source), the invalid-ports rule selects nothing.
  assert.deepEqual(
    p.rules.map((r) => r.id),
    [],
  );
  assert.equal(p.defaultDeny, true);
});

test("L7 http rules are handed to the proxy; the port part is still enforced here", () => {
  const p = cnpToPolicy(
    cnp(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: l7, namespace: gw }
spec:
  endpointSelector: {}
  ingress:
    - fromCIDR: [10.0.0.0/8]
      toPorts:
        - ports: [{ port: "80", protocol: TCP }]
          rules: { http: [{ method: GET, path: "/public/.*" }] }
`),
  );
  assert.deepEqual(p.issues, []);
  assert.deepEqual(p.rules[0].http, [{ method: "GET", path: "/public/.*" }]);
  assert.equal(p.rules[0].id, "gw/l7/spec.ingress[0].toPorts[0]");
  assert.equal(p.rules[0].ports[0].port, 80);
});

test("endpointSelector matching: matchLabels, matchExpressions, k8s: prefixes, {}", () => {
  const labels = { app: "gateway", tier: "edge" };
  assert.equal(selectsEndpoint({}, labels), true);
  assert.equal(selectsEndpoint({ matchLabels: { "k8s:app": "gateway" } }, labels), true);
  assert.equal(selectsEndpoint({ matchLabels: { app: "other" } }, labels), false);
  assert.equal(selectsEndpoint({ matchExpressions: [{ key: "tier", operator: "In", values: ["edge", "core"] }] }, labels), true);
  assert.equal(selectsEndpoint({ matchExpressions: [{ key: "tier", operator: "NotIn", values: ["edge"] }] }, labels), false);
  assert.equal(selectsEndpoint({ matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, labels), true);
  assert.equal(selectsEndpoint({ matchExpressions: [{ key: "zone", operator: "Exists" }] }, labels), false);
});

test("specs[] and several policies merge deterministically; wrong kinds are refused", () => {
  const a = cnpToPolicy(
    cnp(`
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: { name: b, namespace: gw }
specs:
  - endpointSelector: {}
    ingressDeny: [{ fromCIDR: [10.0.0.1/32] }]
  - endpointSelector: {}
    ingressDeny: [{ fromCIDR: [10.0.0.2/32] }]
`),
  );
  const b = cnpToPolicy(cnp(`{apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: a, namespace: gw}, spec: {endpointSelector: {}, ingress: [{fromCIDR: [10.0.0.0/8]}]}}`));
  const m1 = mergePolicies([a, b]);
  const m2 = mergePolicies([b, a]);
  assert.deepEqual(m1, m2);
  assert.deepEqual(
    m1.rules.map((r) => r.id),
    ["gw/a/spec.ingress[0]", "gw/b/specs[0].ingressDeny[0]", "gw/b/specs[1].ingressDeny[0]"],
  );
  assert.equal(m1.defaultVerdict, "deny");
  const wrong = cnpToPolicy(cnp(`{apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: x}}`));
  assert.equal(wrong.issues[0].severity, "error");
});
