// Fire-and-forget request copies: the response is discarded and failures are ignored.
import type { Dispatcher } from "undici";
import { toHeaderObject } from "../headers.js";
import type { ClusterRuntime } from "./cluster.js";

/** Stateless, so one instance serves every mirrored request. */
const DISCARD: Dispatcher.DispatchHandler = {
  onConnect() {},
  onHeaders() {
    return true;
  },
  onData() {
    return true;
  },
  onComplete() {},
  onError() {},
};

function ignore(): void {}

export function sendMirror(cluster: ClusterRuntime, method: string, path: string, headers: string[], body: Buffer | null): void {
  const ep = cluster.pick();
  if (ep === null || ep.closed) return;
  try {
    if (cluster.protocol === "h2c") {
      const obj = toHeaderObject(headers);
      const authority = (obj["host"] as string | undefined) ?? ep.label;
      delete obj["host"];
      const s = ep.h2().request({ ...obj, ":method": method, ":path": path, ":authority": authority }, { endStream: body === null });
      s.on("error", ignore);
      s.resume();
      if (body !== null) s.end(body);
      return;
    }
    ep.h1().dispatch({ path, method, headers, body }, DISCARD);
  } catch {
    // A mirror never affects the main request.
  }
}
