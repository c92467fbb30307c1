// Control-process side of rate limiting: the one authority for the counters of every worker.
// Local rules count here, in memory; global rules count in Redis (shared by every gateway using
// the same Redis), atomically with a Lua script that grants at most what is left of the window.
// When Redis cannot be reached, a global rule lets requests through (fail open, the default) or
// refuses them (failClosed), as the policy says; the gateway says so once in its log.
import cluster, { type Worker } from "node:cluster";
import { Redis } from "ioredis";
import type { Logger } from "../observe/log.js";
import { LocalAuthority } from "../proxy/rate-limit/leases.js";
import { type AcquireMessage, type GrantMessage, isAcquire } from "../proxy/rate-limit/messages.js";

// KEYS[1] counter; ARGV: limit, want, ttl ms. Returns the number granted.
const GRANT_LUA = `
local limit = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local grant = math.min(want, math.max(0, limit - used))
if grant > 0 then
  local n = redis.call('INCRBY', KEYS[1], grant)
  if n == grant then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
end
return grant
`;

type RedisWithGrant = Redis & { sluiceGrant(key: string, limit: number, want: number, ttlMs: number): Promise<number> };

export class RateLimitService {
  private readonly local = new LocalAuthority();
  private readonly redis: RedisWithGrant | null;
  private redisUp = false;
  private warnedNoRedis = false;
  private readonly onMessage = (worker: Worker, m: unknown): void => {
    if (!isAcquire(m)) return;
    void this.acquire(m).then((granted) => {
      const reply: GrantMessage = { type: "rl-grant", id: m.id, granted };
      if (worker.isConnected()) worker.send(reply);
    });
  };

  constructor(
    redisUrl: string | undefined,
    private readonly log: Logger,
  ) {
    this.redis = redisUrl ? this.connect(redisUrl) : null;
    cluster.on("message", this.onMessage);
  }

  async acquire(m: AcquireMessage): Promise<number> {
    if (!m.global) return this.local.grant(m.key, m.window, m.limit, m.want);
    if (this.redis === null) {
      if (!this.warnedNoRedis) {
        this.warnedNoRedis = true;
        this.log.warn("a global rate limit is configured but the gateway runs without --redis-url: global rules act as their failClosed setting says (default: requests pass)");
      }
      return m.failClosed ? 0 : m.want;
    }
    try {
      // The window in the key keeps windows apart; the TTL frees the key after its window.
      return await this.redis.sluiceGrant(`sluice:rl:${m.key}:${m.windowMs}:${m.window}`, m.limit, m.want, m.windowMs * 2);
    } catch {
      return m.failClosed ? 0 : m.want;
    }
  }

  async close(): Promise<void> {
    cluster.off("message", this.onMessage);
    if (this.redis) this.redis.disconnect();
  }

  private connect(url: string): RedisWithGrant {
    const r = new Redis(url, {
      // Fail fast while Redis is away instead of queueing requests behind a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      commandTimeout: 500,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    }) as RedisWithGrant;
    r.defineCommand("sluiceGrant", { numberOfKeys: 1, lua: GRANT_LUA });
    r.on("ready", () => {
      if (!this.redisUp) this.log.info({ redis: redact(url) }, "connected to Redis for global rate limits");
      this.redisUp = true;
    });
    r.on("error", (err: Error) => {
      if (this.redisUp || !this.warnedNoRedis) {
        this.log.warn({ redis: redact(url), err: err.message }, "Redis for global rate limits is unreachable; global rules act as their failClosed setting says until it is back");
        this.warnedNoRedis = true;
      }
      this.redisUp = false;
    });
    return r;
  }
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "(invalid URL)";
  }
}
