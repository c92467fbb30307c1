// `sluice observe`: prints a running gateway's flow stream (GET /flows on its admin server).
// The filter flags are checked here with the same parser the server uses, then sent as query
// parameters: the server does the filtering.
import http from "node:http";
import { createInterface } from "node:readline";
import { filterToQuery, parseFlowFilter } from "../observe/flow-filter.js";
import { formatFlow, type FlowLost, type FlowRecord } from "../observe/flow-record.js";
import { intOption, parse, str, UsageError } from "./args.js";
import { OBSERVE_USAGE } from "./usage.js";

const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : typeof v === "string" ? [v] : []);

export async function observeCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      admin: { type: "string" },
      from: { type: "string", multiple: true },
      to: { type: "string", multiple: true },
      verdict: { type: "string", multiple: true },
      port: { type: "string", multiple: true },
      protocol: { type: "string", multiple: true },
      last: { type: "string" },
      "no-follow": { type: "boolean" },
      output: { type: "string", short: "o" },
      help: { type: "boolean", short: "h" },
    },
    OBSERVE_USAGE,
    0,
  );
  if (values.help) {
    process.stdout.write(OBSERVE_USAGE);
    return 0;
  }
  const output = str(values.output) ?? "text";
  if (output !== "text" && output !== "json") throw new UsageError(`--output must be text or json, got "${output}"`, OBSERVE_USAGE);
  const v = values as Record<string, unknown>;
  const parsed = parseFlowFilter({ from: list(v.from), to: list(v.to), verdict: list(v.verdict), port: list(v.port), protocol: list(v.protocol) });
  if ("errors" in parsed) throw new UsageError(parsed.errors.join("; "), OBSERVE_USAGE);
  const follow = values["no-follow"] !== true;
  const last = intOption(values.last, "last", OBSERVE_USAGE, 0, 10_000);
  const q = filterToQuery(parsed.spec);
  if (follow) q.set("follow", "1");
  if (last !== undefined) q.set("last", String(last));
  const base = (str(values.admin) ?? "http://127.0.0.1:9901").replace(/\/+$/, "");
  const url = `${base}/flows?${q.toString()}`;
  return stream(url, base, output === "json", follow);
}

function stream(url: string, base: string, json: boolean, follow: boolean): Promise<number> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (code: number): void => {
      if (done) return;
      done = true;
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(code);
    };
    const req = http.get(url, (res) => {
      if (res.statusCode !== 200) {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          process.stderr.write(`sluice observe: ${base} answered ${res.statusCode}: ${body.trim()}\n`);
          finish(res.statusCode === 400 ? 2 : 1);
        });
        return;
      }
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      lines.on("line", (line) => {
        if (!line) return;
        let item: FlowRecord | FlowLost;
        try {
          item = JSON.parse(line) as FlowRecord | FlowLost;
        } catch {
          return;
        }
        if (item.type === "lost") {
          process.stderr.write(`sluice observe: ${item.count} flow(s) lost (${item.where})\n`);
          return;
        }
        process.stdout.write(json ? line + "\n" : formatFlow(item) + "\n");
      });
      res.on("end", () => {
        // A followed stream only ends when the gateway goes away.
        if (follow && !done) process.stderr.write("sluice observe: the gateway closed the stream\n");
        finish(follow ? 1 : 0);
      });
      res.on("error", () => finish(1));
    });
    req.on("error", (err) => {
      process.stderr.write(`sluice observe: cannot query ${base}: ${err.message}\n`);
      finish(1);
    });
    const onSignal = (): void => {
      finish(0);
      req.destroy();
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });
}
