// Policy attachment and the feature appliers. Importing a feature module registers its applier.
export { PolicyIndex, backendTargetOfCluster, type AppliedSection, type BackendTarget, type RouteScope, type Sections } from "./attach.js";
export { appliers, clusterVariant, registerApplier, type PolicyApplier } from "./registry.js";
// ---- feature appliers (one import per feature module; order = the order they run) ----
import "./backend-timeout.js";
import "./backend-retry.js";
import "./backend-breaker.js";
import "./backend-lb.js";
import "./backend-health.js";
import "./security-cors.js";
import "./security-access.js";
import "./security-oidc.js";
import "./security-ext-auth.js";
import "./rate-limit.js";
import "./client-traffic.js";
import "./client-request-buffer.js";
import "./client-backend-cert.js";
