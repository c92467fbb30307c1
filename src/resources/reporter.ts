// Collects diagnostics about one object, locating each field in the file it came from.
import type { Diagnostic, ObjectRef, Severity, SourceLocation } from "./types.js";
import { formatPath, type PathSegment } from "./field-path.js";

export type FieldPath = readonly PathSegment[];

export interface Locatable {
  ref?: ObjectRef;
  locate(fieldPath: string): SourceLocation;
}

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  constructor(private readonly target: Locatable) {}

  get errorCount(): number {
    return this.diagnostics.filter((d) => d.severity === "error").length;
  }

  error(path: FieldPath, message: string, expected?: string): void {
    this.add("error", path, message, expected);
  }

  warning(path: FieldPath, message: string, expected?: string): void {
    this.add("warning", path, message, expected);
  }

  private add(severity: Severity, path: FieldPath, message: string, expected?: string): void {
    const field = formatPath(path);
    const key = `${severity}\u0000${field}\u0000${message}`;
    if (this.seen.has(key)) return; // one report per problem
    this.seen.add(key);
    const d: Diagnostic = { severity, source: this.target.locate(field), message };
    if (this.target.ref) d.ref = this.target.ref;
    if (field) d.field = field;
    if (expected) d.expected = expected;
    this.diagnostics.push(d);
  }
}
