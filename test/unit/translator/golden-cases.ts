// The translator's golden cases as objects, for the golden test and the memo test (a test file
// importing another test file would register that file's tests a second time).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import type { K8sObject } from "../../../src/resources/types.js";

export const goldenRoot = join(import.meta.dirname, "../../golden/translator");

export function goldenCases(): string[] {
  return readdirSync(goldenRoot).filter((d) => existsSync(join(goldenRoot, d, "input.yaml"))).sort();
}

export function loadCase(name: string): K8sObject[] {
  const text = readFileSync(join(goldenRoot, name, "input.yaml"), "utf8");
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}
