// Listeners bind every address (IPv4 and IPv6) by default, as a Gateway's address would;
// --listen-address restricts them.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { BACKEND, CLASS_AND_GATEWAY, ROUTE } from "./fixtures.js";

function getVia(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: "/", agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.setTimeout(3000, () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

async function withGateway(listenAddress: string | null, fn: (port: number) => Promise<void>): Promise<void> {
  const echo = await startEchoServer({ pod: "echo-a" });
  const port = await freePort();
  const gw = await GatewayProcess.start({
    listenAddress,
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "b.yaml": BACKEND("echo-a", echo.port),
      "r.yaml": ROUTE({ name: "r", path: "/", backends: [{ name: "echo-a", port: echo.port }] }),
    },
  });
  try {
    await fn(port);
  } finally {
    await gw.stop();
    await echo.close();
  }
}

test("by default a listener answers on 127.0.0.1 and on ::1", async () => {
  await withGateway(null, async (port) => {
    assert.equal(await getVia("127.0.0.1", port), 200);
    assert.equal(await getVia("::1", port), 200);
  });
});

test("--listen-address 127.0.0.1 answers there and not on ::1", async () => {
  await withGateway("127.0.0.1", async (port) => {
    assert.equal(await getVia("127.0.0.1", port), 200);
    await assert.rejects(getVia("::1", port), /ECONNREFUSED/);
  });
});
