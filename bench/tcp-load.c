// TCP load generator for the L4 comparison (wrk speaks only HTTP). One thread, one epoll loop,
// pinned by the caller with taskset, against an echo server behind the proxy under test:
//
//   pingpong  N connections, each sends one message of --size bytes and waits for all of it to
//             come back before sending the next: round trips/s and their latency (p50, p99).
//   stream    N connections, each keeps writing --size byte buffers as fast as the socket takes
//             them and reads the echo: bytes/s that made the round trip through the proxy (each
//             byte crosses the proxy twice, once each way).
//
// Prints one JSON object (TcpLoadResult in bench/lib/l4.ts) on stdout. In C because a Node client
// spent about as much CPU per round trip as the proxies it measured and, sharing a core with the
// echo server, saturated that core first (bench/README.md has the figures).
//
// Usage: tcp-load --port P [--host 127.0.0.1|::1] [--mode pingpong|stream] [--conns N] [--seconds S] [--size B]
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_US 1000000 // latency histogram: 1 us buckets up to 1 s, one overflow bucket
static uint32_t hist[MAX_US + 1];
static char rbuf[256 * 1024]; // one thread: every read lands here

struct conn {
  int fd;
  size_t sent; // bytes of the current buffer written (a write can be partial)
  size_t got;  // pingpong: bytes of the current message echoed so far
  int64_t sent_at;
};

static int stream, ep;
static size_t len;
static char *payload;
static uint64_t errors;

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void usage(void) {
  fprintf(stderr, "usage: tcp-load --port P [--host 127.0.0.1|::1] [--mode pingpong|stream] [--conns N] [--seconds S] [--size B]\n");
  exit(2);
}

// The whole string must be a number: a typo must not silently become 0.
static double num(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (*s == '\0' || *end != '\0') usage();
  return v;
}

static int whole(double v, double lo, double hi) { return v >= lo && v <= hi && v == (double)(long)v; }

// A connection that failed, was reset or closed before the end of the run.
static void fail(struct conn *c) {
  errors++;
  close(c->fd); // also drops it from the epoll set
  c->fd = -1;
}

static void want_out(struct conn *c, int on) {
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) fail(c);
}

// Writes the rest of the current buffer: 0 when done, 1 when the socket is full, -1 on error.
static int write_rest(struct conn *c) {
  while (c->sent < len) {
    ssize_t w = write(c->fd, payload + c->sent, len - c->sent);
    if (w > 0) c->sent += (size_t)w;
    else if (w < 0 && errno == EAGAIN) return 1;
    else return -1;
  }
  return 0;
}

// Pingpong: the next message; EPOLLOUT only while it could not be written at once (rare at 64 B).
static void send_msg(struct conn *c, int64_t now) {
  c->sent = 0;
  c->sent_at = now;
  int r = write_rest(c);
  if (r < 0) fail(c);
  else if (r > 0) want_out(c, 1);
}

// The smallest latency that at least pct% of the round trips did not exceed.
static uint64_t percentile_us(uint64_t ops, uint64_t pct) {
  uint64_t want = (ops * pct + 99) / 100, seen = 0;
  for (int i = 0; i <= MAX_US; i++)
    if ((seen += hist[i]) >= want) return (uint64_t)i;
  return MAX_US;
}

