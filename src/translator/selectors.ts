// Kubernetes label selectors (matchLabels + matchExpressions), as used by allowedRoutes.namespaces.
import type { IIoK8sApimachineryPkgApisMetaV1LabelSelector as LabelSelector } from "@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector";

export type { LabelSelector };

/** Returns null when the selector matches, otherwise why it does not (for messages). */
export function selectorMismatch(selector: LabelSelector | undefined, labels: Record<string, string>): string | null {
  // An empty selector selects everything, as in Kubernetes.
  if (!selector) return null;
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[k] !== v) return `label ${k}=${v} not present`;
  }
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case "In":
        if (!has || !values.includes(labels[e.key])) return `label ${e.key} not in [${values.join(", ")}]`;
        break;
      case "NotIn":
        if (has && values.includes(labels[e.key])) return `label ${e.key} in [${values.join(", ")}]`;
        break;
      case "Exists":
        if (!has) return `label ${e.key} does not exist`;
        break;
      case "DoesNotExist":
        if (has) return `label ${e.key} exists`;
        break;
      default:
        return `unknown operator ${String(e.operator)}`;
    }
  }
  return null;
}
