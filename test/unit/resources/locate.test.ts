import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments, parsePath, formatPath } from "../../../src/resources/index.js";

const TEXT = `# leading comment
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
spec:
  ports:
  - name: http
    port: 80
  - {name: https, port: 443}
`;

test("locate finds fields, list items and quoted keys; falls back to the closest parent", () => {
  const [o] = parseDocuments(TEXT, "svc.yaml").objects;
  assert.deepEqual(o.source, { file: "svc.yaml", line: 3, column: 1 });
  assert.deepEqual(o.locate("spec.ports[0].port"), { file: "svc.yaml", line: 12, column: 5 });
  assert.deepEqual(o.locate("spec.ports[1].port"), { file: "svc.yaml", line: 13, column: 19 });
  assert.deepEqual(o.locate("spec.ports[1]"), { file: "svc.yaml", line: 13, column: 5 });
  assert.deepEqual(o.locate('metadata.labels["app.kubernetes.io/name"]'), { file: "svc.yaml", line: 8, column: 5 });
  // Missing (e.g. defaulted) fields point at their closest existing parent.
  assert.deepEqual(o.locate("spec.ports[0].targetPort"), { file: "svc.yaml", line: 11, column: 5 });
  assert.deepEqual(o.locate("spec.ports[7].port"), { file: "svc.yaml", line: 10, column: 3 });
  assert.deepEqual(o.locate(""), { file: "svc.yaml", line: 3, column: 1 });
});

test("field paths round-trip", () => {
  for (const p of ["spec.rules[0].backendRefs[1].port", 'metadata.labels["a.b/c"]', "spec"]) assert.equal(formatPath(parsePath(p)), p);
});
