// Argument parsing shared by the commands: node:util parseArgs, strict, with usage errors that
// name the problem and show the command's help.
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  constructor(message: string, readonly usage: string) {
    super(message);
  }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

export function parse(argv: string[], options: Options, usage: string, maxPositionals: number): Parsed {
  let r: { values: Record<string, unknown>; positionals: string[] };
  try {
    r = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(cleanParseError(err), usage);
  }
  if (r.positionals.length > maxPositionals) {
    throw new UsageError(`unexpected argument: ${r.positionals[maxPositionals]}`, usage);
  }
  return { values: r.values as Parsed["values"], positionals: r.positionals };
}

function cleanParseError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  // parseArgs appends advice about "--" that does not apply to our commands.
  return msg.replace(/\. To specify a positional argument starting with a '-'.*$/s, "").replace(/^Unknown option/, "unknown option");
}

export function str(v: string | boolean | undefined): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function intOption(v: string | boolean | undefined, name: string, usage: string, min: number, max: number): number | undefined {
  if (typeof v !== "string") return undefined;
  if (!(min < 0 ? /^-?\d+$/ : /^\d+$/).test(v)) throw new UsageError(`--${name} must be a whole number, got "${v}"`, usage);
  const n = Number(v);
  if (n < min || n > max) throw new UsageError(`--${name} must be between ${min} and ${max}, got ${n}`, usage);
  return n;
}
