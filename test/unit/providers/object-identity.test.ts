import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileProvider } from "../../../src/providers/file/index.js";
import { loadDirectory, ParseCache, type K8sObject, type LoadResult } from "../../../src/resources/index.js";

const svc = (name: string, port: number): string => `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${name}\nspec:\n  ports: [{port: ${port}}]\n`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function find(r: LoadResult, name: string): K8sObject {
  const o = r.objects.find((x) => x.object.kind === "Service" && x.object.metadata.name === name)?.object;
  assert.ok(o, `Service ${name} loaded`);
  return o;
}

test("a shared parse cache hands out the same objects for an unchanged file, new ones for a changed file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-ident-"));
  try {
    writeFileSync(join(dir, "a.yaml"), svc("a", 80));
    writeFileSync(join(dir, "b.yaml"), svc("b", 80));
    const cache = new ParseCache({ shared: true });
    const first = await loadDirectory(dir, cache);
    writeFileSync(join(dir, "b.yaml"), svc("b", 81));
    const second = await loadDirectory(dir, cache);
    assert.equal(find(second, "a"), find(first, "a"));
    assert.notEqual(find(second, "b"), find(first, "b"));
    const view = (r: LoadResult) => ({ objects: r.objects.map((o) => [o.object, o.source, o.locate("spec.ports[0].port")]), diagnostics: r.diagnostics });
    assert.deepEqual(view(second), view(await loadDirectory(dir)), "same content as an uncached load");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the file provider keeps an unchanged object's identity across loads and stamps copies, not the cached objects", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-ident-"));
  const loads: LoadResult[] = [];
  const provider = new FileProvider(dir, { debounceMs: 20 });
  try {
    writeFileSync(join(dir, "a.yaml"), svc("a", 80));
    writeFileSync(join(dir, "b.yaml"), svc("b", 80));
    await provider.start((r) => loads.push(r));
    writeFileSync(join(dir, "b.yaml"), svc("b", 81));
    for (let i = 0; i < 300 && loads.length < 2; i++) await sleep(10);
    assert.equal(loads.length, 2);
    const [a1, a2] = [find(loads[0]!, "a"), find(loads[1]!, "a")];
    assert.equal(a2, a1, "unchanged object: same object");
    assert.equal(a2.metadata.generation, 1);
    const [b1, b2] = [find(loads[0]!, "b"), find(loads[1]!, "b")];
    assert.notEqual(b2, b1);
    assert.equal(b2.metadata.generation, 2);
    assert.equal(b2.metadata.uid, b1.metadata.uid, "same object, new generation: uid kept");
    // The stamped object handed out is a copy: a fresh parse of the same text carries no stamp.
    const fresh = find(await loadDirectory(dir), "a");
    assert.equal(fresh.metadata.generation, undefined);
    assert.notEqual(fresh, a1);
  } finally {
    await provider.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
