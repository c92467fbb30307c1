import { conformance } from "./harness/suite.js";

// Upstream runs this check only for implementations without SupportTLSRouteModeTerminate (it expects
// Accepted=False/UnsupportedValue on a TLS listener in mode Terminate). Sluice terminates TLS on such
// listeners: TLSRouteListenerTerminateSupportedKinds and TLSRouteTerminateSimpleSameNamespace check that.
conformance(
  {
    name: "TLSRouteListenerTerminateNotSupported",
    features: ["SupportGateway", "SupportTLSRoute", "not SupportTLSRouteModeTerminate"],
    skip: "sluice supports SupportTLSRouteModeTerminate, and upstream only runs this check without it (see TLSRouteListenerTerminateSupportedKinds)",
  },
  () => {},
);
