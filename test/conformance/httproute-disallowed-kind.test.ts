import { conformance } from "./harness/suite.js";

conformance(
  {
    name: "HTTPRouteDisallowedKind",
    features: ["core", "SupportTLSRoute"],
    skip: "needs a TLS listener restricted to TLSRoute (SupportTLSRoute), which issue 2 does not cover",
  },
  () => {},
);
