import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { gatewayYaml } from "./harness/gateway-yaml.js";
import { eventually, latestConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
// 253 characters: the longest object name Kubernetes allows.
const name = `gateway-name-maximum-length-${"a".repeat(253 - "gateway-name-maximum-length-".length)}`;

conformance(
  {
    name: "GatewayNameMaximumLength",
    features: ["core"],
    manifests: { "case.yaml": gatewayYaml(ns, name, [`{name: http, port: {{port:gw}}, protocol: HTTP}`]) },
  },
  (ctx) => {
    test("a Gateway with a 253-character name gets conditions at its latest generation", async () => {
      await eventually(ctx.env, (items) => latestConditions(items, "Gateway", { namespace: ns, name }));
    });
  },
);
