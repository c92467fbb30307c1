// The libc calls Sluice makes through koffi, declared in one place. koffi functions do not cross
// threads: a worker thread that imports this module gets its own binding from libc(), of the same
// prototypes.
// Conventions are libc's: -1 and errno (read with errno()) on failure, unless noted.
import { createRequire } from "node:module";
import { constants } from "node:os";
import type * as KoffiNs from "koffi";

export type Koffi = typeof KoffiNs;

/** Prototypes by name. Pointers to caller memory are `void *` (a Buffer is passed as is, no copy). */
export const LIBC_DECLS = {
  close: "int close(int fd)",
  read: "long read(int fd, void *buf, size_t n)",
  write: "long write(int fd, void *buf, size_t n)",
  setns: "int setns(int fd, int nstype)",
  if_nametoindex: "unsigned int if_nametoindex(const char *name)",
  getsockopt: "int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *len)",
  setsockopt: "int setsockopt(int fd, int level, int name, void *value, uint32_t len)",
  shutdown: "int shutdown(int fd, int how)",
  vsnprintf: "int vsnprintf(void *buf, size_t size, const char *fmt, void *ap)",
  mount: "int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)",
  epoll_create1: "int epoll_create1(int flags)",
  epoll_ctl: "int epoll_ctl(int epfd, int op, int fd, void *event)",
  epoll_wait: "int epoll_wait(int epfd, void *events, int maxevents, int timeout)",
  eventfd: "int eventfd(unsigned int initval, int flags)",
  pipe2: "int pipe2(void *fds, int flags)",
  // Declared with a fixed third int: the commands used here (F_DUPFD_CLOEXEC, F_SETPIPE_SZ,
  // F_GETPIPE_SZ) take an int, which the Linux ABIs pass like a non-variadic argument.
  fcntl: "int fcntl(int fd, int cmd, int arg)",
  splice: "long splice(int fd_in, void *off_in, int fd_out, void *off_out, size_t len, unsigned int flags)",
  // Buffer by address (koffi.address()): a number converts faster than a Buffer.
  read_at: "long read(int fd, intptr_t buf, size_t n)",
  write_at: "long write(int fd, intptr_t buf, size_t n)",
  // Arrays of strings end with null, as C's do.
  execve: "int execve(const char *path, const char **argv, const char **envp)",
  // pid 0 is the calling thread; another thread's id changes that thread only.
  sched_setscheduler: "int sched_setscheduler(int pid, int policy, void *param)",
} as const;

export type LibcName = keyof typeof LIBC_DECLS;
type Fn = ((...args: unknown[]) => number) & { async: (...args: unknown[]) => void };
export type LibcFns = Record<LibcName, Fn>;

export const O_NONBLOCK = 0o4000;
export const O_CLOEXEC = 0o2000000;
/** EPOLL_CLOEXEC and EFD_CLOEXEC are O_CLOEXEC. */
export const EPOLL_CLOEXEC = O_CLOEXEC;
export const F_SETFD = 2;
export const F_DUPFD_CLOEXEC = 1030;
export const F_SETPIPE_SZ = 1031;
export const F_GETPIPE_SZ = 1032;
export const SHUT_WR = 1;
export const SHUT_RDWR = 2;
export const SOL_SOCKET = 1;
export const SO_LINGER = 13;
export const EPOLLIN = 0x1;
export const EPOLLOUT = 0x4;
export const EPOLLERR = 0x8;
export const EPOLLHUP = 0x10;
export const EPOLLRDHUP = 0x2000;
export const EPOLLONESHOT = 1 << 30;
export const EPOLL_CTL_ADD = 1;
export const EPOLL_CTL_DEL = 2;
export const EPOLL_CTL_MOD = 3;
export const EAGAIN = 11;
export const EINTR = 4;
export const EIO = 5;
export const SPLICE_F_MOVE = 1;
export const SPLICE_F_NONBLOCK = 2;
/** struct epoll_event is packed on x86-64 (12 bytes), naturally aligned elsewhere (16). */
export const EPOLL_EVENT_SIZE = process.arch === "x64" ? 12 : 16;
export const EPOLL_DATA_OFFSET = process.arch === "x64" ? 4 : 8;

/** "EPERM (1)" for 1 or -1. */
export function errnoName(errno: number): string {
  const n = Math.abs(errno);
  const name = Object.entries(constants.errno).find(([, v]) => v === n)?.[0];
  return name ? `${name} (${n})` : `errno ${n}`;
}

function bindLibcIn(koffi: Koffi, decls: Record<string, string>): LibcFns {
  const lib = koffi.load("libc.so.6");
  const out: Record<string, unknown> = {};
  for (const [name, decl] of Object.entries(decls)) out[name] = lib.func(decl);
  return out as LibcFns;
}

export interface Libc extends LibcFns {
  koffi: Koffi;
  /** errno of the last call on this thread. */
  errno(): number;
}

let cached: Libc | undefined;
let loadError: Error | undefined;

/** This thread's libc binding, made on first use. Throws (every time) when koffi cannot load libc. */
export function libc(): Libc {
  if (cached) return cached;
  if (loadError) throw loadError;
  try {
    const require = createRequire(import.meta.url);
    const koffi = require("koffi") as Koffi;
    cached = { ...bindLibcIn(koffi, LIBC_DECLS), koffi, errno: () => koffi.errno() };
    return cached;
  } catch (e) {
    loadError = new Error(`libc is not usable through koffi: ${(e as Error).message}`);
    throw loadError;
  }
}
