import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileProvider } from "../../../src/providers/file/index.js";
import type { LoadResult } from "../../../src/resources/index.js";

const svc = (name: string, port: number, labels = ""): string =>
  `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\n${labels ? `  labels: {${labels}}\n` : ""}spec:\n  ports: [{port: ${port}}]\n`;

interface Harness {
  dir: string;
  loads: LoadResult[];
  provider: FileProvider;
  waitLoads(n: number, ms?: number): Promise<void>;
  settle(ms?: number): Promise<void>;
  done(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function harness(files: Record<string, string>, opts: { poll?: boolean; missingGraceMs?: number; defaultDebounce?: boolean; debounceMs?: number } = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-fp-"));
  for (const [p, c] of Object.entries(files)) {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), c);
  }
  const loads: LoadResult[] = [];
  const provider = new FileProvider(dir, { debounceMs: opts.defaultDebounce ? undefined : (opts.debounceMs ?? 40), pollIntervalMs: 50, missingGraceMs: opts.missingGraceMs ?? 2000, poll: opts.poll });
  await provider.start((r) => loads.push(r));
  return {
    dir,
    loads,
    provider,
    async waitLoads(n, ms = 3000) {
      const end = Date.now() + ms;
      while (loads.length < n && Date.now() < end) await sleep(10);
      assert.ok(loads.length >= n, `expected ${n} loads, got ${loads.length}`);
    },
    settle: (ms = 250) => sleep(ms),
    async done() {
      await provider.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function find(r: LoadResult, name: string) {
  return r.objects.find((o) => o.object.kind === "Service" && o.object.metadata.name === name)?.object;
}

test("initial load is delivered before start() resolves, with API-server metadata", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) });
  try {
    assert.equal(h.loads.length, 1);
    const a = find(h.loads[0], "a");
    assert.equal(a?.metadata.generation, 1);
    assert.match(a?.metadata.uid ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.ok(!Number.isNaN(Date.parse(a?.metadata.creationTimestamp ?? "")));
    assert.equal(h.provider.watching, true, "recursive fs.watch works on this platform");
  } finally {
    await h.done();
  }
});

test("a spec change reloads with a bumped generation; metadata-only changes do not bump it", async () => {
  const h = await harness({ "a.yaml": svc("a", 80), "b.yaml": svc("b", 80) });
  try {
    const first = find(h.loads[0], "a");
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 81));
    await h.waitLoads(2);
    const a2 = find(h.loads[1], "a");
    assert.equal(a2?.metadata.generation, 2);
    assert.equal(a2?.metadata.uid, first?.metadata.uid);
    assert.equal(a2?.metadata.creationTimestamp, first?.metadata.creationTimestamp);
    assert.equal(find(h.loads[1], "b")?.metadata.generation, 1, "untouched object keeps its generation");
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 81, "team: x"));
    await h.waitLoads(3);
    assert.equal(find(h.loads[2], "a")?.metadata.generation, 2);
    assert.deepEqual(find(h.loads[2], "a")?.metadata.labels, { team: "x" });
  } finally {
    await h.done();
  }
});

test("editor-style write-then-rename is picked up", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) });
  try {
    writeFileSync(join(h.dir, ".a.yaml.swp"), svc("a", 90));
    renameSync(join(h.dir, ".a.yaml.swp"), join(h.dir, "a.yaml"));
    await h.waitLoads(2);
    assert.equal((find(h.loads[1], "a")?.spec as { ports: { port: number }[] }).ports[0].port, 90);
    // and the replaced file is still watched afterwards
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 91));
    await h.waitLoads(3);
    assert.equal((find(h.loads[2], "a")?.spec as { ports: { port: number }[] }).ports[0].port, 91);
  } finally {
    await h.done();
  }
});

