// Helpers to turn diagnostics into what users and the admin API see.
import type { Diagnostic, LoadedObject } from "../resources/types.js";
import { formatDiagnostic, refKey, refOf } from "../resources/types.js";

export interface DiagnosticView extends Diagnostic {
  /** The one-line rendering (file:line:col Kind ns/name field: message (expected: ...)). */
  text: string;
}

/** Gives translator diagnostics (field paths, no source) the file and line of the field. */
export function locateDiagnostics(diags: Diagnostic[], loaded: LoadedObject[]): Diagnostic[] {
  const byRef = new Map<string, LoadedObject>();
  for (const lo of loaded) byRef.set(refKey(refOf(lo.object)), lo);
  return diags.map((d) => {
    if (d.source || !d.ref) return d;
    const lo = byRef.get(refKey(d.ref));
    if (!lo) return d;
    let source = lo.source;
    try {
      if (d.field) source = lo.locate(d.field);
    } catch {
      // A locator failure must not hide the diagnostic itself.
    }
    return { ...d, source };
  });
}

export function viewOf(d: Diagnostic): DiagnosticView {
  return { ...d, text: formatDiagnostic(d) };
}

export function errorsOf(diags: Diagnostic[]): Diagnostic[] {
  return diags.filter((d) => d.severity === "error");
}

export function warningsOf(diags: Diagnostic[]): Diagnostic[] {
  return diags.filter((d) => d.severity !== "error");
}

/** Errors first, then by file, line, column: the order a user fixes them in. */
export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  const rank = (d: Diagnostic): number => (d.severity === "error" ? 0 : 1);
  return [...diags].sort((a, b) => {
    if (rank(a) !== rank(b)) return rank(a) - rank(b);
    const fa = a.source?.file ?? "", fb = b.source?.file ?? "";
    if (fa !== fb) return fa < fb ? -1 : 1;
    const la = a.source?.line ?? 0, lb = b.source?.line ?? 0;
    if (la !== lb) return la - lb;
    return (a.source?.column ?? 0) - (b.source?.column ?? 0);
  });
}
