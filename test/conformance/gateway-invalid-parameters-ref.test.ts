import { test } from "node:test";
import { INFRA_NS } from "./harness/env.js";
import { gatewayYaml } from "./harness/gateway-yaml.js";
import { eventually, gatewayCondition, latestConditions } from "./harness/status.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;
const gw = { namespace: ns, name: "gateway-invalid-parameters-ref" };

conformance(
  {
    name: "GatewayInvalidParametersRef",
    features: ["core"],
    manifests: {
      "case.yaml": gatewayYaml(
        ns,
        gw.name,
        [`{name: http, port: {{port:gw}}, protocol: HTTP}`],
        "  infrastructure: {parametersRef: {group: invalid.io, kind: InvalidParameters, name: invalid}}\n",
      ),
    },
  },
  (ctx) => {
    test("Gateway with an invalid parametersRef has Accepted=False/InvalidParameters", async () => {
      await eventually(ctx.env, (items) => latestConditions(items, "Gateway", gw) ?? gatewayCondition(items, gw, { type: "Accepted", status: "False", reason: "InvalidParameters" }));
    });
  },
);
