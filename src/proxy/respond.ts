// Writing responses the same way to node:http (HTTP/1.1), the HTTP/1.1 fast path and the HTTP/2 compat API.
import type http from "node:http";
import type http2 from "node:http2";
import type { HeaderEdit } from "./filters/header-mods.js";
import { toHeaderObject } from "./headers.js";
import type { FastReq, FastRes } from "./h1/message.js";

/** node:http's, node:http2's, or the HTTP/1.1 fast path's (h1/message.ts). */
export type Req = http.IncomingMessage | http2.Http2ServerRequest | FastReq;
export type Res = http.ServerResponse | http2.Http2ServerResponse | FastRes;

export function writeHead(res: Res, isH2: boolean, status: number, headers: string[]): void {
  if (isH2) (res as http2.Http2ServerResponse).writeHead(status, toHeaderObject(headers));
  else (res as http.ServerResponse | FastRes).writeHead(status, headers);
}

/** Ends any kind of response, with an optional last chunk (their end() overloads do not unify). */
export function endResponse(res: Res, chunk?: Buffer | string): void {
  (res as { end(chunk?: Buffer | string): unknown }).end(chunk);
}

/** A response made by the gateway itself; returns the body length. */
export function sendSimple(
  res: Res,
  isH2: boolean,
  status: number,
  body: Buffer | string,
  extra: string[] | null,
  edit: HeaderEdit | null,
): number {
  if (res.headersSent || res.destroyed) return 0;
  const len = typeof body === "string" ? Buffer.byteLength(body) : body.length;
  const headers = extra ?? [];
  if (len > 0 && !headersInclude(headers, "content-type")) headers.push("content-type", "text/plain; charset=utf-8");
  headers.push("content-length", String(len));
  if (edit) edit(headers);
  writeHead(res, isH2, status, headers);
  endResponse(res, body);
  return len;
}

function headersInclude(list: string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true;
  return false;
}
