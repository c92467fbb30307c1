// Minimal node:http origin for the benchmark: paths ending in "64k" get 64 KiB, everything else 20 B.
// Usage: node --import tsx bench/origin-node.ts PORT
import http from "node:http";

const port = Number(process.argv[2]);
const small = Buffer.from("0123456789abcdefghi\n"); // 20 B
const large = Buffer.alloc(64 * 1024, "x");
const server = http.createServer((req, res) => {
  const body = req.url?.endsWith("64k") ? large : small;
  res.writeHead(200, { "content-type": "application/octet-stream", "content-length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 60_000;
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => server.close(() => process.exit(0)));
