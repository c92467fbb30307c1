import { test } from "node:test";
import assert from "node:assert/strict";
import { H2_PREFACE, prefaceState } from "../../../src/proxy/h2c-sniff.js";

test("prefaceState: whole preface, strict prefixes, and HTTP/1.1 request starts", () => {
  assert.equal(prefaceState(H2_PREFACE), 1);
  assert.equal(prefaceState(Buffer.concat([H2_PREFACE, Buffer.from([0, 0, 0, 4])])), 1);
  for (const n of [1, 3, 14, 23]) assert.equal(prefaceState(H2_PREFACE.subarray(0, n)), -1, `prefix of ${n}`);
  for (const start of ["GET / HTTP/1.1\r\n", "POST /x HTTP/1.1\r\n", "PUT /", "PATCH /", "PRI * HTTP/1.1\r\n", "P", "PR"]) {
    const want = H2_PREFACE.subarray(0, start.length).equals(Buffer.from(start)) ? -1 : 0;
    assert.equal(prefaceState(Buffer.from(start)), want, start);
  }
  assert.equal(prefaceState(Buffer.from("POST")), 0);
  assert.equal(prefaceState(Buffer.from("PRI * HTTP/1.1\r\n")), 0);
});
