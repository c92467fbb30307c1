// TCP echo server, the backend of the L4 comparison: one thread, one epoll loop, listening on
// 127.0.0.1:PORT. Every byte read is written back with back-pressure: while a connection's echo is
// not fully written it is not read (its peer's sends then stall in the kernel), and EPOLLOUT
// finishes the write. A FIN is answered with a FIN once everything read has been echoed. In C
// because a Node echo server cost more CPU per round trip than the proxies it sat behind
// (bench/README.md has the figures). Exits 0 on SIGTERM or SIGINT.
//
// Usage: origin-tcp PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF (64 * 1024)

struct conn {
  int fd;
  size_t off, len; // unsent echo: buf[off, len)
  char buf[BUF];
};

static volatile sig_atomic_t stopping;
static void on_signal(int sig) { (void)sig, stopping = 1; }

static int ep;

static void drop(struct conn *c) {
  close(c->fd); // also drops it from the epoll set
  free(c);
}

static void watch(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) drop(c);
}

// Writes the pending echo: 0 when all of it is out, 1 when the socket is full, -1 on error.
static int flush(struct conn *c) {
  while (c->off < c->len) {
    ssize_t w = write(c->fd, c->buf + c->off, c->len - c->off);
    if (w > 0) c->off += (size_t)w;
    else if (w < 0 && errno == EAGAIN) return 1;
    else return -1;
  }
  c->off = c->len = 0;
  return 0;
}

// After a FIN, and once the echo is out: our FIN, then the connection is done both ways.
static void finish(struct conn *c) {
  shutdown(c->fd, SHUT_WR);
  drop(c);
}

// Reads and echoes; a full read means more may be waiting, a short one that the socket is empty
// (level-triggered epoll calls again if not), which saves a read that would say EAGAIN.
static void on_readable(struct conn *c) {
  for (int i = 0; i < 16; i++) {
    ssize_t r = read(c->fd, c->buf, BUF);
    if (r < 0 && errno == EAGAIN) return;
    if (r < 0) return drop(c);
    if (r == 0) return finish(c); // the FIN: nothing is pending, as we read only with nothing pending
    c->len = (size_t)r;
    int f = flush(c);
    if (f < 0) return drop(c);
    if (f > 0) return watch(c, EPOLLOUT); // back-pressure: stop reading until the echo is out
    if (r < BUF) return;
  }
}

static void on_writable(struct conn *c) {
  int f = flush(c);
  if (f < 0) drop(c);
  else if (f == 0) watch(c, EPOLLIN); // a FIN behind the echoed bytes is read there
}

int main(int argc, char **argv) {
  char *end;
  long port = argc == 2 ? strtol(argv[1], &end, 10) : 0;
  if (argc != 2 || *end != '\0' || port < 1 || port > 65535) {
    fprintf(stderr, "usage: origin-tcp PORT\n");
    return 2;
  }
  // SIGTERM/SIGINT stay blocked except inside epoll_pwait, so one cannot slip in between the
  // check of `stopping` and the wait.
  sigset_t block, during;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &during);
  sigdelset(&during, SIGTERM);
  sigdelset(&during, SIGINT);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN); // a write to a reset peer fails with EPIPE and drops the connection

  int one = 1, lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ep = epoll_create1(0);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL}; // NULL marks the listener
  if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 1024) < 0 || ep < 0 ||
      epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &lev) < 0) {
    fprintf(stderr, "origin-tcp: listen on 127.0.0.1:%ld: %s\n", port, strerror(errno));
    return 1;
  }

  struct epoll_event evs[256];
  while (!stopping) {
    int k = epoll_pwait(ep, evs, 256, -1, &during);
    if (k < 0 && errno != EINTR) return perror("origin-tcp: epoll_pwait"), 1;
    for (int e = 0; e < k; e++) {
      struct conn *c = evs[e].data.ptr;
      if (c == NULL) {
        int fd;
        while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
          struct conn *nc = malloc(sizeof *nc);
          struct epoll_event ev = {.events = EPOLLIN, .data.ptr = nc};
          if (nc == NULL) {
            close(fd);
            continue;
          }
          nc->fd = fd, nc->off = nc->len = 0;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) drop(nc);
        }
        continue;
      }
      // One interest at a time: EPOLLIN while nothing is pending, EPOLLOUT while something is.
      // Errors and hang-ups surface as a failed read or write.
      if (c->len > c->off) on_writable(c);
      else on_readable(c);
    }
  }
  return 0; // exit closes every connection
}
