import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadDirectory } from "../../../src/resources/index.js";

const TREE = resolve("test/fixtures/resources/tree");

test("a folder with subfolders, multi-document files, YAML and JSON loads in a stable order", async () => {
  const r = await loadDirectory(TREE);
  assert.deepEqual(r.diagnostics, []);
  const names = r.objects.map((o) => `${o.object.kind}/${o.object.metadata.namespace ?? ""}/${o.object.metadata.name}`);
  assert.deepEqual(names, [
    "EndpointSlice/team-a/api-1", // backends/endpoints.yaml
    "Backend/team-a/static", // backends/static.json
    "GatewayClass//sluice", // gateways/gateway.yaml (empty document skipped)
    "Gateway/infra/edge",
    "Namespace//team-a", // routes/team-a/namespace.yml
    "HTTPRoute/team-a/api",
    "Service/team-a/api",
    "Namespace//infra", // implicit, first mentioned by the Gateway
  ]);
  const gw = r.objects.find((o) => o.object.kind === "Gateway");
  assert.equal(gw?.source.file, join(TREE, "gateways/gateway.yaml"));
  assert.equal(gw?.source.line, 10);
  const route = r.objects.find((o) => o.object.kind === "HTTPRoute");
  assert.deepEqual(route?.locate("spec.rules[1].backendRefs[0].kind"), { file: join(TREE, "routes/team-a/routes.yaml"), line: 19, column: 7 });
  // Hidden files and folders, and non-config files, are skipped.
  assert.equal(r.objects.some((o) => o.object.metadata.name.startsWith("hidden")), false);
});

test("the same folder loads to the same result twice", async () => {
  const a = await loadDirectory(TREE);
  const b = await loadDirectory(TREE);
  assert.deepEqual(a.objects.map((o) => o.object), b.objects.map((o) => o.object));
});

test("duplicates in two files: an error naming both places", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-dup-"));
  try {
    const svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec: {ports: [{port: 80}]}\n";
    writeFileSync(join(dir, "a.yaml"), svc);
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "sub", "b.yaml"), "# again\n" + svc.replace("name: web", "name: web\n  namespace: default"));
    const r = await loadDirectory(dir);
    const errs = r.diagnostics.filter((d) => d.severity === "error");
    assert.equal(errs.length, 1);
    const d = errs[0];
    assert.equal(d.source?.file, join(dir, "sub", "b.yaml"));
    assert.equal(d.source?.line, 5);
    assert.equal(d.field, "metadata.name");
    assert.match(d.message, /Service default\/web is defined twice/);
    assert.ok(d.message.includes(`${join(dir, "a.yaml")}:4:3`), d.message);
    assert.equal(r.objects.filter((o) => o.object.kind === "Service").length, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("HTTPRoute v1 and v1beta1 with the same name are duplicates", async () => {
  const dir = mkdtempSync(join(tmpdir(), "sluice-dup-"));
  try {
    const r1 = "apiVersion: gateway.networking.k8s.io/VER\nkind: HTTPRoute\nmetadata: {name: r}\nspec: {}\n";
    writeFileSync(join(dir, "a.yaml"), r1.replace("VER", "v1") + "---\n" + r1.replace("VER", "v1beta1"));
    const r = await loadDirectory(dir);
    const errs = r.diagnostics.filter((d) => d.severity === "error");
    assert.equal(errs.length, 1);
    assert.equal(errs[0].source?.line, 8);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a missing folder is an error, not a crash", async () => {
  const r = await loadDirectory(join(tmpdir(), "sluice-does-not-exist-" + process.pid));
  assert.equal(r.objects.length, 0);
  assert.match(r.diagnostics[0].message, /cannot read the configuration folder: ENOENT/);
});
