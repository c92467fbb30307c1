// Match precedence across every route on one virtual host, per the HTTPRoute spec:
// Exact path, then the longest PathPrefix, then a method match, more header matches, more query
// param matches; remaining ties go to the oldest route, then namespace/name, then rule and match order.
// RegularExpression paths are implementation-specific in the spec. We rank them between Exact and
// PathPrefix (longest pattern first), as Envoy Gateway does: placed after prefixes, a regex would
// never be reached on a host that has the usual PathPrefix "/" catch-all.
import type { IrMatch } from "../ir/types.js";
import { grpcRank } from "./grpc-routes.js";
import { type Item, compareAge } from "./kinds.js";

export interface RankedMatch {
  /** An HTTPRoute or GRPCRoute (their matches are compared alike, see grpc-routes.ts). */
  route: Item<unknown>;
  rule: number;
  matchIndex: number;
  match: IrMatch;
}

const PATH_RANK: Record<IrMatch["path"]["type"], number> = { Exact: 0, RegularExpression: 1, PathPrefix: 2 };

export function compareMatches(a: RankedMatch, b: RankedMatch): number {
  const ga = grpcRank(a.match);
  const gb = grpcRank(b.match);
  // GRPCRoute matches (a virtual host never mixes them with HTTPRoute ones, see grpc-routes.ts):
  // more characters in the service, then in the method, then more header matches.
  if (ga !== undefined && gb !== undefined) {
    if (ga.service !== gb.service) return gb.service - ga.service;
    if (ga.method !== gb.method) return gb.method - ga.method;
    if (a.match.headers.length !== b.match.headers.length) return b.match.headers.length - a.match.headers.length;
    return compareAge(a.route, b.route) || a.rule - b.rule || a.matchIndex - b.matchIndex;
  }
  const pa = a.match.path;
  const pb = b.match.path;
  if (pa.type !== pb.type) return PATH_RANK[pa.type] - PATH_RANK[pb.type];
  if (pa.type !== "Exact" && pa.value.length !== pb.value.length) return pb.value.length - pa.value.length;
  const ma = a.match.method ? 1 : 0;
  const mb = b.match.method ? 1 : 0;
  if (ma !== mb) return mb - ma;
  if (a.match.headers.length !== b.match.headers.length) return b.match.headers.length - a.match.headers.length;
  if (a.match.queryParams.length !== b.match.queryParams.length) return b.match.queryParams.length - a.match.queryParams.length;
  return compareAge(a.route, b.route) || a.rule - b.rule || a.matchIndex - b.matchIndex;
}
