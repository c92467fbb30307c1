// Lease tables over one authority: however the takes interleave across "workers", no more than
// the limit passes per window, and nothing is refused while the window still has room.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeaseTable, LocalAuthority, type Authority } from "../../../src/proxy/rate-limit/leases.js";

const spec = (limit: number, windowMs = 60_000, global = false) => ({ limit, windowMs, global, failClosed: false });

async function takeAll(tables: LeaseTable[], n: number, key: string, s: ReturnType<typeof spec>, now: number): Promise<number> {
  const results = await Promise.all(Array.from({ length: n }, (_, i) => tables[i % tables.length]!.take(key, s, now)));
  return results.filter(Boolean).length;
}

test("three workers sharing an authority pass exactly the limit", async () => {
  for (const limit of [1, 7, 137, 1000]) {
    const auth = new LocalAuthority();
    const tables = [new LeaseTable(auth), new LeaseTable(auth), new LeaseTable(auth)];
    const now = 1_000_000_000;
    assert.equal(await takeAll(tables, limit * 3 + 5, "k", spec(limit), now), limit, `limit ${limit}`);
    // Sequential takes after the burst: all refused in the same window.
    for (const t of tables) assert.equal(await t.take("k", spec(limit), now + 10), false);
  }
});

test("below the limit nothing is refused, even with leases spread over workers", async () => {
  const auth = new LocalAuthority();
  const tables = [new LeaseTable(auth), new LeaseTable(auth)];
  assert.equal(await takeAll(tables, 90, "k", spec(100), 5_000), 90);
});

test("a new window starts a new count; other keys are independent", async () => {
  const auth = new LocalAuthority();
  const t = new LeaseTable(auth);
  const s = spec(2, 1000);
  assert.equal(await takeAll([t], 5, "a", s, 10_000), 2);
  assert.equal(await takeAll([t], 5, "b", s, 10_000), 2);
  assert.equal(await takeAll([t], 5, "a", s, 11_000), 2);
});

test("a spent global counter is asked again after a second (the store may fail open)", async () => {
  let open = false;
  const calls: number[] = [];
  const auth: Authority = {
    acquire: (m) => {
      calls.push(m.want);
      return Promise.resolve(open ? m.want : 0);
    },
  };
  const t = new LeaseTable(auth);
  const s = spec(10, 3_600_000, true);
  const t0 = Date.now();
  assert.equal(await t.take("g", s, t0), false);
  assert.equal(await t.take("g", s, t0 + 10), false, "spent: decided locally");
  assert.equal(calls.length, 1);
  open = true;
  await new Promise((r) => setTimeout(r, 1050));
  assert.equal(await t.take("g", s, Date.now()), true);
  assert.equal(calls.length, 2);
});

test("seconds left in the window", () => {
  assert.equal(LeaseTable.secondsLeft(spec(1, 60_000), 120_000), 60);
  assert.equal(LeaseTable.secondsLeft(spec(1, 60_000), 179_500), 1);
});
