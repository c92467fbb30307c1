import assert from "node:assert/strict";
import { test } from "node:test";
import WebSocket from "ws";
import { INFRA_NS } from "./harness/env.js";
import { conformance } from "./harness/suite.js";

const ns = INFRA_NS;

/** Opens a WebSocket through the gateway, sends a text and a binary message, returns the replies. */
async function roundTrip(port: number): Promise<{ text: string; binary: Buffer }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { origin: "ws://gateway/websocket", handshakeTimeout: 5000 });
  try {
    const replies: (string | Buffer)[] = [];
    const next = (): Promise<string | Buffer> =>
      new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("no reply within 5 s")), 5000);
        ws.once("message", (data: Buffer, isBinary: boolean) => {
          clearTimeout(t);
          resolve(isBinary ? data : data.toString("utf8"));
        });
        ws.once("error", reject);
      });
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: HTTP ${res.statusCode}`)));
    });
    ws.send("Websocket Support!");
    replies.push(await next());
    ws.send(Buffer.from([1, 2, 3, 4, 5, 6, 7]), { binary: true });
    replies.push(await next());
    return { text: String(replies[0]), binary: replies[1] as Buffer };
  } finally {
    ws.terminate();
  }
}

conformance(
  {
    name: "HTTPRouteBackendProtocolWebSocket",
    features: ["SupportHTTPRouteBackendProtocolWebSocket"],
    manifests: {
      "case.yaml": `
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: backend-protocol-ws, namespace: ${ns}}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  # Port 8082 of infra-backend-v1 has appProtocol kubernetes.io/ws.
  - backendRefs: [{name: infra-backend-v1, port: 8082}]
`,
    },
    accepted: [{ gateway: { namespace: ns, name: "same-namespace" }, routes: [{ namespace: ns, name: "backend-protocol-ws" }] }],
  },
  (ctx) => {
    test("websocket connection should reach backend", async () => {
      const { text, binary } = await roundTrip(ctx.env.port("same-namespace"));
      // Our echo backend prefixes text replies with its pod name.
      assert.match(text, /^infra-backend-v1-pod-\d: Websocket Support!$/);
      assert.deepEqual([...binary], [1, 2, 3, 4, 5, 6, 7]);
    });
  },
);
