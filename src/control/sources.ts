// The one place the control process meets the provider, loader and translator modules.
export { FileProvider } from "../providers/file/index.js";
export { loadDirectory } from "../resources/index.js";
export { translate } from "../translator/index.js";
