import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadDirectory, ParseCache, type LoadResult } from "../../../src/resources/index.js";

const route = (name: string, extra = ""): string => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: team
spec:
  parentRefs: [{ name: gw }]
  rules:
    - backendRefs: [{ name: svc, port: 80 }]${extra}
`;
const broken = `apiVersion: v1
kind: Service
metadata: { name: bad }
spec:
  ports: [{ port: "eighty" }]
`;

/** Everything a consumer sees, including where each field is located. */
function view(r: LoadResult): unknown {
  return {
    objects: r.objects.map((o) => ({ object: o.object, source: o.source, name: o.locate("metadata.name"), rule: o.locate("spec.rules[0].backendRefs[0].port") })),
    diagnostics: r.diagnostics,
  };
}

function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "sluice-parse-cache-"));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("a cached load equals a full load after every kind of change", () =>
  withDir(async (dir) => {
    const cache = new ParseCache();
    writeFileSync(join(dir, "a.yaml"), route("a") + "---\n" + route("a2"));
    writeFileSync(join(dir, "b.yaml"), broken);
    writeFileSync(join(dir, "ns.yaml"), "apiVersion: v1\nkind: Namespace\nmetadata: { name: team }\n");
    const steps: (() => void)[] = [
      () => undefined, // nothing changed: everything from the cache
      () => writeFileSync(join(dir, "c.yaml"), route("c")), // added
      () => writeFileSync(join(dir, "a.yaml"), route("a", "\n      matches: [{ path: { type: PathPrefix, value: /x } }]")), // changed
      () => writeFileSync(join(dir, "dup.yaml"), route("c")), // duplicate of a cached object
      () => unlinkSync(join(dir, "c.yaml")), // removed
      () => writeFileSync(join(dir, "b.yaml"), broken.replace("eighty", "81")), // error fixed
      () => writeFileSync(join(dir, "c.yaml"), route("c")), // back again
    ];
    for (const step of steps) {
      step();
      const cached = await loadDirectory(dir, cache);
      const full = await loadDirectory(dir);
      assert.deepEqual(view(cached), view(full));
      assert.ok(cached.objects.length > 0);
    }
    assert.equal(cache.size, 5, "only files present now are kept");
  }));

test("what consumers write into loaded objects does not reach the next load", () =>
  withDir(async (dir) => {
    const cache = new ParseCache();
    writeFileSync(join(dir, "a.yaml"), route("a"));
    writeFileSync(join(dir, "b.yaml"), broken);
    // The first load parses, the second comes from the cache: both are written into.
    for (let i = 0; i < 2; i++) {
      const loaded = await loadDirectory(dir, cache);
      for (const o of loaded.objects) {
        o.object.metadata.generation = 7;
        o.object.metadata.uid = "stale";
        (o.object.spec as { rules?: unknown[] } | undefined)?.rules?.push({});
      }
      for (const d of loaded.diagnostics) d.message = "changed";
    }
    const second = await loadDirectory(dir, cache);
    assert.deepEqual(view(second), view(await loadDirectory(dir)));
    assert.equal(second.objects[0]!.object.metadata.generation, undefined);
    assert.notEqual(second.diagnostics[0]!.message, "changed");
  }));
