// The client's address for checks that depend on it: the socket peer, or, behind N trusted proxies
// that each append to X-Forwarded-For, the Nth entry from the right (what the farthest trusted
// proxy saw). With fewer entries than that, the header cannot be trusted and the socket peer counts.
import { type GuardRequest, unmapIPv4 } from "../guards.js";

export function clientAddress(g: GuardRequest, trustedHops: number): string {
  if (trustedHops <= 0) return g.clientIp;
  const xff = g.headers["x-forwarded-for"];
  if (xff === undefined) return g.clientIp;
  const parts = (Array.isArray(xff) ? xff.join(",") : xff).split(",");
  const i = parts.length - trustedHops;
  if (i < 0) return g.clientIp;
  return unmapIPv4(parts[i]!.trim());
}
