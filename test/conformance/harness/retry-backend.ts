// The infra-backend-v3 "pod": answers like the echo server, and can also simulate a backend that
// fails the first N attempts of a request (identified by its `uuid` query parameter), which the
// retry cases need. Query parameters (all optional):
//   uuid=<id>            groups attempts; without it every request succeeds
//   succeedAfter=N       the first N attempts fail, later ones succeed
//   responseCode=500     how an attempt fails; without it the connection is reset
//   delayRetry=300ms     failing attempts wait this long before failing
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { EchoRequest, EchoResponse, EchoServer } from "../../../src/demo/echo-server.js";

const MAX_IDS = 10_000;

function headerMap(raw: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (let i = 0; i < raw.length; i += 2) (out[raw[i]!.toLowerCase()] ??= []).push(raw[i + 1]!);
  return out;
}

function parseDuration(s: string | null): number {
  if (!s) return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(s.trim());
  if (!m) return 0;
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

export async function startRetryBackend(ident: { namespace: string; pod: string; service: string }): Promise<EchoServer> {
  const requests: EchoRequest[] = [];
  const attempts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const rec: EchoRequest = {
        method: req.method ?? "",
        path: req.url ?? "",
        host: req.headers.host ?? "",
        proto: `HTTP/${req.httpVersion}`,
        headers: headerMap(req.rawHeaders),
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(rec);
      if (requests.length > MAX_IDS) requests.shift();
      const q = new URL(rec.path, "http://x").searchParams;
      const id = q.get("uuid");
      if (id !== null) {
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        if (attempts.size > MAX_IDS) attempts.delete(attempts.keys().next().value as string);
        const succeedAfter = Number(q.get("succeedAfter") ?? 0) || 0;
        if (n <= succeedAfter) {
          const code = Number(q.get("responseCode") ?? 0) || 0;
          const fail = (): void => {
            if (code > 0) {
              res.writeHead(code, { "content-type": "text/plain" });
              res.end(`simulated failure ${n}/${succeedAfter}`);
            } else {
              req.socket.resetAndDestroy();
            }
          };
          const delay = parseDuration(q.get("delayRetry"));
          if (delay > 0) setTimeout(fail, delay);
          else fail();
          return;
        }
      }
      const first = (n: string): string | undefined => rec.headers[n]?.[0];
      const headers: Record<string, string> = { "content-type": "application/json" };
      for (const pair of (first("x-echo-set-header") ?? "").split(",")) {
        const i = pair.indexOf(":");
        if (i > 0) headers[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
      }
      const body: EchoResponse = { ...rec, ...ident };
      const status = Number(first("x-echo-status") ?? 200) || 200;
      const delay = Math.min(Number(first("x-echo-delay-ms") ?? 0) || 0, 60_000);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, headers);
        res.end(JSON.stringify(body));
      };
      if (delay > 0) setTimeout(send, delay);
      else send();
    });
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const addr = server.address() as AddressInfo;
  return {
    port: addr.port,
    host: addr.address,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
