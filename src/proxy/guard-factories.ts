// Compiles a route's request guards at snapshot time. Each feature registers one factory (in its
// own module under src/proxy/guards/, imported by src/proxy/guards/index.ts); a factory looks at
// the IR route and returns a guard, or null when the feature is not configured on that route.
import type { IrGatewayListener, IrListener, IrRoute } from "../ir/types.js";
import type { RequestGuard } from "./guards.js";

/** Worker-wide state that outlives snapshots (key caches, bucket tables, clients), by feature key. */
export interface GuardEnv {
  readonly shared: Map<string, unknown>;
}

export interface GuardFactory {
  name: string;
  /**
   * Lower runs first. Convention: request limits 10, CORS preflight 20, IP allow/deny 30,
   * authentication 40-59, authorization 60, rate limits 80, L7 network policy 25.
   */
  order: number;
  /** `gateway`: the Gateway listener the route is served on (its client certificate and limit settings). */
  build(route: IrRoute, listener: IrListener, env: GuardEnv, gateway?: IrGatewayListener): RequestGuard | null;
}

const FACTORIES: GuardFactory[] = [];

export function registerGuardFactory(f: GuardFactory): void {
  FACTORIES.push(f);
  FACTORIES.sort((a, b) => a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** One per worker process: guards of successive snapshots share it. */
export const WORKER_GUARD_ENV: GuardEnv = { shared: new Map() };

export function compileGuards(route: IrRoute, listener: IrListener, env: GuardEnv = WORKER_GUARD_ENV, gateway?: IrGatewayListener): RequestGuard[] | null {
  let out: RequestGuard[] | null = null;
  for (const f of FACTORIES) {
    const g = f.build(route, listener, env, gateway);
    if (g !== null) (out ??= []).push(g);
  }
  return out;
}
