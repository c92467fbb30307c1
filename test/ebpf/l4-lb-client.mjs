// Client process for the L4 LB tests, started inside the test cgroup (so the cgroup's sock_addr
// programs apply to its sockets). Serves JSON-line commands on stdin; every backend answers each
// connection / line / datagram with its name, so the client learns which backend it reached.
//   connect {host, port, n}      n short TCP connections: backend, local port, getpeername port
//   open {host, port, n}         n long-lived TCP connections, kept under ids
//   ping {}                      one line on every open connection: the backend that answers
//   close {}                     closes the open connections
//   udp {host, port, n}          n unconnected UDP sockets, one datagram each (sockets kept)
//   udp-again {}                 one more datagram on every kept UDP socket
//   udp-connected {host, port}   a connected UDP socket: backend and the peer the socket reports
import net from "node:net";
import dgram from "node:dgram";
import { createInterface } from "node:readline";

const open = [];
const udpSockets = [];
const TIMEOUT = 3000;

function reply(id, body) {
  process.stdout.write(JSON.stringify({ id, ...body }) + "\n");
}

function lineReader(s) {
  let buf = "";
  const waiting = [];
  s.on("data", (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      waiting.shift()?.(line);
    }
  });
  return () =>
    new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error("no line from the backend")), TIMEOUT);
      waiting.push((l) => {
        clearTimeout(t);
        res(l);
      });
    });
}

function tcp(host, port) {
  return new Promise((res) => {
    const s = net.connect({ host, port });
    const next = lineReader(s);
    const t = setTimeout(() => {
      s.destroy();
      res({ error: "timeout" });
    }, TIMEOUT);
    s.once("error", (e) => {
      clearTimeout(t);
      res({ error: e.code ?? e.message });
    });
    s.once("connect", async () => {
      try {
        const backend = await next();
        clearTimeout(t);
        res({ s, next, backend, localPort: s.localPort, peerPort: s.remotePort, peerAddress: s.remoteAddress });
      } catch (e) {
        res({ error: e.message });
      }
    });
  });
}

function udpOnce(sock, host, port) {
  return new Promise((res) => {
    const t = setTimeout(() => {
      sock.off("message", on);
      res({ error: "timeout" });
    }, TIMEOUT);
    const on = (m, rinfo) => {
      clearTimeout(t);
      sock.off("message", on);
      res({ backend: m.toString(), from: `${rinfo.address}:${rinfo.port}` });
    };
    sock.on("message", on);
    sock.send("who", port, host, (e) => {
      if (e) {
        clearTimeout(t);
        sock.off("message", on);
        res({ error: e.code ?? e.message });
      }
    });
  });
}

async function handle(cmd) {
  switch (cmd.op) {
    case "connect": {
      const out = [];
      for (let i = 0; i < cmd.n; i++) {
        const r = await tcp(cmd.host, cmd.port);
        r.s?.destroy();
        out.push({ backend: r.backend, error: r.error, localPort: r.localPort, peerPort: r.peerPort, peerAddress: r.peerAddress });
      }
      return { results: out };
    }
    case "open": {
      const out = [];
      for (let i = 0; i < cmd.n; i++) {
        const r = await tcp(cmd.host, cmd.port);
        if (r.s) open.push(r);
        out.push({ backend: r.backend, error: r.error });
      }
      return { results: out };
    }
    case "ping": {
      const out = [];
      for (const c of open) {
        c.s.write("ping\n");
        try {
          out.push({ backend: await c.next() });
        } catch (e) {
          out.push({ error: e.message });
        }
      }
      return { results: out };
    }
    case "close":
      for (const c of open.splice(0)) c.s.destroy();
      return {};
    case "udp": {
      const out = [];
      for (let i = 0; i < cmd.n; i++) {
        const sock = dgram.createSocket(cmd.host.includes(":") ? "udp6" : "udp4");
        udpSockets.push({ sock, host: cmd.host, port: cmd.port });
        out.push(await udpOnce(sock, cmd.host, cmd.port));
      }
      return { results: out };
    }
    case "udp-again": {
      const out = [];
      for (const u of udpSockets) out.push(await udpOnce(u.sock, u.host, u.port));
      return { results: out };
    }
    case "udp-connected": {
      const sock = dgram.createSocket(cmd.host.includes(":") ? "udp6" : "udp4");
      try {
        await new Promise((res, rej) => {
          sock.once("error", rej);
          sock.connect(cmd.port, cmd.host, res);
        });
        const peer = sock.remoteAddress();
        const r = await new Promise((res) => {
          const t = setTimeout(() => res({ error: "timeout" }), TIMEOUT);
          sock.once("message", (m, rinfo) => {
            clearTimeout(t);
            res({ backend: m.toString(), from: `${rinfo.address}:${rinfo.port}` });
          });
          sock.send("who");
        });
        return { ...r, peer: `${peer.address}:${peer.port}` };
      } finally {
        sock.close();
      }
    }
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

reply(0, { ready: true, pid: process.pid });
createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    reply(cmd.id, await handle(cmd));
  } catch (e) {
    reply(cmd.id, { error: e.message });
  }
});
process.stdin.on("end", () => {
  for (const c of open) c.s.destroy();
  for (const u of udpSockets) u.sock.close();
  process.exit(0);
});
