import { conformance } from "./harness/suite.js";

conformance({ name: "GatewayStaticAddresses", features: ["SupportGatewayStaticAddresses"], skip: "static addresses (spec.addresses) are not among the issue 2 features" }, () => {});
