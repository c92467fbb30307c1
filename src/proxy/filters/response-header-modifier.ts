// ResponseHeaderModifier: edits the header list sent back to the client.
import type { IrFilters } from "../../ir/types.js";
import { compileHeaderMods, type HeaderEdit } from "./header-mods.js";

export function compileResponseHeaderModifier(filters: IrFilters): HeaderEdit | null {
  return compileHeaderMods(filters.responseHeaders);
}