test("deleting a file removes its objects; a new subfolder's files appear", async () => {
  const h = await harness({ "a.yaml": svc("a", 80), "b.yaml": svc("b", 80) });
  try {
    unlinkSync(join(h.dir, "b.yaml"));
    await h.waitLoads(2);
    assert.equal(find(h.loads[1], "b"), undefined);
    mkdirSync(join(h.dir, "team", "deep"), { recursive: true });
    writeFileSync(join(h.dir, "team", "deep", "c.yaml"), svc("c", 80));
    await h.waitLoads(3);
    assert.ok(find(h.loads[h.loads.length - 1], "c"));
    writeFileSync(join(h.dir, "team", "deep", "c.yaml"), svc("c", 81));
    await h.waitLoads(h.loads.length + 1);
    assert.equal(find(h.loads[h.loads.length - 1], "c")?.metadata.generation, 2, "files in new subfolders are watched");
  } finally {
    await h.done();
  }
});

for (const defaultDebounce of [false, true]) test(`a burst of writes produces one reload with the final content (${defaultDebounce ? "default" : "40 ms"} debounce)`, async () => {
  const h = await harness({ "a.yaml": svc("a", 80) }, { defaultDebounce });
  try {
    for (let i = 1; i <= 10; i++) {
      writeFileSync(join(h.dir, "a.yaml"), svc("a", 1000 + i));
      await sleep(3);
    }
    await h.waitLoads(2);
    await h.settle(300);
    assert.equal(h.loads.length, 2);
    assert.equal((find(h.loads[1], "a")?.spec as { ports: { port: number }[] }).ports[0].port, 1010);
  } finally {
    await h.done();
  }
});

test("unchanged content (touch, unrelated file) does not reload", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) });
  try {
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 80));
    writeFileSync(join(h.dir, "notes.txt"), "hello");
    await h.settle(300);
    assert.equal(h.loads.length, 1);
  } finally {
    await h.done();
  }
});

test("the folder briefly missing (swapped by a deploy) is survived and re-watched", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) });
  try {
    const staging = h.dir + ".new";
    mkdirSync(staging);
    writeFileSync(join(staging, "a.yaml"), svc("a", 82));
    rmSync(h.dir, { recursive: true });
    await sleep(100);
    renameSync(staging, h.dir);
    await h.waitLoads(2);
    const last = h.loads[h.loads.length - 1];
    assert.equal(last.diagnostics.length, 0, "no error was reported for the short gap");
    assert.equal((find(last, "a")?.spec as { ports: { port: number }[] }).ports[0].port, 82);
    const n = h.loads.length;
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 83));
    await h.waitLoads(n + 1);
    assert.equal((find(h.loads[h.loads.length - 1], "a")?.spec as { ports: { port: number }[] }).ports[0].port, 83);
  } finally {
    await h.done();
  }
});

test("invalid files are reported and valid ones still load", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) });
  try {
    writeFileSync(join(h.dir, "bad.yaml"), "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec:\n  ports: [{port: 99999}]\n");
    await h.waitLoads(2);
    const d = h.loads[1].diagnostics.find((x) => x.severity === "error");
    assert.equal(d?.source?.file, join(h.dir, "bad.yaml"));
    assert.equal(d?.field, "spec.ports[0].port");
    assert.ok(find(h.loads[1], "a"));
  } finally {
    await h.done();
  }
});

test("the polling fallback sees changes too", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) }, { poll: true });
  try {
    assert.equal(h.provider.watching, false);
    await sleep(80);
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 85));
    await h.waitLoads(2);
    assert.equal(find(h.loads[1], "a")?.metadata.generation, 2);
  } finally {
    await h.done();
  }
});

test("stop() leaves no watcher or timer behind", async () => {
  const count = () => process.getActiveResourcesInfo().filter((r) => r === "FSEventWrap" || r === "Timeout").length;
  const before = count();
  const h = await harness({ "a.yaml": svc("a", 80), "sub/b.yaml": svc("b", 80) });
  assert.ok(count() > before, "watchers are active while running");
  await h.provider.stop();
  assert.equal(count(), before);
  writeFileSync(join(h.dir, "a.yaml"), svc("a", 99));
  await sleep(200);
  assert.equal(h.loads.length, 1, "no reload after stop");
  rmSync(h.dir, { recursive: true, force: true });
});

