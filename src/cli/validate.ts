// `sluice validate DIR`
import { statSync } from "node:fs";
import { resolve } from "node:path";
import { errorsOf, locateDiagnostics, sortDiagnostics, viewOf, warningsOf } from "../control/diagnostics.js";
import type { LoadResult } from "../resources/index.js";
import type { Diagnostic } from "../resources/types.js";
import { formatDiagnostic } from "../resources/types.js";
import { CONTROLLER_NAME } from "../translator/api.js";
import { parse, str, UsageError } from "./args.js";
import { VALIDATE_USAGE } from "./usage.js";

export async function validateCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    { output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
    VALIDATE_USAGE,
    1,
  );
  if (values.help) {
    process.stdout.write(VALIDATE_USAGE);
    return 0;
  }
  const output = str(values.output) ?? "text";
  if (output !== "text" && output !== "json") throw new UsageError(`--output must be text or json, got "${output}"`, VALIDATE_USAGE);
  const dirArg = positionals[0];
  if (!dirArg) throw new UsageError("missing the folder to validate", VALIDATE_USAGE);
  const dir = resolve(dirArg);
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    // reported below
  }
  if (!isDir) {
    process.stderr.write(`sluice validate: ${dirArg} is not a folder\n`);
    return 1;
  }

  const { loadDirectory, translate } = await import("../control/sources.js");
  const load: LoadResult = await loadDirectory(dir);
  const diags: Diagnostic[] = [...load.diagnostics];
  // Translate even when loading found errors: the objects that did load can have problems of
  // their own, and a user wants the whole list in one go.
  try {
    const result = translate(load.objects.map((lo) => lo.object), { controllerName: CONTROLLER_NAME });
    diags.push(...locateDiagnostics(result.diagnostics, load.objects));
  } catch (err) {
    diags.push({ severity: "error", message: `internal error while translating the configuration: ${err instanceof Error ? err.message : String(err)}` });
  }
  const sorted = sortDiagnostics(diags);
  const errors = errorsOf(sorted), warnings = warningsOf(sorted);

  if (output === "json") {
    const body = { valid: errors.length === 0, objects: load.objects.length, errors: errors.map(viewOf), warnings: warnings.map(viewOf) };
    process.stdout.write(JSON.stringify(body, null, 2) + "\n");
  } else {
    for (const d of sorted) process.stdout.write(formatDiagnostic(d) + "\n");
    const summary = `${dirArg}: ${load.objects.length} object(s), ${errors.length} error(s), ${warnings.length} warning(s)`;
    process.stdout.write((errors.length === 0 ? `ok: ${summary}` : `invalid: ${summary}`) + "\n");
  }
  return errors.length === 0 ? 0 : 1;
}
