import { test } from "node:test";
import assert from "node:assert/strict";
import { rateLimitCounts } from "../../../src/control/rate-limit-status.js";

test("rate-limit series are summed per policy and rule across routes", () => {
  const text = [
    "# HELP sluice_ratelimit_requests_total x",
    'sluice_ratelimit_requests_total{route="r1",rule="default/p/0",result="allowed"} 5',
    'sluice_ratelimit_requests_total{route="r2",rule="default/p/0",result="allowed"} 2',
    'sluice_ratelimit_requests_total{route="r1",rule="default/p/0",result="limited"} 3',
    'sluice_ratelimit_requests_total{route="r1",rule="default/p/1",result="shadow_limited"} 4',
    'sluice_ratelimit_requests_total{route="r1",rule="team/q/0",result="allowed"} 1',
    'sluice_http_requests_total{route="r1",code="200"} 9',
  ].join("\n");
  const c = rateLimitCounts(text);
  assert.deepEqual(c.get("default/p"), [
    { rule: 0, allowed: 7, limited: 3, shadowLimited: 0 },
    { rule: 1, allowed: 0, limited: 0, shadowLimited: 4 },
  ]);
  assert.deepEqual(c.get("team/q"), [{ rule: 0, allowed: 1, limited: 0, shadowLimited: 0 }]);
  assert.equal(c.size, 2);
});
