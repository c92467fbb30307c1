// The translator's contract: a pure, deterministic function of the resources.
import type { IrConfig } from "../ir/types.js";
import type { Diagnostic, K8sObject, StatusEntry } from "../resources/types.js";
import type { TranslateMemo } from "./memo.js";

export const CONTROLLER_NAME = "sluice.dev/gateway-controller";

export interface TranslateOptions {
  /** GatewayClasses with another controllerName are ignored. */
  controllerName: string;
  /**
   * Keeps what one translate() computed for the next (same output, less work when few objects
   * changed). The objects passed in must not be changed afterwards. See memo.ts.
   */
  memo?: TranslateMemo;
}

export interface TranslateResult {
  config: IrConfig;
  /** One entry per object the gateway owns status for, sorted by ref. */
  statuses: StatusEntry[];
  /** Semantic problems (dangling refs, conflicts ...). Field paths, no source: the caller locates them. */
  diagnostics: Diagnostic[];
}
