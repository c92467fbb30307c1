// Help texts. Kept next to the option tables in the command modules; tests check each flag is listed.
export const TOP_USAGE = `Usage: sluice <command> [options]

An API gateway configured with the Kubernetes Gateway API from a folder of YAML.

Commands:
  run        Run the gateway on a configuration folder
  validate   Check a configuration folder and print every error and warning
  status     Print each resource with its status conditions (from a running gateway)
  doctor     Report what the kernel and privileges allow for the eBPF data path
  observe    Print the flow stream of a running gateway (kernel, L4 and HTTP flows)
  version    Print the version

Options:
  -h, --help     Show this help (also: sluice <command> --help)
  -v, --version  Print the version

Exit codes: 0 ok, 1 failure (e.g. configuration errors), 2 usage error.
`;

export const RUN_USAGE = `Usage: sluice run --config DIR [options]

Runs the gateway: watches DIR (YAML files, subfolders included), serves its Gateways' listeners
from worker processes, and applies every change as a new snapshot. A folder with errors keeps
the last good configuration serving; at start, nothing is served until the errors are fixed.

Options:
  -c, --config DIR          Configuration folder (required)
      --workers N           Worker processes (default: available CPUs)
      --admin-port P        Admin server port (default: 9901)
      --admin-address A     Admin server address (default: 127.0.0.1)
      --listen-address A    Bind listeners to this address only (default: all IPv4 and IPv6 addresses)
      --access-log DEST     stdout, off, or a file path (default: stdout)
      --log-level L         fatal, error, warn, info, debug, trace or silent (default: info)
      --demo-backends       Start an echo server on each 127.0.0.1 endpoint of the folder's
                            Backends labelled sluice.dev/demo: echo
      --l4-lb-cgroup PATH   Kernel L4 load balancing for the processes in this cgroup v2 (absolute,
                            or relative to the cgroup2 mount; created when missing): their
                            connect()/sendmsg() to a TCP/UDP listener or a Service cluster IP go
                            straight to a backend picked by Maglev hashing (default: off)
      --no-sockmap          Turn off socket acceleration (on by default where the kernel and
                            privileges allow: sock_ops + sk_msg pass bytes between local TCP
                            sockets of the gateway and its same-host backends directly)
      --cgroup PATH         cgroup v2 directory the gateway creates, moves its processes into and
                            attaches socket acceleration to (default: <cgroup2 mount>/sluice-<pid>;
                            never the root cgroup; removed at stop when the gateway created it)
      --l4-relay MODE       How TCPRoute / TLS passthrough bytes are relayed: uring (io_uring
                            recv/send on a relay thread of each worker, Linux 6.1+), thread
                            (splice(2) through a pipe, on a relay thread), kernel (eBPF sockmap
                            sk_skb splice: no proxy CPU, but the work lands on the sending CPU)
                            or userspace. Falls back kernel -> uring -> thread -> userspace
                            where one is unavailable (default: uring)
      --no-splice           Same as --l4-relay userspace
      --interface NAME      Enforce network policy (CiliumNetworkPolicy) in the kernel on this
                            interface: XDP, tcx ingress where XDP does not attach. Repeatable.
                            Without it, or without eBPF, policy is enforced at accept time only
      --no-ebpf             Never use the kernel datapath for network policy (userspace only)
      --bpffs PATH          bpffs mount for pinned policy state, mounted when missing (default:
                            /sys/fs/bpf); pins live under PATH/sluice/<interface>
      --redis-url URL       Redis for global rate limits (BackendTrafficPolicy rateLimit.type
                            Global), shared by every gateway using it, e.g. redis://127.0.0.1:6379
      --control-nice N      Scheduling priority (nice, -20..19) of the control process, so route
                            changes do not wait behind workers that keep every core busy; workers
                            keep the gateway's own (default: -5, e.g. --control-nice=-10; below
                            the current value it needs CAP_SYS_NICE, else it stays as started and
                            the log says so)
      --no-realtime-changes Keep route changes in the normal scheduling class. By default a change
                            runs in the real-time class (SCHED_RR, lowest priority) for the
                            milliseconds it takes: the control process until every worker serves
                            it, each worker until it has applied it; at most 1 s. Needs
                            CAP_SYS_NICE, else changes keep the normal class and the log says so
  -h, --help                Show this help

Logs are JSON lines on stderr; the access log is JSON lines on stdout by default.
SIGINT/SIGTERM stop cleanly (kernel programs detached). SIGUSR2 stops for a restart: the pinned
network policy keeps enforcing until the next \`sluice run\` with the same --bpffs takes it over.
The control process runs node with --no-memory-reducer (first route changes after an idle spell stay
fast; it costs memory) and --no-parallel-scavenge (no collection waits for V8's helper threads while
a change runs real-time): started without them, it re-executes itself with them, same pid.
SLUICE_NODE_FLAGS=off in the environment keeps node's defaults.
`;