int main(int argc, char **argv) {
  const char *host = "127.0.0.1", *mode = "pingpong";
  double port = 0, conns = 64, seconds = 5, size = 64;
  for (int i = 1; i < argc; i++) { // --name value or --name=value
    const char *k = argv[i], *eq = strchr(k, '=');
    size_t kl = eq ? (size_t)(eq - k) : strlen(k);
    const char *v = eq ? eq + 1 : i + 1 < argc ? argv[++i] : NULL;
    if (v == NULL) usage();
#define IS(name) (kl == strlen(name) && strncmp(k, name, kl) == 0)
    if (IS("--host")) host = v;
    else if (IS("--port")) port = num(v);
    else if (IS("--mode")) mode = v;
    else if (IS("--conns")) conns = num(v);
    else if (IS("--seconds")) seconds = num(v);
    else if (IS("--size")) size = num(v);
    else usage();
  }
  stream = strcmp(mode, "stream") == 0;
  if ((!stream && strcmp(mode, "pingpong") != 0) || !whole(port, 1, 65535) || !whole(conns, 1, 60000) || !(seconds > 0 && seconds <= 86400) ||
      !whole(size, 1, 1 << 24))
    usage();

  // Loopback only: this tool floods whatever it points at.
  struct sockaddr_storage sa = {0};
  socklen_t salen;
  struct sockaddr_in *a4 = (struct sockaddr_in *)&sa;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&sa;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1 && ntohl(a4->sin_addr.s_addr) >> 24 == 127) {
    a4->sin_family = AF_INET, a4->sin_port = htons((uint16_t)port), salen = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr)) {
    a6->sin6_family = AF_INET6, a6->sin6_port = htons((uint16_t)port), salen = sizeof *a6;
  } else {
    fprintf(stderr, "tcp-load: --host must be a loopback address (127.0.0.0/8 or ::1), got %s\n", host);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN); // a write to a reset connection is counted as an error, not fatal

  int n = (int)conns;
  len = (size_t)size;
  payload = malloc(len);
  struct conn *cs = calloc((size_t)n, sizeof *cs);
  ep = epoll_create1(0);
  if (!payload || !cs || ep < 0) return perror("tcp-load: setup"), 1;
  memset(payload, 'a', len);

  // Blocking connects one after the other (a burst could overflow the listener's backlog), each
  // bounded by a 5 s timeout; then non-blocking for the run. Stream always wants both directions.
  for (int i = 0; i < n; i++) {
    int fd = socket(sa.ss_family, SOCK_STREAM, 0), one = 1;
    struct timeval tmo = {.tv_sec = 5};
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof tmo);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, salen) < 0) {
      fprintf(stderr, "tcp-load: connection %d to %s port %d: %s\n", i + 1, host, (int)port, strerror(errno));
      return 1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {.events = EPOLLIN | (stream ? EPOLLOUT : 0), .data.ptr = &cs[i]};
    if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) return perror("tcp-load: socket setup"), 1;
    cs[i].fd = fd;
  }

  // Traffic starts at once; the window opens after a short settle (connections started, buffers
  // filled) and lasts --seconds. Only what completes inside it is counted.
  uint64_t ops = 0, bytes = 0;
  int measuring = 0;
  int64_t dur = (int64_t)(seconds * 1e9), t0 = now_ns() + (int64_t)((seconds < 5 ? seconds * 0.1 : 0.5) * 1e9), now;
  if (!stream)
    for (int i = 0; i < n; i++) send_msg(&cs[i], now_ns());
  struct epoll_event evs[256];
  for (;;) {
    now = now_ns();
    if (!measuring && now >= t0) measuring = 1, t0 = now;
    if (measuring && now >= t0 + dur) break;
    int64_t wait_ns = (measuring ? t0 + dur : t0) - now;
    int k = epoll_wait(ep, evs, 256, (int)((wait_ns + 999999) / 1000000));
    if (k < 0 && errno != EINTR) return perror("tcp-load: epoll_wait"), 1;
    for (int e = 0; e < k; e++) {
      struct conn *c = evs[e].data.ptr;
      uint32_t what = evs[e].events;
      // Errors and hang-ups surface as a failed or empty read.
      if (c->fd >= 0 && what & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        ssize_t r = read(c->fd, rbuf, sizeof rbuf);
        if (r == 0 || (r < 0 && errno != EAGAIN)) fail(c);
        else if (r > 0 && stream) bytes += measuring ? (uint64_t)r : 0;
        else if (r > 0 && (c->got += (size_t)r) >= len) {
          int64_t t = now_ns();
          c->got -= len;
          if (measuring) {
            int64_t us = (t - c->sent_at + 500) / 1000;
            hist[us < MAX_US ? us : MAX_US]++;
            ops++;
          }
          send_msg(c, t);
        }
      }
      if (c->fd >= 0 && what & EPOLLOUT) {
        // Stream: a few buffers per wake-up, so reads and the clock are not starved when the
        // kernel takes every write (level-triggered: a still-writable socket comes back).
        for (int w = 0; w < 8 && c->fd >= 0; w++) {
          if (stream && c->sent == len) c->sent = 0;
          int r = write_rest(c);
          if (r < 0) fail(c);
          else if (r > 0) break;
          else if (!stream) want_out(c, 0); // pingpong: the message is out, wait for its echo
          if (!stream) break;
        }
      }
    }
  }
  double elapsed = (double)(now - t0) / 1e9;
  char p50[24] = "null", p99[24] = "null";
  if (ops > 0) {
    snprintf(p50, sizeof p50, "%llu", (unsigned long long)percentile_us(ops, 50));
    snprintf(p99, sizeof p99, "%llu", (unsigned long long)percentile_us(ops, 99));
  }
  printf("{\"mode\":\"%s\",\"conns\":%d,\"size\":%zu,\"seconds\":%.6f,\"ops\":%llu,\"opsPerSec\":%.3f,\"bytesPerSec\":%.3f,"
         "\"p50us\":%s,\"p99us\":%s,\"errors\":%llu}\n",
         mode, n, len, elapsed, (unsigned long long)ops, (double)ops / elapsed,
         (double)(stream ? bytes : ops * len) / elapsed, p50, p99, (unsigned long long)errors);
  return 0; // exit closes every connection
}
