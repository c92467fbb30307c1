import { conformance } from "./harness/suite.js";

conformance({ name: "GatewayFrontendInvalidDefaultClientCertificateValidation", features: ["SupportGatewayFrontendClientCertificateValidation"], skip: "client certificate validation is not among the issue 2 features" }, () => {});
