// Request guard features: importing a module registers its factory (see ../guard-factories.ts).
// One import per feature module.
import "./cors.js";
import "./authorization.js";
import "./basic-auth.js";
import "./api-key.js";
import "./jwt.js";
import "./ext-auth.js";
import "./oidc.js";
import "./rate-limit.js";
import "./network-policy.js";
import "./request-limits.js";
import "../tls-client-cert.js";
