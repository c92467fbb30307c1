// Shared compiler for RequestHeaderModifier / ResponseHeaderModifier: set, then add, then remove,
// over a flat lowercase header list. Names are matched case-insensitively (lowercased once here).
import type { IrHeaderMods } from "../../ir/types.js";
import { headerRemove, headerSet } from "../headers.js";

export type HeaderEdit = (list: string[]) => void;

export function compileHeaderMods(mods: IrHeaderMods | undefined): HeaderEdit | null {
  if (!mods || mods.set.length + mods.add.length + mods.remove.length === 0) return null;
  const set = mods.set.map((h) => [h.name.toLowerCase(), h.value] as const);
  const add = mods.add.map((h) => [h.name.toLowerCase(), h.value] as const);
  const remove = mods.remove.map((n) => n.toLowerCase());
  return (list) => {
    for (let i = 0; i < set.length; i++) headerSet(list, set[i]![0], set[i]![1]);
    for (let i = 0; i < add.length; i++) addValue(list, add[i]![0], add[i]![1]);
    for (let i = 0; i < remove.length; i++) headerRemove(list, remove[i]!);
  };
}

/** "add" appends to an existing value as a comma-separated list element (the spec's example). */
function addValue(list: string[], name: string, value: string): void {
  for (let i = 0; i < list.length; i += 2) {
    if (list[i] === name) {
      list[i + 1] = `${list[i + 1]},${value}`;
      return;
    }
  }
  list.push(name, value);
}

/** Several edits (rule-level, then backend-level) as one. */
export function chainEdits(a: HeaderEdit | null, b: HeaderEdit | null): HeaderEdit | null {
  if (!a) return b;
  if (!b) return a;
  return (list) => {
    a(list);
    b(list);
  };
}
