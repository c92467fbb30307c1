import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { FolderLoader } from "../../../src/providers/file/folder-loader.js";
import { loadDirectory, type LoadResult } from "../../../src/resources/index.js";

const route = (name: string, ns: string | null, port: number): string =>
  `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ""}spec:\n  parentRefs: [{name: gw}]\n  rules: [{backendRefs: [{name: svc, port: ${port}}]}]\n`;
const nsObj = (name: string): string => `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels: {team: x}\n`;

/** What a load says, comparable with deepEqual (locate is a function: sampled on one field). */
function view(r: LoadResult): unknown {
  return { objects: r.objects.map((o) => [o.object, o.source, o.locate("metadata.name")]), diagnostics: r.diagnostics };
}

/** Deterministic pseudo-random numbers, so a failure repeats. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test("a load that re-reads only the named files equals a full loadDirectory through 80 random edits", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-fl-"));
  try {
    const rand = rng(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
    // Names collide on purpose (duplicates across files), some namespaces exist only implicitly.
    const paths = ["a.yaml", "b.yml", "a", "a/x.yaml", "a/y.json", "a-b.yaml", "z/deep/q.yaml", "n.yaml"];
    const names = ["r1", "r2", "r3", "r4"];
    const namespaces = [null, "team-a", "team-b"];
    const content = (): string => {
      if (rand() < 0.1) return "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec:\n  ports: [{port: 99999}]\n";
      if (rand() < 0.1) return nsObj(pick(["team-a", "team-b"]));
      const docs: string[] = [];
      const n = 1 + Math.floor(rand() * 3);
      for (let i = 0; i < n; i++) docs.push(route(pick(names), pick(namespaces), 80 + Math.floor(rand() * 3)));
      return docs.join("---\n");
    };
    writeFileSync(join(dir, "a.yaml"), content());
    const loader = new FolderLoader(dir);
    const touched: string[] = [];
    let walks = 0;
    const first = await loader.load(async () => void walks++);
    assert.deepEqual(view(first), view(await loadDirectory(dir)));
    let incremental = 0;
    for (let step = 0; step < 80; step++) {
      touched.length = 0;
      const p = pick(paths.filter((x) => x !== "a"));
      const full = join(dir, p);
      const op = rand();
      try {
        if (op < 0.5) {
          mkdirSync(dirname(full), { recursive: true });
          // Written to a temporary name and renamed into place, as editors and deploy tools do.
          writeFileSync(`${full}.tmp`, content());
          renameSync(`${full}.tmp`, full);
          touched.push(`${full}.tmp`, full);
        } else if (op < 0.65) {
          mkdirSync(dirname(full), { recursive: true });
          writeFileSync(full, content());
          touched.push(full);
        } else if (op < 0.85) {
          unlinkSync(full);
          touched.push(full);
        } else {
          writeFileSync(join(dir, "notes.txt"), String(step));
          touched.push(join(dir, "notes.txt"));
        }
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
      for (const t of touched) loader.touch(t);
      const got = await loader.load(async () => void walks++);
      if (!loader.stats.full) incremental++;
      assert.deepEqual(view(got), view(await loadDirectory(dir)), `step ${step}: ${p}`);
    }
    assert.ok(incremental > 40, `most edits were loaded without a walk (${incremental} of 80)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a named file is the only one read; an event it cannot place (new folder, no name) walks the tree", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-fl-"));
  try {
    for (let i = 0; i < 20; i++) writeFileSync(join(dir, `r${i}.yaml`), route(`r${i}`, null, 80));
    const loader = new FolderLoader(dir);
    let walks = 0;
    const walk = async (): Promise<void> => void walks++;
    const first = await loader.load(walk);
    assert.equal(walks, 1);
    assert.equal(loader.stats.filesRead, 20);
    writeFileSync(join(dir, "r3.yaml"), route("r3", null, 81));
    loader.touch(join(dir, "r3.yaml"));
    const second = await loader.load(walk);
    assert.deepEqual({ walks, read: loader.stats.filesRead }, { walks: 1, read: 1 });
    assert.equal(second.objects[4], first.objects[4], "an unchanged file's objects are the same objects");
    assert.notEqual(second.objects[13], first.objects[13], "r3 sorts after r2x: position 13 in code-point order");
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "s.yaml"), route("s", null, 80));
    loader.touch(join(dir, "sub"));
    const third = await loader.load(walk);
    assert.equal(walks, 2, "a new folder is found by a walk");
    assert.ok(third.objects.some((o) => o.object.metadata.name === "s"));
    loader.touch(null);
    await loader.load(walk);
    assert.equal(walks, 3);
    // A change that was not named is not seen (the watcher names every change it reports).
    writeFileSync(join(dir, "r5.yaml"), route("r5", null, 82));
    loader.touch(join(dir, "r6.yaml"));
    const fourth = await loader.load(walk);
    assert.equal(loader.stats.filesRead, 1);
    assert.deepEqual(view(fourth), view(third));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
