import { conformance } from "./harness/suite.js";

conformance({ name: "GatewayFrontendClientCertificateValidationInsecureFallback", features: ["SupportGatewayFrontendClientCertificateValidationInsecureFallback"], skip: "client certificate validation is not among the issue 2 features" }, () => {});
