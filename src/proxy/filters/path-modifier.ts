// Path modifiers shared by URLRewrite and RequestRedirect.
import type { IrPathModifier } from "../../ir/types.js";

/**
 * Replaces the matched prefix of `path`. `matchedPrefix` is the route's PathPrefix without its
 * trailing slash. The replacement's trailing slash is dropped and a leftover empty path becomes "/",
 * so /foo -> "/" turns /foo/bar into /bar and /foo into /, and /foo -> /bar turns /foo/x into /bar/x.
 */
export function replacePrefix(path: string, matchedPrefix: string, replacement: string): string {
  const rest = matchedPrefix === "/" ? path : path.slice(matchedPrefix.length);
  let r = replacement;
  while (r.length > 0 && r.endsWith("/")) r = r.slice(0, -1);
  let out = r + (rest.length > 0 && rest.charCodeAt(0) !== 47 ? "/" + rest : rest);
  if (out === "") out = "/";
  return out;
}

export type PathEdit = (path: string) => string;

/** `matchedPrefix` is null when the route's match is not a PathPrefix (then the prefix is "/"). */
export function compilePathModifier(mod: IrPathModifier | undefined, matchedPrefix: string | null): PathEdit | null {
  if (!mod) return null;
  if (mod.type === "ReplaceFullPath") {
    const v = mod.value || "/";
    return () => v;
  }
  const prefix = matchedPrefix ?? "/";
  const value = mod.value;
  return (path) => replacePrefix(path, prefix, value);
}
