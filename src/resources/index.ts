// Resource loading: YAML/JSON -> validated, defaulted Kubernetes objects with source positions.
export type { LoadResult } from "./parse.js";
export { loadDirectory, walkConfigTree, duplicateDiagnostic, labelExplicitNamespaces, ParseCache, parseDocuments, isConfigFile, CONFIG_EXTENSIONS, NAMESPACE_NAME_LABEL } from "./load.js";
export { registerKind, lookupKind, knownKinds, type KindInfo } from "./kinds.js";
export { Reporter } from "./reporter.js";
export { formatPath, parsePath } from "./field-path.js";
export { BACKEND_APP_PROTOCOLS } from "./backend.js";
export * from "./types.js";
