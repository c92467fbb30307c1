// CORS settings -> IR, shared by the HTTPRoute CORS filter and SecurityPolicy cors (whose maxAge is
// a duration string, where the filter's is a number of seconds).
import type { IrCors } from "../ir/types.js";
import { parseDuration } from "../resources/duration.js";

export interface CorsInput {
  allowOrigins?: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: number | string;
  allowCredentials?: boolean;
}

export function corsOf(c: CorsInput): IrCors {
  const out: IrCors = {
    allowOrigins: unique((c.allowOrigins ?? []).map((o) => o.toLowerCase())),
    allowMethods: unique((c.allowMethods ?? []).map((m) => m.toUpperCase())),
    allowHeaders: unique((c.allowHeaders ?? []).map((h) => h.toLowerCase())),
    exposeHeaders: unique((c.exposeHeaders ?? []).map((h) => h.toLowerCase())),
    allowCredentials: c.allowCredentials === true,
  };
  const age = typeof c.maxAge === "string" ? parseDuration(c.maxAge) : typeof c.maxAge === "number" ? c.maxAge * 1000 : null;
  if (age !== null && age >= 0) out.maxAgeSeconds = Math.floor(age / 1000);
  return out;
}

/** Order kept (it is what the user wrote and what headers list), duplicates dropped. */
function unique(list: string[]): string[] {
  return [...new Set(list)];
}
