// Which relay carries the bytes of plain TCP pairs (TCPRoute, TLS passthrough). Chosen by the CLI
// (--l4-relay, --no-splice) and handed to the workers in the environment. Kept apart from the
// relays themselves so the CLI can check the flag without loading them.

/**
 * "uring": io_uring recv/send chains on a relay thread of the worker (relay-thread.ts);
 * "thread": splice(2) through a pipe on a relay thread of the worker;
 * "kernel": eBPF sockmap + sk_skb verdict (src/ebpf/splice.ts);
 * "userspace": node streams. Where a relay is unavailable the next one in this order is used
 * (kernel -> uring -> thread -> userspace).
 */
export type L4Relay = "uring" | "thread" | "kernel" | "userspace";
export const L4_RELAYS: readonly L4Relay[] = ["uring", "thread", "kernel", "userspace"];
export const L4_RELAY_ENV = "SLUICE_L4_RELAY";
export const DEFAULT_L4_RELAY: L4Relay = "uring";

export const isL4Relay = (v: string): v is L4Relay => (L4_RELAYS as readonly string[]).includes(v);

/** This process's relay: the environment's, else the default. */
export function l4Relay(): L4Relay {
  const v = process.env[L4_RELAY_ENV];
  return v !== undefined && isL4Relay(v) ? v : DEFAULT_L4_RELAY;
}
