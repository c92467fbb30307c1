// The hangup watcher's thread (started by hangup-watch.ts): waits on the watcher's epoll set and
// posts the registration ids that fired to the main thread, until the stop id fires.
import { parentPort, workerData } from "node:worker_threads";
import { EPOLL_DATA_OFFSET, EPOLL_EVENT_SIZE, EINTR, libc } from "../sys/libc.js";

export interface HangupWorkerData {
  epfd: number;
  /** Registration id that means "stop". */
  stop: number;
}

const { epfd, stop } = workerData as HangupWorkerData;
const c = libc();
const buf = Buffer.alloc(EPOLL_EVENT_SIZE * 64);
for (;;) {
  const n = c.epoll_wait(epfd, buf, 64, -1);
  if (n < 0) {
    if (c.errno() === EINTR) continue;
    break;
  }
  const ids: number[] = [];
  let quit = false;
  for (let i = 0; i < n; i++) {
    const id = Number(buf.readBigUInt64LE(i * EPOLL_EVENT_SIZE + EPOLL_DATA_OFFSET));
    if (id === stop) quit = true;
    else ids.push(id);
  }
  if (ids.length > 0) parentPort!.postMessage(ids);
  if (quit) break;
}
