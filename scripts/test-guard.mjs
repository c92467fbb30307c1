// Preloaded into every test process by scripts/run-tests.mjs. With --test-force-exit a test process
// exits as soon as the tests registered so far have finished; tests a file registers later (after
// a top-level await) would then vanish without a failure. Loading the entry here (the same module
// instance: ESM caches by URL) tells us whether the file finished loading before the exit.
import { pathToFileURL } from "node:url";

const entry = process.argv[1];
if (entry && /\.test\.[cm]?[jt]s$/.test(entry)) {
  let loaded = false;
  const done = () => {
    loaded = true;
  };
  import(pathToFileURL(entry).href).then(done, done);
  process.on("exit", () => {
    if (loaded) return;
    process.stderr.write(`\n${entry}: the test process exited before this file finished loading; tests it registers after that point never ran\n`);
    process.exitCode = 1;
  });
}
