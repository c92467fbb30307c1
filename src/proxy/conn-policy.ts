// Network policy at accept time, in the workers: every accepted TCP connection (L7 listeners, L4
// TCP/TLS listeners) and every UDP datagram is decided by the same compiled rules the kernel
// program reads (src/ebpf/policy-eval.ts over compilePolicy's map entries). Denied connections are
// reset before any byte is read; denied datagrams are dropped.
// This always runs when a policy exists: where the kernel enforces too (--interface), denied
// traffic never gets here, and traffic arriving on other interfaces is still checked.
import type net from "node:net";
import type { IrNetworkPolicy } from "../ir/types.js";
import { PolicyEvaluator, PROTO_TCP, PROTO_UDP, type Decision } from "../ebpf/policy-eval.js";
import { compilePolicy } from "../ebpf/policy-map.js";
import { policyModelOf } from "../ebpf/policy-model.js";
import { BatchedCounter, Pending } from "../observe/proxy-metrics.js";
import { canonicalJson } from "../util/canonical-json.js";

let decisions: BatchedCounter | null = null;

interface Active {
  key: string;
  policy: IrNetworkPolicy;
  evaluator: PolicyEvaluator;
  /** Counter children per slot and protocol, bound once per policy. */
  pending: Map<number, Pending>;
}

let active: Active | null = null;
/** The policy of the snapshot being compiled (guards are built from it); active once it serves. */
let staged: Active | null = null;

/**
 * Compiles the policy of a snapshot about to be compiled (a no-op when the section is unchanged).
 * It takes effect at commitNetworkPolicy(), once the whole snapshot compiled.
 */
export function stageNetworkPolicy(np: IrNetworkPolicy | undefined): void {
  const key = np ? canonicalJson(np) : "";
  const base = staged ?? active;
  if (key === (base?.key ?? "")) {
    staged = base;
    return;
  }
  if (!np) {
    staged = null;
    return;
  }
  decisions ??= new BatchedCounter(
    "sluice_policy_userspace_decisions_total",
    "Connections (TCP) and datagrams (UDP) decided by the network policy at accept time in the workers, by rule and verdict.",
    ["rule", "verdict", "protocol"],
  );
  staged = { key, policy: np, evaluator: new PolicyEvaluator(compilePolicy(policyModelOf(np), base?.evaluator.compiled)), pending: new Map() };
}

export function commitNetworkPolicy(): void {
  active = staged;
}

/** Installs a snapshot's policy at once (stage + commit). */
export function setNetworkPolicy(np: IrNetworkPolicy | undefined): void {
  stageNetworkPolicy(np);
  commitNetworkPolicy();
}

/** The staged policy and its evaluator: what the request guards of the snapshot being compiled use. */
export function stagedNetworkPolicy(): { policy: IrNetworkPolicy; evaluator: PolicyEvaluator } | null {
  return staged;
}

function count(a: Active, d: Decision, proto: number): void {
  const k = d.slot * 256 + proto;
  let p = a.pending.get(k);
  if (!p) {
    const rule = a.evaluator.ruleName(d.slot);
    p = new Pending({ rule, verdict: d.allow ? "allow" : "deny", protocol: proto === PROTO_UDP ? "UDP" : "TCP" }, decisions!.queue);
    a.pending.set(k, p);
  }
  p.inc();
}

/**
 * Decides an accepted TCP connection. Returns false (and resets the connection) when the policy
 * denies it; the caller then does nothing more with the socket.
 */
export function admitConnection(sock: net.Socket): boolean {
  const a = active;
  if (a === null) return true;
  const addr = sock.remoteAddress;
  if (addr === undefined) {
    // Already gone: nothing to serve.
    sock.destroy();
    return false;
  }
  const d = a.evaluator.decide(addr, PROTO_TCP, sock.localPort ?? 0);
  count(a, d, PROTO_TCP);
  if (d.allow) return true;
  if (typeof sock.resetAndDestroy === "function") sock.resetAndDestroy();
  else sock.destroy();
  return false;
}

/** Decides one UDP datagram from `address` to local `port`; false: drop it. */
export function admitDatagram(address: string, port: number): boolean {
  const a = active;
  if (a === null) return true;
  const d = a.evaluator.decide(address, PROTO_UDP, port);
  count(a, d, PROTO_UDP);
  return d.allow;
}

/** The active evaluator (tests, diagnostics). */
export function activeNetworkPolicy(): PolicyEvaluator | null {
  return active?.evaluator ?? null;
}
