// RequestRedirect: builds the Location header. Port inference follows the spec: an explicit port
// wins; else a configured scheme implies its well-known port; else the listener's port. The port is
// left out of Location when it is the scheme's default (80 for http, 443 for https).
import type { IrRedirect } from "../../ir/types.js";
import { compilePathModifier, type PathEdit } from "./path-modifier.js";

export interface CompiledRedirect {
  status: number;
  /** host: request host without port; path and query as received. */
  location(host: string, path: string, query: string): string;
}

function defaultPort(scheme: string): number {
  return scheme === "https" ? 443 : 80;
}

export function compileRedirect(
  r: IrRedirect,
  listener: { port: number; scheme: "http" | "https" },
  matchedPrefix: string | null,
): CompiledRedirect {
  const scheme = r.scheme ?? listener.scheme;
  const port = r.port ?? (r.scheme ? defaultPort(r.scheme) : listener.port);
  const portPart = port === defaultPort(scheme) ? "" : `:${port}`;
  const fixedHost = r.hostname ?? null;
  const pathEdit: PathEdit | null = compilePathModifier(r.path, matchedPrefix);
  const prefix = `${scheme}://`;
  return {
    status: r.statusCode,
    location(host, path, query) {
      const h = fixedHost ?? host;
      const p = pathEdit ? pathEdit(path) : path;
      return `${prefix}${h}${portPart}${p}${query ? "?" + query : ""}`;
    },
  };
}
