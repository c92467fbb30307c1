// The one place the control process meets the provider and translator modules.
export { FileProvider, loadDirectory } from "../providers/file/index.js";
export { translate } from "../translator/index.js";
