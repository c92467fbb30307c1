// Runs inside a test network namespace (`ip netns exec <ns> node netns-agent.mjs`) and serves
// JSON-line commands on stdin: listen (TCP/UDP servers that log who reached them), tcp/udp
// (client attempts from a chosen local address) and events (what the servers saw).
import net from "node:net";
import dgram from "node:dgram";
import { createInterface } from "node:readline";

const events = [];
const servers = [];

function reply(id, body) {
  process.stdout.write(JSON.stringify({ id, ...body }) + "\n");
}

async function handle(cmd) {
  switch (cmd.op) {
    case "listen": {
      if (cmd.proto === "tcp") {
        const srv = net.createServer((s) => {
          events.push({ proto: "tcp", port: cmd.port, from: s.remoteAddress });
          s.end("hi");
          s.on("error", () => {});
        });
        await new Promise((res, rej) => srv.once("error", rej).listen(cmd.port, cmd.host, res));
        servers.push(srv);
      } else {
        const sock = dgram.createSocket(cmd.host.includes(":") ? "udp6" : "udp4");
        sock.on("message", (_m, rinfo) => events.push({ proto: "udp", port: cmd.port, from: rinfo.address }));
        await new Promise((res, rej) => sock.once("error", rej).bind(cmd.port, cmd.host, res));
        servers.push(sock);
      }
      return {};
    }
    case "events":
      return { events: events.splice(0) };
    case "tcp": {
      const ok = await new Promise((res) => {
        const s = net.connect({ host: cmd.to, port: cmd.port, localAddress: cmd.from });
        const t = setTimeout(() => {
          s.destroy();
          res(false);
        }, cmd.timeoutMs ?? 400);
        s.on("connect", () => {
          clearTimeout(t);
          s.destroy();
          res(true);
        });
        s.on("error", () => {
          clearTimeout(t);
          res(false);
        });
      });
      return { ok };
    }
    case "udp": {
      const sock = dgram.createSocket(cmd.to.includes(":") ? "udp6" : "udp4");
      await new Promise((res) => sock.bind(0, cmd.from, res));
      await new Promise((res) => sock.send("x", cmd.port, cmd.to, res));
      sock.close();
      return { ok: true };
    }
    default:
      throw new Error(`unknown op ${cmd.op}`);
  }
}

createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line);
  handle(cmd).then(
    (body) => reply(cmd.id, body),
    (err) => reply(cmd.id, { error: String(err?.message ?? err) }),
  );
});
process.stdin.on("end", () => process.exit(0));
reply(0, { ready: true });
