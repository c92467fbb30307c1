import { conformance } from "./harness/suite.js";

conformance({ name: "GatewayInvalidTLSBackendConfiguration", features: ["SupportGatewayBackendClientCertificate", "SupportBackendTLSPolicy"], skip: "needs BackendTLSPolicy and backend client certificates, not in issue 2" }, () => {});
