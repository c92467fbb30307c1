// `sluice doctor`: what this kernel and these privileges allow for the eBPF data path.
import { resolve } from "node:path";
import { parse, str, UsageError } from "./args.js";
import { DOCTOR_USAGE } from "./usage.js";

export async function doctorCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { output: { type: "string", short: "o" }, bpffs: { type: "string" }, help: { type: "boolean", short: "h" } }, DOCTOR_USAGE, 0);
  if (values.help) {
    process.stdout.write(DOCTOR_USAGE);
    return 0;
  }
  const output = str(values.output) ?? "text";
  if (output !== "text" && output !== "json") throw new UsageError(`--output must be text or json, got "${output}"`, DOCTOR_USAGE);
  // Loaded here: koffi and libbpf are only needed by this command and the eBPF data path.
  const { runDoctor, formatDoctor } = await import("../ebpf/doctor.js");
  const report = runDoctor({ bpffs: resolve(str(values.bpffs) ?? "/sys/fs/bpf") });
  process.stdout.write(output === "json" ? JSON.stringify(report, null, 2) + "\n" : formatDoctor(report));
  return 0;
}
