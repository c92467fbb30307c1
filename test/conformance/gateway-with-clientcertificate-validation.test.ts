import { conformance } from "./harness/suite.js";

conformance({ name: "GatewayFrontendClientCertificateValidation", features: ["SupportGatewayFrontendClientCertificateValidation"], skip: "client certificate validation (mTLS on listeners) is not among the issue 2 features" }, () => {});
