// URLRewrite: hostname becomes the Host header sent to the backend; the path is replaced in full
// or by prefix (query string kept).
import type { IrUrlRewrite } from "../../ir/types.js";
import { compilePathModifier, type PathEdit } from "./path-modifier.js";

export interface CompiledRewrite {
  hostname: string | null;
  path: PathEdit | null;
}

export function compileUrlRewrite(rw: IrUrlRewrite | undefined, matchedPrefix: string | null): CompiledRewrite | null {
  if (!rw || (!rw.hostname && !rw.path)) return null;
  return { hostname: rw.hostname ?? null, path: compilePathModifier(rw.path, matchedPrefix) };
}

/** Backend-level rewrite overrides the rule-level one field by field. */
export function mergeRewrite(rule: CompiledRewrite | null, backend: CompiledRewrite | null): CompiledRewrite | null {
  if (!backend) return rule;
  if (!rule) return backend;
  return { hostname: backend.hostname ?? rule.hostname, path: backend.path ?? rule.path };
}
