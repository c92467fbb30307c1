// sluice command line: dispatches to the commands; usage errors exit 2 with the command's help.
import { readFileSync } from "node:fs";
import { UsageError } from "./args.js";
import { parse } from "./args.js";
import { TOP_USAGE, VERSION_USAGE } from "./usage.js";

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string };
  return pkg.version ?? "unknown";
}

async function versionCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { help: { type: "boolean", short: "h" } }, VERSION_USAGE, 0);
  if (values.help) process.stdout.write(VERSION_USAGE);
  else process.stdout.write(`sluice ${packageVersion()} (node ${process.version})\n`);
  return 0;
}

// Loaded on demand: `sluice status` or `--help` need not load the gateway.
const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: async (argv) => (await import("./run.js")).runCommand(argv),
  validate: async (argv) => (await import("./validate.js")).validateCommand(argv),
  status: async (argv) => (await import("./status.js")).statusCommand(argv),
  doctor: async (argv) => (await import("./doctor.js")).doctorCommand(argv),
  observe: async (argv) => (await import("./observe.js")).observeCommand(argv),
  version: versionCommand,
};

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      process.stderr.write(TOP_USAGE);
      return 2;
    }
    if (first === "-h" || first === "--help" || first === "help") {
      process.stdout.write(TOP_USAGE);
      return 0;
    }
    if (first === "-v" || first === "--version") return await versionCommand([]);
    const cmd = COMMANDS[first];
    if (!cmd) throw new UsageError(first.startsWith("-") ? `unknown option "${first}"` : `unknown command "${first}"`, TOP_USAGE);
    return await cmd(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`sluice: ${err.message}\n\n${err.usage}`);
      return 2;
    }
    process.stderr.write(`sluice: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // `run` leaves nothing behind once stopped; the others have nothing pending. Exit explicitly so
    // a stray handle (e.g. a keep-alive socket) cannot keep the process alive.
    process.exit(code);
  },
  (err: unknown) => {
    process.stderr.write(`sluice: ${String(err)}\n`);
    process.exit(1);
  },
);