test("a folder that stays away is reported as an error load, and recovers when it returns", async () => {
  const h = await harness({ "a.yaml": svc("a", 80) }, { missingGraceMs: 150 });
  try {
    rmSync(h.dir, { recursive: true });
    await h.waitLoads(2);
    assert.equal(h.loads[1].objects.length, 0);
    assert.match(h.loads[1].diagnostics[0].message, /cannot read the configuration folder/);
    assert.equal(h.loads[1].diagnostics[0].severity, "error");
    mkdirSync(h.dir);
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 80));
    await h.waitLoads(3);
    assert.deepEqual(h.loads[2].diagnostics, []);
    assert.equal(find(h.loads[2], "a")?.metadata.generation, 1, "a re-created object starts again at generation 1");
    assert.notEqual(find(h.loads[2], "a")?.metadata.uid, find(h.loads[0], "a")?.metadata.uid);
  } finally {
    await h.done();
  }
});

test("a burst that only renamed complete files into place reloads without the full debounce; writes in place and empty new files wait for it", async () => {
  // A long debounce, so "before the debounce" and "after it" are far apart on a busy machine.
  const h = await harness({ "a.yaml": svc("a", 80) }, { debounceMs: 1500 });
  try {
    const port = (r: LoadResult, name: string): number | undefined => (find(r, name)?.spec as { ports: { port: number }[] } | undefined)?.ports[0]?.port;
    const t0 = Date.now();
    writeFileSync(join(h.dir, "b.yaml.tmp"), svc("b", 81));
    renameSync(join(h.dir, "b.yaml.tmp"), join(h.dir, "b.yaml"));
    await h.waitLoads(2, 1200);
    assert.ok(Date.now() - t0 < 1200, "write-then-rename loaded before the debounce");
    assert.equal(port(h.loads[1]!, "b"), 81);
    // A delete is complete too.
    unlinkSync(join(h.dir, "b.yaml"));
    await h.waitLoads(3, 1200);
    assert.equal(find(h.loads[2]!, "b"), undefined);
    // In place: the file may be half-written when the first event comes, so the full debounce applies.
    writeFileSync(join(h.dir, "a.yaml"), svc("a", 82));
    await sleep(700);
    assert.equal(h.loads.length, 3, "an in-place write waits for the debounce");
    await h.waitLoads(4, 3000);
    assert.equal(port(h.loads[3]!, "a"), 82);
    // An empty file renamed into place (a writer that has not started): waits too.
    writeFileSync(join(h.dir, "c.yaml.tmp"), "");
    renameSync(join(h.dir, "c.yaml.tmp"), join(h.dir, "c.yaml"));
    await sleep(700);
    assert.equal(h.loads.length, 4, "an empty new file waits for the debounce");
    writeFileSync(join(h.dir, "c.yaml"), svc("c", 83));
    await h.waitLoads(5, 3000);
    assert.equal(port(h.loads[4]!, "c"), 83);
    await h.settle(300);
    assert.equal(h.loads.length, 5);
  } finally {
    await h.done();
  }
});

