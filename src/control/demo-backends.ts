// --demo-backends: echo servers for the Backends of a folder labelled `sluice.dev/demo: echo`,
// so a quickstart answers without anything else running.
import type { Logger } from "../observe/log.js";
import type { K8sObject } from "../resources/types.js";
import { startEchoServer, type EchoServer } from "../demo/echo-server.js";

export const DEMO_LABEL = "sluice.dev/demo";

interface DemoEndpoint {
  host: string;
  port: number;
  pod: string;
  namespace: string;
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost"]);

/** The loopback endpoints of every demo Backend. */
export function demoEndpoints(objects: K8sObject[]): DemoEndpoint[] {
  const out: DemoEndpoint[] = [];
  for (const o of objects) {
    if (o.kind !== "Backend" || !o.apiVersion.startsWith("sluice.dev/")) continue;
    if (o.metadata.labels?.[DEMO_LABEL] !== "echo") continue;
    const spec = o.spec as { endpoints?: unknown } | undefined;
    const endpoints = Array.isArray(spec?.endpoints) ? spec.endpoints : [];
    for (const ep of endpoints) {
      const addr = endpointAddress(ep);
      if (addr && LOCAL_HOSTS.has(addr.host)) {
        out.push({ host: "127.0.0.1", port: addr.port, pod: o.metadata.name, namespace: o.metadata.namespace ?? "default" });
      }
    }
  }
  return out;
}

function endpointAddress(ep: unknown): { host: string; port: number } | null {
  if (ep === null || typeof ep !== "object") return null;
  const e = ep as Record<string, Record<string, unknown> | undefined>;
  const ip = e.ip, fqdn = e.fqdn;
  if (ip && typeof ip.address === "string" && typeof ip.port === "number") return { host: ip.address, port: ip.port };
  if (fqdn && typeof fqdn.hostname === "string" && typeof fqdn.port === "number") return { host: fqdn.hostname, port: fqdn.port };
  return null;
}

export class DemoBackends {
  private readonly running = new Map<string, { ep: DemoEndpoint; server: Promise<EchoServer | null> }>();

  constructor(private readonly log: Logger) {}

  /** Starts echo servers for new demo endpoints and stops those no longer in the folder. */
  sync(objects: K8sObject[]): void {
    const wanted = new Map<string, DemoEndpoint>();
    for (const ep of demoEndpoints(objects)) wanted.set(`${ep.host}:${ep.port}/${ep.namespace}/${ep.pod}`, ep);
    for (const [key, r] of this.running) {
      if (wanted.has(key)) continue;
      this.running.delete(key);
      void r.server.then((s) => s?.close());
    }
    for (const [key, ep] of wanted) {
      if (this.running.has(key)) continue;
      const server = startEchoServer({ host: ep.host, port: ep.port, pod: ep.pod, namespace: ep.namespace, service: ep.pod }).then(
        (s) => {
          this.log.info({ backend: `${ep.namespace}/${ep.pod}`, address: `${ep.host}:${ep.port}` }, "demo echo backend listening");
          return s;
        },
        (err: unknown) => {
          this.log.error({ backend: `${ep.namespace}/${ep.pod}`, address: `${ep.host}:${ep.port}`, err: String(err) }, "demo echo backend could not start");
          return null;
        },
      );
      this.running.set(key, { ep, server });
    }
  }

  async close(): Promise<void> {
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.all(all.map((r) => r.server.then((s) => s?.close())));
  }
}
