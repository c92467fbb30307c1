import { conformance } from "./harness/suite.js";

conformance({ name: "GatewayInfrastructure", features: ["SupportGatewayInfrastructurePropagation (provisional)"], skip: "propagating spec.infrastructure labels/annotations to generated resources needs a cluster; a standalone gateway generates none" }, () => {});