const httpRoute = (name: string, host: string): string =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: ${name}\nspec:\n  hostnames: ["${host}"]\n  rules:\n  - backendRefs: [{name: a, port: 80}]\n`;

test("rehearsal(): the last load with the smallest route file parsed anew, stamped without changing any generation or uid", async () => {
  const h = await harness({ "a.yaml": svc("a", 80), "big.yaml": `${httpRoute("r1", "one.test")}---\n${httpRoute("r2", "two.test")}`, "small.yaml": httpRoute("r0", "zero.test") });
  try {
    const last: LoadResult = h.loads[0]!;
    const r: LoadResult | null = h.provider.rehearsal();
    assert.ok(r, "a folder with a route file has a rehearsal");
    assert.equal(r.objects.length, last.objects.length);
    const fresh: string[] = [];
    for (let i = 0; i < last.objects.length; i++) {
      const was: LoadResult["objects"][number] = last.objects[i]!;
      const now: LoadResult["objects"][number] = r.objects[i]!;
      assert.deepEqual(now.object, was.object, "equal content, generation, uid and creationTimestamp");
      if (now !== was) fresh.push(now.object.metadata.name);
    }
    // Only small.yaml (the smallest file holding only routes) is parsed again: the others are the same objects.
    assert.deepEqual(fresh, ["r0"]);
    assert.notEqual(h.provider.rehearsal()!.objects.find((o) => o.object.metadata.name === "r0"), r.objects.find((o) => o.object.metadata.name === "r0"), "each rehearsal brings new objects");
    // A real change afterwards: untouched objects keep their generation, identity and uid.
    writeFileSync(join(h.dir, "small.yaml"), httpRoute("r0", "zero2.test"));
    await h.waitLoads(2);
    const after = h.loads[1];
    const r0 = after.objects.find((o) => o.object.metadata.name === "r0")!.object;
    const r0was = last.objects.find((o) => o.object.metadata.name === "r0")!.object;
    assert.equal(r0.metadata.generation, 2, "the real spec change bumps the generation once");
    assert.equal(r0.metadata.uid, r0was.metadata.uid);
    assert.equal(after.objects.find((o) => o.object.metadata.name === "r1"), last.objects.find((o) => o.object.metadata.name === "r1"), "unchanged objects stay the same objects");
  } finally {
    await h.done();
  }
});

test("rehearsal(): without a small file of routes only, the last load's own objects; null once stopped", async () => {
  // A routes-only file over 64 KiB is not parsed again (the parse takes one turn of the event loop).
  const many = Array.from({ length: 400 }, (_, i) => httpRoute(`m${i}`, `m${i}.many.test`)).join("---\n");
  assert.ok(many.length > 64 * 1024);
  const h = await harness({ "a.yaml": `${svc("a", 80)}---\n${httpRoute("r1", "one.test")}`, "many.yaml": many });
  try {
    const r: LoadResult | null = h.provider.rehearsal();
    assert.ok(r);
    assert.deepEqual(r.objects, h.loads[0]!.objects);
    r.objects.forEach((o, i) => assert.equal(o, h.loads[0]!.objects[i], "the same objects"));
  } finally {
    await h.done();
  }
  assert.equal(h.provider.rehearsal(), null);
});

test("onBusy: true from a watch event until the reload it caused is done, never for the initial load", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-fp-"));
  writeFileSync(join(dir, "a.yaml"), svc("a", 80));
  const busy: boolean[] = [];
  const loads: LoadResult[] = [];
  const provider = new FileProvider(dir, { debounceMs: 40, onBusy: (b) => busy.push(b) });
  try {
    await provider.start((r) => {
      // A load is handed on while the provider still says busy.
      assert.equal(busy.at(-1) ?? false, loads.length > 0);
      loads.push(r);
    });
    assert.deepEqual(busy, []);
    writeFileSync(join(dir, "b.yaml.tmp"), svc("b", 81));
    renameSync(join(dir, "b.yaml.tmp"), join(dir, "b.yaml"));
    const end = Date.now() + 3000;
    while ((loads.length < 2 || busy.at(-1) !== false) && Date.now() < end) await sleep(5);
    assert.equal(loads.length, 2);
    assert.deepEqual(busy, [true, false]);
    // An unrelated file: busy while it is looked at, no load.
    writeFileSync(join(dir, "notes.txt"), "hello");
    await sleep(300);
    assert.equal(loads.length, 2);
    assert.deepEqual(busy, [true, false, true, false]);
  } finally {
    await provider.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
