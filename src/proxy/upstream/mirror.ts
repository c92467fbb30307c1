// Fire-and-forget request copies: the response is discarded and failures are ignored.
import { PassThrough, type Readable } from "node:stream";
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

/** A mirror copy may lag this far behind the main request before it is dropped. */
const MIRROR_LAG_BYTES = 1024 * 1024;

export function sendMirror(cluster: ClusterRuntime, method: string, path: string, headers: string[], body: Buffer | Readable | null): void {
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
      if (Buffer.isBuffer(body)) s.end(body);
      else if (body !== null) body.pipe(s);
      return;
    }
    ep.h1().dispatch({ path, method, headers, body }, DISCARD);
  } catch {
    // A mirror never affects the main request.
  }
}

/**
 * Streams a request body that is too large (or too unknown) to buffer to the backend and to each
 * mirror. The backend's pace drives the client's; a mirror that falls MIRROR_LAG_BYTES behind is
 * dropped, so a slow mirror can never slow or fail the main request. Returns the backend's body.
 */
export function teeToMirrors(body: Readable, clusters: ClusterRuntime[], method: string, path: string, headers: string[]): Readable {
  const main = new PassThrough();
  const copies = clusters.map((c) => {
    const copy = new PassThrough({ highWaterMark: MIRROR_LAG_BYTES });
    copy.on("error", ignore);
    sendMirror(c, method, path, headers.slice(), copy);
    return copy;
  });
  const resume = (): void => void body.resume();
  body.on("data", (chunk: Buffer) => {
    for (const copy of copies) if (!copy.destroyed && !copy.write(chunk)) copy.destroy();
    if (!main.write(chunk)) {
      body.pause();
      main.once("drain", resume);
    }
  });
  body.on("end", () => {
    for (const copy of copies) if (!copy.destroyed) copy.end();
    main.end();
  });
  body.on("error", (err: Error) => {
    for (const copy of copies) copy.destroy();
    main.destroy(err);
  });
  // The client went away before the body ended: nobody gets a truncated body as if it were whole.
  body.on("close", () => {
    if (body.readableEnded) return;
    for (const copy of copies) copy.destroy();
    if (!main.writableEnded) main.destroy(new Error("request body aborted"));
  });
  return main;
}
