// RequestHeaderModifier: edits the header list sent to the backend.
import type { IrFilters } from "../../ir/types.js";
import { compileHeaderMods, type HeaderEdit } from "./header-mods.js";

export function compileRequestHeaderModifier(filters: IrFilters): HeaderEdit | null {
  return compileHeaderMods(filters.requestHeaders);
}
