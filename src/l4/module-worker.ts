// Starts a worker thread on a module beside the caller: the compiled .js in dist/, or the .ts
// source when the caller itself runs from source under tsx (the tests). Worker threads of Node 20
// do not get the loader `--import tsx` registered on the main thread, so such a thread registers
// tsx itself before it imports the module.
import { Worker, type WorkerOptions } from "node:worker_threads";

export function moduleWorker(callerUrl: string, name: string, options: WorkerOptions): Worker {
  const fromSource = callerUrl.endsWith(".ts");
  const url = new URL(`./${name}${fromSource ? ".ts" : ".js"}`, callerUrl);
  if (!fromSource) return new Worker(url, options);
  const tsx = JSON.stringify(import.meta.resolve("tsx/esm/api"));
  return new Worker(`import(${tsx}).then((t) => t.register()).then(() => import(${JSON.stringify(url.href)}));`, { ...options, eval: true });
}
