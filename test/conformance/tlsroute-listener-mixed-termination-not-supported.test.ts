import { conformance } from "./harness/suite.js";

// Upstream runs this check only for implementations without SupportTLSRouteModeMixed (it expects
// ProtocolConflict on a port mixing Terminate and Passthrough). Sluice serves such a port, telling
// the listeners apart by SNI: TLSRouteMixedTerminationSameNamespace checks that instead.
conformance(
  {
    name: "TLSRouteListenerMixedTerminationNotSupported",
    features: ["SupportGateway", "SupportTLSRoute", "SupportTLSRouteModeTerminate", "not SupportTLSRouteModeMixed"],
    skip: "sluice supports SupportTLSRouteModeMixed, and upstream only runs this check without it (see TLSRouteMixedTerminationSameNamespace)",
  },
  () => {},
);
