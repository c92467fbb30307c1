// TCP echo server, the backend of the L4 comparison: every byte read is written back, with
// back-pressure (pipe pauses the read side while the write side is full); a FIN is answered with a FIN.
// Usage: node --import tsx bench/origin-tcp.ts PORT
import net from "node:net";

const port = Number(process.argv[2]);
const server = net.createServer((s) => {
  s.setNoDelay(true);
  s.on("error", () => s.destroy());
  s.pipe(s);
});
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  // Open connections would keep close() waiting.
  setTimeout(() => process.exit(0), 200).unref();
});
