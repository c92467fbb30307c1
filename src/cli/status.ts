// `sluice status`
import { parse, str, UsageError } from "./args.js";
import { STATUS_USAGE } from "./usage.js";

interface Cond {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

interface Item {
  kind?: string;
  metadata?: { name?: string; namespace?: string };
  status?: Record<string, unknown>;
}

export async function statusCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    { admin: { type: "string" }, output: { type: "string", short: "o" }, help: { type: "boolean", short: "h" } },
    STATUS_USAGE,
    0,
  );
  if (values.help) {
    process.stdout.write(STATUS_USAGE);
    return 0;
  }
  const output = str(values.output) ?? "table";
  if (!["table", "yaml", "json"].includes(output)) throw new UsageError(`--output must be table, yaml or json, got "${output}"`, STATUS_USAGE);
  const base = (str(values.admin) ?? "http://127.0.0.1:9901").replace(/\/+$/, "");
  try {
    if (output === "yaml") {
      process.stdout.write(await get(`${base}/status?format=yaml`));
      return 0;
    }
    const text = await get(`${base}/status`);
    if (output === "json") {
      process.stdout.write(text.endsWith("\n") ? text : text + "\n");
      return 0;
    }
    const list = JSON.parse(text) as { items?: Item[] };
    process.stdout.write(table(list.items ?? []));
    // Errors in the folder are not part of any object's status: show them after the table.
    const dump = JSON.parse(await get(`${base}/config_dump`)) as { version?: number; diagnostics?: { errors?: { text: string }[]; warnings?: { text: string }[] } };
    const diags = [...(dump.diagnostics?.errors ?? []), ...(dump.diagnostics?.warnings ?? [])];
    process.stdout.write(`\nconfig version ${dump.version ?? 0}${diags.length ? `, ${diags.length} problem(s) in the folder:` : ", no problems in the folder"}\n`);
    for (const d of diags) process.stdout.write(`  ${d.text}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`sluice status: cannot query ${base}: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
}

async function get(url: string): Promise<string> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const text = await r.text();
  if (!r.ok) throw new Error(`HTTP ${r.status}: ${text.trim()}`);
  return text;
}

/** One row per condition; nested conditions (listeners, route parents) say where they belong. */
export function table(items: Item[]): string {
  const rows: string[][] = [["KIND", "NAMESPACE", "NAME", "SCOPE", "TYPE", "STATUS", "REASON", "MESSAGE"]];
  for (const it of items) {
    const lead = [it.kind ?? "", it.metadata?.namespace ?? "", it.metadata?.name ?? ""];
    const conds = collect(it.status ?? {});
    if (conds.length === 0) rows.push([...lead, "-", "-", "-", "-", ""]);
    for (const { scope, c } of conds) rows.push([...lead, scope, c.type ?? "", c.status ?? "", c.reason ?? "", oneLine(c.message ?? "")]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ").trimEnd()).join("\n") + "\n";
}

function collect(status: Record<string, unknown>): { scope: string; c: Cond }[] {
  const out: { scope: string; c: Cond }[] = [];
  for (const c of asArray(status.conditions)) out.push({ scope: "-", c: c as Cond });
  for (const l of asArray(status.listeners)) {
    const name = (l as { name?: string }).name ?? "?";
    for (const c of asArray((l as { conditions?: unknown }).conditions)) out.push({ scope: `listener ${name}`, c: c as Cond });
  }
  for (const p of asArray(status.parents)) {
    const ref = (p as { parentRef?: { kind?: string; namespace?: string; name?: string; sectionName?: string } }).parentRef ?? {};
    const scope = `parent ${ref.kind ?? "Gateway"} ${ref.namespace ? ref.namespace + "/" : ""}${ref.name ?? "?"}${ref.sectionName ? "/" + ref.sectionName : ""}`;
    for (const c of asArray((p as { conditions?: unknown }).conditions)) out.push({ scope, c: c as Cond });
  }
  return out;
}

function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function oneLine(s: string): string {
  const t = s.replace(/\s+/g, " ").trim();
  return t.length > 80 ? t.slice(0, 77) + "..." : t;
}
