import { conformance } from "./harness/suite.js";

// A TLSRoute on a Terminate listener whose backend Service has a BackendTLSPolicy: the gateway must
// open TLS again towards the backend (CA and hostname from the policy).
conformance(
  {
    name: "BackendTLSPolicyTLSRouteTerminate",
    features: ["SupportGateway", "SupportTLSRoute", "SupportTLSRouteModeTerminate", "SupportBackendTLSPolicy (provisional)"],
    skip: "re-encrypting TLSRoute (Terminate) traffic needs BackendTLSPolicy resolved onto L4 backends; the L4 data plane relays plaintext to the backend today",
  },
  () => {},
);
