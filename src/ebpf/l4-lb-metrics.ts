// The kernel L4 load balancer's counters on /metrics, read from its maps at scrape time (the
// kernel counts; nothing runs per connection in userspace).
import { Counter, type Registry } from "prom-client";
import type { L4LbPlane } from "./l4-lb.js";

export function registerL4LbMetrics(registry: Registry, plane: () => L4LbPlane | null): void {
  const read = (): ReturnType<L4LbPlane["lb"]["counters"]> | null => {
    const p = plane();
    if (!p) return null;
    try {
      return p.lb.counters();
    } catch {
      // Closed while scraping: nothing to report.
      return null;
    }
  };
  new Counter({
    name: "sluice_l4lb_decisions_total",
    help: "Connections (connect) and datagrams (sendmsg) the kernel load balancer sent to a backend, per service.",
    labelNames: ["service", "hook"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, c] of Object.entries(read() ?? {})) {
        this.inc({ service, hook: "connect" }, c.connect);
        this.inc({ service, hook: "sendmsg" }, c.sendmsg);
      }
    },
  });
  new Counter({
    name: "sluice_l4lb_refused_total",
    help: "Connections and datagrams the kernel load balancer refused (the share of an unresolved backendRef), per service.",
    labelNames: ["service"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, c] of Object.entries(read() ?? {})) this.inc({ service }, c.refused);
    },
  });
  new Counter({
    name: "sluice_l4lb_backend_picks_total",
    help: "Picks of each backend address by the kernel load balancer.",
    labelNames: ["service", "backend"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [service, c] of Object.entries(read() ?? {})) for (const [backend, n] of Object.entries(c.backends)) this.inc({ service, backend }, n);
    },
  });
}
