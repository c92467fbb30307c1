// Declares one upstream conformance test as a node:test suite: starts the environment before its
// cases, checks acceptance the way upstream does, and stops everything after.
import { after, before, describe, test } from "node:test";
import { ConformanceEnv, type EnvOptions } from "./env.js";
import { caseName, expectResponse, type EventuallyOptions, type Expectation } from "./http.js";
import { mustBeAcceptedAndResolved, type NN } from "./status.js";

export interface ConformanceDef extends EnvOptions {
  /** The upstream test's ShortName. */
  name: string;
  /** "core", or the extended feature names it exercises. */
  features: string[];
  /** Checked like GatewayAndHTTPRoutesMustBeAccepted + ResolvedRefs=True before the cases. */
  accepted?: { gateway: NN; routes: NN[]; sectionNames?: string[] }[];
  /** Skip the whole test with this reason (features issue 2 does not cover). */
  skip?: string;
}

export interface Ctx {
  /** The running environment (valid inside tests). */
  readonly env: ConformanceEnv;
}

export function conformance(def: ConformanceDef, body: (ctx: Ctx) => void): void {
  const title = `${def.name} [${def.features.join(", ")}]`;
  if (def.skip) {
    describe(title, () => {
      test("skipped", { skip: def.skip }, () => {});
    });
    return;
  }
  let env: ConformanceEnv | undefined;
  const ctx: Ctx = {
    get env(): ConformanceEnv {
      if (!env) throw new Error("environment did not start");
      return env;
    },
  };
  describe(title, () => {
    before(async () => {
      env = await ConformanceEnv.start(def);
    });
    after(async () => {
      await env?.stop();
    });
    for (const a of def.accepted ?? []) {
      test(`Gateway ${a.gateway.name} and routes ${a.routes.map((r) => r.name).join(", ")} are accepted with resolved refs`, async () => {
        await mustBeAcceptedAndResolved(ctx.env, a.gateway, a.routes, a.sectionNames);
      });
    }
    body(ctx);
  });
}

/** One test per expectation, sent to the port allocated for `gatewayKey`. */
export function expectCases(ctx: Ctx, gatewayKey: string, cases: Expectation[], opts?: EventuallyOptions): void {
  cases.forEach((c, i) => {
    test(caseName(c, i), async () => {
      await expectResponse(ctx.env.port(gatewayKey), c, opts);
    });
  });
}
