// The infra-backend-v3 "pod": the echo server, which can also simulate a backend that fails the
// first N attempts of a request (identified by its `uuid` query parameter), as the retry cases
// need. Query parameters (all optional):
//   uuid=<id>            groups attempts; without it every request succeeds
//   succeedAfter=N       the first N attempts fail, later ones succeed
//   responseCode=500     how an attempt fails; without it the connection is reset
//   delayRetry=300ms     failing attempts wait this long before failing
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";

const MAX_IDS = 10_000;

function parseDuration(s: string | null): number {
  if (!s) return 0;
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(s.trim());
  if (!m) return 0;
  return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
}

export async function startRetryBackend(ident: { namespace: string; pod: string; service: string }): Promise<EchoServer> {
  const attempts = new Map<string, number>();
  return startEchoServer({
    ...ident,
    intercept: (rec, req, res) => {
      const q = new URL(rec.path, "http://x").searchParams;
      const id = q.get("uuid");
      if (id === null) return false;
      const n = (attempts.get(id) ?? 0) + 1;
      attempts.set(id, n);
      if (attempts.size > MAX_IDS) attempts.delete(attempts.keys().next().value as string);
      const succeedAfter = Number(q.get("succeedAfter") ?? 0) || 0;
      if (n > succeedAfter) return false;
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
      return true;
    },
  });
}
