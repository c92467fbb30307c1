// Preloaded into every test process by scripts/run-tests.mjs.
//
// 1. Ending the process. The runner's --test-force-exit loses verdicts: the process exits while the
//    results of its last tests are still on their way to the parent, which then reports fewer tests
//    and still passes (seen here: the last five golden cases vanished from one CI run; upstream:
//    nodejs/node#64833). Instead, once every test of the file has finished, a process that a test
//    left holding a handle (a server, a socket) gets LINGER_MS to send its results the normal way,
//    then exits with the exit code the runner set. A process with nothing open exits by itself.
// 2. A process that exits before its file finished loading (tests registered after a top-level
//    await would never run) fails the run. Loading the entry here (the same module instance: ESM
//    caches by URL) tells whether the file finished loading before the exit.
import { after } from "node:test";
import { pathToFileURL } from "node:url";

const LINGER_MS = 3000;

const entry = process.argv[1];
if (entry && /\.test\.[cm]?[jt]s$/.test(entry)) {
  let loaded = false;
  const done = () => {
    loaded = true;
    // Registered once the file has loaded, so it runs after the file's own root `after` hooks
    // (stopping gateways can take seconds): the grace period starts when clean-up is over.
    after(() => {
      setTimeout(() => {
        const open = process.getActiveResourcesInfo().filter((r) => r !== "Timeout");
        process.stderr.write(`\n${entry}: something was still open ${LINGER_MS} ms after its last test (${open.join(", ")}); exiting\n`);
        process.exit();
      }, LINGER_MS).unref();
    });
  };
  import(pathToFileURL(entry).href).then(done, done);
  process.on("exit", () => {
    if (loaded) return;
    process.stderr.write(`\n${entry}: the test process exited before this file finished loading; tests it registers after that point never ran\n`);
    process.exitCode = 1;
  });
}
