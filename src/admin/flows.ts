// GET /flows: the flow stream as NDJSON (one JSON record a line).
//   /flows?last=N              the N most recent matching flows (default 100), then the response ends
//   /flows?follow=1[&last=N]   the N most recent (default 0), then live flows until the client leaves
//   filters (repeatable, see src/observe/flow-filter.ts): from, to, verdict, port, protocol
// A follower that reads slower than flows arrive is not waited for: records are dropped while its
// socket is backed up, and a {"type":"lost"} line says how many once it drains.
// GET /flows/status: subscribers, ring use and lost-record counters.
import type http from "node:http";
import { filterFromQuery } from "../observe/flow-filter.js";
import type { FlowHub } from "../observe/flow-hub.js";
import type { FlowLost, FlowRecord } from "../observe/flow-record.js";

export const MAX_LAST = 10_000;

export async function handleFlows(hub: FlowHub, url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (url.pathname === "/flows/status") {
    const body = JSON.stringify(hub.stats(), null, 2) + "\n";
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
    res.end(req.method === "HEAD" ? undefined : body);
    return;
  }
  const q = url.searchParams;
  const parsed = filterFromQuery(q);
  const follow = ["1", "true", "yes"].includes((q.get("follow") ?? "").toLowerCase());
  const lastText = q.get("last");
  const problems = "errors" in parsed ? [...parsed.errors] : [];
  if (lastText !== null && (!/^\d+$/.test(lastText) || Number(lastText) > MAX_LAST)) problems.push(`last: "${lastText}" is not a count (expected 0..${MAX_LAST})`);
  if (problems.length > 0 || "errors" in parsed) {
    const body = problems.join("\n") + "\n";
    res.writeHead(400, { "content-type": "text/plain; charset=utf-8", "content-length": Buffer.byteLength(body) });
    res.end(body);
    return;
  }
  const last = lastText !== null ? Number(lastText) : follow ? 0 : 100;
  res.writeHead(200, { "content-type": "application/x-ndjson", "cache-control": "no-store", "x-content-type-options": "nosniff" });
  if (req.method === "HEAD") {
    res.end();
    return;
  }
  // Subscribe before reading the history so nothing falls between the two (a record can then
  // appear in both: it is skipped from the live part when it was already sent).
  const live: FlowRecord[] = [];
  let streaming = false;
  let paused = false;
  let dropped = 0;
  const write = (item: FlowRecord | FlowLost, line = JSON.stringify(item) + "\n"): void => {
    if (paused) {
      if (item.type !== "lost") dropped++;
      return;
    }
    if (!res.write(line)) paused = true;
  };
  const unsubscribe = follow
    ? hub.subscribe(parsed.spec, (item) => {
        if (streaming) write(item);
        else if (item.type !== "lost") live.push(item);
      })
    : () => {};
  res.on("close", unsubscribe);
  res.on("drain", () => {
    paused = false;
    if (dropped > 0) {
      const n = dropped;
      dropped = 0;
      write({ type: "lost", time: new Date().toISOString(), count: n, where: "slow reader" });
    }
  });
  if (follow) res.flushHeaders(); // the client knows it is connected before the first flow
  const history = await hub.recent(last, parsed.spec);
  const sent = new Set<string>();
  for (const r of history) {
    const line = JSON.stringify(r) + "\n";
    sent.add(line);
    write(r, line);
  }
  if (!follow) {
    res.end();
    return;
  }
  for (const r of live) {
    const line = JSON.stringify(r) + "\n";
    if (!sent.has(line)) write(r, line);
  }
  streaming = true;
}
