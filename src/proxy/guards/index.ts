// Request guard features: importing a module registers its factory (see ../guard-factories.ts).
// One import per feature module.
import "./cors.js";
