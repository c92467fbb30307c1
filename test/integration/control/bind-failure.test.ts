// A listener whose port cannot be bound is not Programmed, and /ready says why.
import { test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { CLASS_AND_GATEWAY, json, until } from "./fixtures.js";

interface Cond {
  type: string;
  status: string;
  reason: string;
  message: string;
}

test("a port already in use: the listener and the Gateway are Programmed False with the bind error", async () => {
  const port = await freePort();
  const squatter = net.createServer();
  await new Promise<void>((r) => squatter.listen(port, "127.0.0.1", r));
  const gw = await GatewayProcess.start({ waitReady: false, files: { "gw.yaml": CLASS_AND_GATEWAY(port) } });
  try {
    const ready = await until("/ready to report the failed listener", 10_000, async () => {
      const r = await json<{ ready: boolean; reason?: string }>(gw.admin("/ready"));
      return r.body.reason?.includes("listeners failed") ? r : null;
    });
    assert.equal(ready.status, 503);
    assert.match(ready.body.reason ?? "", new RegExp(`port ${port}: .*EADDRINUSE`));
    const list = (await json<{ items: { kind: string; status?: { conditions: Cond[]; listeners: { name: string; conditions: Cond[] }[] } }[] }>(gw.admin("/status"))).body;
    const g = list.items.find((i) => i.kind === "Gateway");
    const lp = g?.status?.listeners[0]?.conditions.find((c) => c.type === "Programmed");
    assert.deepEqual([lp?.status, lp?.reason], ["False", "Invalid"]);
    assert.match(lp?.message ?? "", new RegExp(`port ${port} could not be bound: .*EADDRINUSE`));
    const gp = g?.status?.conditions.find((c) => c.type === "Programmed");
    assert.equal(gp?.status, "False");
    // The listener is still Accepted: the configuration is fine, the host is not.
    assert.equal(g?.status?.listeners[0]?.conditions.find((c) => c.type === "Accepted")?.status, "True");
  } finally {
    await gw.stop();
    await new Promise((r) => squatter.close(r));
  }
});
