// SecurityPolicy cors -> route.security.cors. A CORS filter on the route's rule is more specific
// and wins (the proxy reads the filter first).
import { type CorsInput, corsOf } from "../cors.js";
import { registerApplier } from "./registry.js";

registerApplier({
  kind: "SecurityPolicy",
  sections: ["cors"],
  route(_ctx, policies, route, scope) {
    const s = policies.sections("SecurityPolicy", scope).get("cors");
    if (!s || route.filters.cors) return;
    route.security = { ...route.security, cors: corsOf(s.value as CorsInput) };
  },
});