export const VALIDATE_USAGE = `Usage: sluice validate DIR [options]

Loads and translates the configuration folder DIR as \`sluice run\` would, and prints every error
and warning with its file:line:column, kind namespace/name, field, what is wrong and what is expected.

Options:
  -o, --output FORMAT   text or json (default: text)
  -h, --help            Show this help

Exit codes: 0 no errors (warnings allowed), 1 errors found, 2 usage error.
`;

export const STATUS_USAGE = `Usage: sluice status [options]

Asks a running gateway's admin server for every resource and prints its status conditions.

Options:
      --admin URL       Admin server URL (default: http://127.0.0.1:9901)
  -o, --output FORMAT   table, yaml or json (default: table)
  -h, --help            Show this help

Exit codes: 0 ok, 1 the admin server could not be reached, 2 usage error.
`;

export const VERSION_USAGE = `Usage: sluice version

Prints the version of sluice.

Options:
  -h, --help    Show this help
`;

export const DOCTOR_USAGE = `Usage: sluice doctor [options]

Reports what this machine allows for the eBPF data path: kernel, privileges, bpffs and cgroup2
mounts, BTF, the system libbpf, and whether a trivial program and the edge-policy program load;
whether io_uring is usable (the default L4 relay needs it; else L4 routes use the splice(2) thread);
then the network policy pinned by running gateways: what is attached where, map sizes, counters.

Options:
      --bpffs PATH      bpffs mount the gateways pin under (default: /sys/fs/bpf)
  -o, --output FORMAT   text or json (default: text)
  -h, --help            Show this help
`;

export const OBSERVE_USAGE = `Usage: sluice observe [options]

Prints the flow stream of a running gateway, live, from its admin server (GET /flows):
  kernel  edge network policy events: a new flow (first allowed packet of a 5-tuple) or a drop
          (per 5-tuple, at most one event a second, counting the packets dropped since the last)
  l4      one record per TCP / TLS passthrough connection or UDP session, when it ends
  l7      one record per HTTP request, when it ends
Verdicts: forwarded, dropped (policy drop, no route, or refused by the gateway with 4xx/5xx),
answered (redirects, direct responses), error (the backend could not be reached).

Filters may be repeated (any value matches) and combined (all must match):
      --from X          Source: a CIDR or address, or the name of the listener the flow came in on
      --to X            Destination: a CIDR or address, or a listener, route or backend name
      --verdict V       forwarded, dropped, answered or error
      --port P          Source or destination port (for HTTP, the listener's port)
      --protocol P      tcp, udp, icmp, ... or http, tls
A name matches when its "/"-separated parts appear in the full name: "web", "default/web" and
"httproute/default/web" all match route "httproute/default/web/rule/0/match/0".

Options:
      --admin URL       Admin server URL (default: http://127.0.0.1:9901)
      --last N          First print the N most recent matching flows (default 0)
      --no-follow       Print the most recent flows (--last, default 100) and exit
  -o, --output FORMAT   text or json (one JSON object a line) (default: text)
  -h, --help            Show this help

Exit codes: 0 stopped by Ctrl-C (or done with --no-follow), 1 the gateway could not be reached or
closed the stream, 2 usage error.
`;
