import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/resources/index.js";

const TEXT = `apiVersion: v1
kind: Service
metadata:
  name: a
  namespace: shop
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: b}
spec: {ports: [{port: 80}]}
---
apiVersion: v1
kind: Namespace
metadata:
  name: infra
  labels: {env: prod}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: infra}
`;

test("every namespace in use exists; explicit ones keep their labels and gain the name label", () => {
  const r = parseDocuments(TEXT, "ns.yaml");
  assert.deepEqual(r.diagnostics, []);
  const nss = r.objects.filter((o) => o.object.kind === "Namespace");
  assert.deepEqual(
    nss.map((o) => [o.object.metadata.name, o.object.metadata.labels]),
    [
      ["infra", { env: "prod", "kubernetes.io/metadata.name": "infra" }],
      ["shop", { "kubernetes.io/metadata.name": "shop" }],
      ["default", { "kubernetes.io/metadata.name": "default" }],
    ],
  );
  // Implicit namespaces point at the object that first used them.
  const shop = nss.find((o) => o.object.metadata.name === "shop");
  assert.deepEqual(shop?.source, { file: "ns.yaml", line: 5, column: 3 });
  const def = nss.find((o) => o.object.metadata.name === "default");
  assert.deepEqual(def?.source, { file: "ns.yaml", line: 10, column: 1 }, "defaulted namespace: located at metadata");
});
