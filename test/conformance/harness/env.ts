// One conformance environment: the in-process backend "pods", the TLS secrets, and a real sluice
// process whose config folder holds the base manifests plus the case's own. Each test file starts
// its own environment, so cases never see each other's resources.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GatewayProcess, freePort, type ReadyState } from "../../helpers/gateway.js";
import { startEchoServer, type EchoRequest, type EchoServer } from "../../../src/demo/echo-server.js";
import { selfSignedCert, tlsSecretYaml, type CertPair } from "./certs.js";
import { startRetryBackend } from "./retry-backend.js";
import { isL4PodKind, startL4Pod, type L4PodKind } from "./l4-pods.js";
import { isBackendTlsPodKind, startBackendTlsPod, type BackendTlsPodKind } from "./grpc.js";

export const GATEWAY_CLASS = "sluice-conformance";
export const CONTROLLER_NAME = "sluice.dev/gateway-controller";
export const INFRA_NS = "gateway-conformance-infra";
export const APP_NS = "gateway-conformance-app-backend";
export const WEB_NS = "gateway-conformance-web-backend";

const HERE = dirname(fileURLToPath(import.meta.url));
const BASE_YAML = readFileSync(join(HERE, "base.yaml"), "utf8");

export interface CertSpec {
  namespace: string;
  name: string;
  dnsNames: string[];
}

/** The secrets every environment has, as in the upstream suite's setup. */
const BASE_CERTS: CertSpec[] = [
  { namespace: INFRA_NS, name: "tls-validity-checks-certificate", dnsNames: ["*", "*.org", "*.wildcard.org"] },
  { namespace: WEB_NS, name: "certificate", dnsNames: ["*"] },
];

export interface EnvOptions {
  /** The case's manifests: file name (relative to the config folder) -> YAML with placeholders. */
  manifests?: Record<string, string>;
  /** Extra TLS secrets to generate (written as Secrets into certs.yaml). */
  certs?: CertSpec[];
  /** Leave out base.yaml (cases that build their own world). */
  noBase?: boolean;
  workers?: number;
}

type PodKind = "http" | "h2c" | "retry" | L4PodKind | BackendTlsPodKind;

const PLACEHOLDER = /\{\{(class|port|endpoint)(?::([^}]+))?\}\}/g;

export class ConformanceEnv {
  gw!: GatewayProcess;
  readonly ports = new Map<string, number>();
  readonly pods = new Map<string, EchoServer>();
  readonly certs = new Map<string, CertPair>();

  static async start(opts: EnvOptions = {}): Promise<ConformanceEnv> {
    const env = new ConformanceEnv();
    try {
      const files: Record<string, string> = {};
      const certSpecs = [...(opts.noBase ? [] : BASE_CERTS), ...(opts.certs ?? [])];
      if (certSpecs.length) {
        files["certs.yaml"] = certSpecs
          .map((c) => {
            const pair = selfSignedCert(c.dnsNames);
            env.certs.set(`${c.namespace}/${c.name}`, pair);
            return tlsSecretYaml(c.namespace, c.name, pair);
          })
          .join("---\n");
      }
      if (!opts.noBase) files["base.yaml"] = await env.render(BASE_YAML);
      for (const [rel, text] of Object.entries(opts.manifests ?? {})) files[rel] = await env.render(text);
      // Wait for /ready ourselves so that a gateway which never gets ready is still stopped.
      env.gw = await GatewayProcess.start({ files, workers: opts.workers ?? 1, waitReady: false });
      await env.gw.waitReady();
      return env;
    } catch (err) {
      await env.stop();
      throw err;
    }
  }

  /** Port allocated for a placeholder key (usually a Gateway name). */
  port(key: string): number {
    const p = this.ports.get(key);
    if (p === undefined) throw new Error(`no port allocated for "${key}" (known: ${[...this.ports.keys()].join(", ")})`);
    return p;
  }

  /** Fills {{class}}, {{port:KEY}} and {{endpoint:NS/POD/KIND}}, starting backend pods as needed. */
  async render(text: string): Promise<string> {
    // Pods first: they hold their ports, so the free ports picked afterwards cannot collide with them.
    for (const [, what, arg] of text.matchAll(PLACEHOLDER)) {
      if (what === "endpoint" && arg && !this.pods.has(arg)) this.pods.set(arg, await startPod(arg));
    }
    for (const [, what, arg] of text.matchAll(PLACEHOLDER)) {
      if (what === "port" && arg && !this.ports.has(arg)) this.ports.set(arg, await this.uniquePort());
    }
    return text.replace(PLACEHOLDER, (_all, what: string, arg: string | undefined) => {
      if (what === "class") return GATEWAY_CLASS;
      if (what === "port") return String(this.ports.get(arg!));
      return String(this.pods.get(arg!)!.port);
    });
  }

  /** A free port not handed out before in this environment (a port just released can come back). */
  private async uniquePort(): Promise<number> {
    const taken = new Set([...this.ports.values(), ...[...this.pods.values()].map((p) => p.port)]);
    for (let i = 0; i < 20; i++) {
      const p = await freePort();
      if (!taken.has(p)) return p;
    }
    throw new Error("no unique free port after 20 tries");
  }

  /** Requests received by every pod whose name starts with `podPrefix` (any kind). */
  requests(podPrefix: string): (EchoRequest & { pod: string })[] {
    const out: (EchoRequest & { pod: string })[] = [];
    for (const [key, srv] of this.pods) {
      const pod = key.split("/")[1]!;
      if (pod.startsWith(podPrefix)) for (const r of srv.requests) out.push({ ...r, pod });
    }
    return out;
  }

  clearRequests(): void {
    for (const srv of this.pods.values()) srv.requests.length = 0;
  }

  /**
   * Writes (or with null, deletes) case files and waits until the gateway serves a newer snapshot.
   * A change that does not alter the data plane (status only) produces no new version, so the wait
   * is bounded and callers poll for what they expect afterwards.
   */
  async apply(files: Record<string, string | null>, waitMs = 3000): Promise<ReadyState | null> {
    const before = (await this.gw.readyState())?.version ?? 0;
    for (const [rel, text] of Object.entries(files)) this.gw.write(rel, text === null ? null : await this.render(text));
    try {
      return await this.gw.waitReady(before + 1, waitMs);
    } catch {
      return null;
    }
  }

  async stop(): Promise<void> {
    if (this.gw) await this.gw.stop();
    await Promise.all([...this.pods.values()].map((p) => p.close()));
  }
}

async function startPod(spec: string): Promise<EchoServer> {
  const [namespace, pod, kind] = spec.split("/") as [string, string, PodKind];
  if (!namespace || !pod || !kind) throw new Error(`bad endpoint placeholder "${spec}" (want NS/POD/KIND)`);
  const service = pod.replace(/-pod-\d+$/, "");
  if (kind === "retry") return startRetryBackend({ namespace, pod, service });
  if (isL4PodKind(kind)) return startL4Pod(kind, { namespace, pod, service });
  if (isBackendTlsPodKind(kind)) return startBackendTlsPod(kind, { namespace, pod, service });
  return startEchoServer({ namespace, pod, service, h2c: kind === "h2c" });
}
