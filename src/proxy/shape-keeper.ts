// Keeps the last request's objects referenced while the worker is idle, so that V8 keeps their
// hidden classes (maps) and with them the optimised code of the proxying path.
//
// Optimised code refers to the maps it was specialised for only weakly. Under load some request is
// always in flight and its objects hold those maps; once the last one ends, nothing else does (a
// map's transitions from its parent are weak too). V8's memory reducer runs full collections a few
// seconds into an idle spell, and those collections keep no map that only code refers to: the code
// is thrown away ("weak objects") and the next requests run unoptimised while it is compiled again
// on helper threads that share the worker's core. Measured with bench/idle-code.ts: 21-42
// functions of the proxying path thrown away per idle collection, and a slow first second after.
//
// A child map holds its parent strongly, so one live object per kind keeps every map it passed
// through. The cost is one request's objects and what they hold (their sockets closed) and a store per
// request. They also reach the snapshot that served them (listener, route, upstream pool), so a new
// snapshot lets them go (forgetShapes): an old route table is not kept alive until the next request.

// What is kept, by kind: the latest of each.
/** The client-side exchange (src/proxy/exchange.ts): request, response, their socket. */
export const KEEP_EXCHANGE = 0;
/** The attempt on the raw upstream pool. */
export const KEEP_ATTEMPT = 1;
/** The upstream connection: its socket and response parser. */
export const KEEP_UPSTREAM = 2;

const kept: (object | null)[] = [null, null, null];

export function keepShape(kind: number, o: object): void {
  kept[kind] = o;
}

/** A new snapshot serves: what the last request reached of the old one may go. */
export function forgetShapes(): void {
  kept.fill(null);
}
