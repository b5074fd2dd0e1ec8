/* SPDX-License-Identifier: MIT */
/*
 * Test-only fault injection by link-time wrapping (ld --wrap=SYMBOL).
 *
 * Linked only into tests/fault/fault_scenario (never into libcuprum): every
 * reference from the static library's objects to a wrapped libc function
 * goes to __wrap_NAME here, which counts the call and, when it is the
 * chosen call, fails it instead of calling __real_NAME.
 *
 * Driven by the environment, read once before main():
 *   CU_FAULT=SITE:N:MODE   fail the Nth call (1-based) of SITE with MODE
 *   CU_FAULT_COUNTS=FILE   at exit, write "SITE COUNT" lines for every site
 * SITE is a function name ("read", "malloc", ...), or for syscall(2) the
 * system call's name ("pidfd_open", "clone3", ...), or "fcntl_setpipe" for
 * fcntl(F_SETPIPE_SZ). MODE is an errno name (EINTR, EIO, ...), or "short"
 * (read/write/splice/tee move half the bytes asked for, at least one).
 *
 * Only the process that started counts or fails calls: a forked or
 * CLONE_VM child (the fork spawner) must neither bump counters shared with
 * the parent nor fail where the scenario run did not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "fault_wrap.h"

/* Declare __real_NAME (the libc function) and __wrap_NAME (ours). */
#define REAL(ret, name, ...)                                                   \
  ret __real_##name(__VA_ARGS__);                                             \
  ret __wrap_##name(__VA_ARGS__)

#define SITES(X)                                                              \
  X(malloc) X(calloc) X(realloc) X(pipe2) X(posix_spawn) X(fork)              \
  X(epoll_create1) X(epoll_ctl) X(epoll_wait) X(poll) X(timerfd_create)      \
  X(timerfd_settime) X(eventfd) X(open) X(fcntl) X(fcntl_setpipe) X(splice)  \
  X(tee) X(read) X(write) X(waitid) X(waitpid) X(pthread_create)             \
  X(pidfd_open) X(pidfd_send_signal) X(clone3) X(close_range)

enum site {
#define X(n) S_##n,
  SITES(X)
#undef X
  S__COUNT
};
static const char *const site_names[] = {
#define X(n) #n,
    SITES(X)
#undef X
};

static _Atomic unsigned long counts[S__COUNT];
static _Atomic int suspended; /* scenario bookkeeping: neither count nor fail */
static int target = -1;       /* site to fail, or -1 */
static unsigned long target_n;
static int target_errno;      /* 0 = "short" */
static pid_t owner;
static char counts_path[512];
static _Atomic int fired;

static const struct {
  const char *name;
  int value;
} errnos[] = {{"EINTR", EINTR},   {"EAGAIN", EAGAIN}, {"EIO", EIO},
              {"ENOMEM", ENOMEM}, {"EMFILE", EMFILE}, {"ENFILE", ENFILE},
              {"ENOSYS", ENOSYS}, {"EPERM", EPERM},   {"EINVAL", EINVAL},
              {"ECHILD", ECHILD}, {"EBADF", EBADF},   {"EPIPE", EPIPE},
              {"ENOSPC", ENOSPC}, {"EACCES", EACCES}, {"short", 0}};

__attribute__((constructor)) static void fault_init(void) {
  owner = getpid();
  const char *c = getenv("CU_FAULT_COUNTS");
  if (c)
    snprintf(counts_path, sizeof counts_path, "%s", c);
  const char *spec = getenv("CU_FAULT");
  if (!spec || !*spec)
    return;
  char site[64], mode[32];
  unsigned long n;
  if (sscanf(spec, "%63[^:]:%lu:%31s", site, &n, mode) != 3 || n == 0) {
    fprintf(stderr, "fault_wrap: bad CU_FAULT '%s'\n", spec);
    _exit(97);
  }
  for (int i = 0; i < S__COUNT; i++)
    if (!strcmp(site, site_names[i]))
      target = i;
  int found = 0;
  for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
    if (!strcmp(mode, errnos[i].name)) {
      target_errno = errnos[i].value;
      found = 1;
    }
  if (target < 0 || !found) {
    fprintf(stderr, "fault_wrap: unknown site or mode in '%s'\n", spec);
    _exit(97);
  }
  target_n = n;
}

bool cu_fault_suspend(bool on) {
  return atomic_exchange(&suspended, on ? 1 : 0) != 0;
}

bool cu_fault_fired(void) { return atomic_load(&fired) != 0; }

void cu_fault_write_counts(void) {
  if (!counts_path[0])
    return;
  cu_fault_suspend(true);
  FILE *f = fopen(counts_path, "we");
  if (!f)
    return;
  for (int i = 0; i < S__COUNT; i++)
    fprintf(f, "%s %lu\n", site_names[i], atomic_load(&counts[i]));
  fclose(f);
}

REAL(int, fcntl, int, int, ...);

/* Whether EAGAIN is something this call can return: only on a non-blocking
 * fd (a blocking read or write waits instead), and a read only when nothing
 * is waiting to be read (after tee(2) showed bytes, the read that takes
 * them cannot meet EAGAIN). */
static bool may_eagain(int fd, bool reading) {
  int fl = fd < 0 ? -1 : __real_fcntl(fd, F_GETFL);
  if (fl < 0 || !(fl & O_NONBLOCK))
    return false;
  int queued = 0;
  return !reading || ioctl(fd, FIONREAD, &queued) < 0 || queued == 0;
}

/* Count a call of `s`; true when this call is the one to fail (errno set
 * for the errno modes; *shorten set for "short"). `fd` is the descriptor a
 * read or write works on (else -1): EAGAIN is injected only where it can
 * happen, and otherwise the call counts as not reached. */
static bool hit_fd(enum site s, bool *shorten, int fd) {
  bool reading = s == S_read;
  if (atomic_load(&suspended) || getpid() != owner)
    return false;
  unsigned long k = atomic_fetch_add(&counts[s], 1) + 1;
  if ((int)s != target || k != target_n)
    return false;
  if (target_errno == EAGAIN && fd >= 0 && !may_eagain(fd, reading))
    return false;
  atomic_store(&fired, 1);
  if (target_errno == 0) {
    if (shorten) {
      *shorten = true;
      return false; /* the call goes ahead, shortened */
    }
    return false;   /* "short" means nothing for this site */
  }
  errno = target_errno;
  return true;
}

static bool hit(enum site s, bool *shorten) { return hit_fd(s, shorten, -1); }

static size_t halve(size_t n) { return n > 1 ? n / 2 : n; }

REAL(void *, malloc, size_t);
void *__wrap_malloc(size_t n) {
  return hit(S_malloc, NULL) ? NULL : __real_malloc(n);
}
REAL(void *, calloc, size_t, size_t);
void *__wrap_calloc(size_t a, size_t b) {
  return hit(S_calloc, NULL) ? NULL : __real_calloc(a, b);
}
REAL(void *, realloc, void *, size_t);
void *__wrap_realloc(void *p, size_t n) {
  return hit(S_realloc, NULL) ? NULL : __real_realloc(p, n);
}
REAL(int, pipe2, int *, int);
int __wrap_pipe2(int *fds, int flags) {
  return hit(S_pipe2, NULL) ? -1 : __real_pipe2(fds, flags);
}
REAL(int, posix_spawn, pid_t *, const char *, const posix_spawn_file_actions_t *,
     const posix_spawnattr_t *, char *const[], char *const[]);
int __wrap_posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *at, char *const argv[],
                       char *const envp[]) {
  if (hit(S_posix_spawn, NULL))
    return errno; /* posix_spawn reports its error as the return value */
  return __real_posix_spawn(pid, path, fa, at, argv, envp);
}
REAL(pid_t, fork, void);
pid_t __wrap_fork(void) { return hit(S_fork, NULL) ? -1 : __real_fork(); }
REAL(int, epoll_create1, int);
int __wrap_epoll_create1(int f) {
  return hit(S_epoll_create1, NULL) ? -1 : __real_epoll_create1(f);
}
REAL(int, epoll_ctl, int, int, int, struct epoll_event *);
int __wrap_epoll_ctl(int e, int op, int fd, struct epoll_event *ev) {
  return hit(S_epoll_ctl, NULL) ? -1 : __real_epoll_ctl(e, op, fd, ev);
}
REAL(int, epoll_wait, int, struct epoll_event *, int, int);
int __wrap_epoll_wait(int e, struct epoll_event *ev, int n, int t) {
  return hit(S_epoll_wait, NULL) ? -1 : __real_epoll_wait(e, ev, n, t);
}
REAL(int, poll, struct pollfd *, nfds_t, int);
int __wrap_poll(struct pollfd *p, nfds_t n, int t) {
  return hit(S_poll, NULL) ? -1 : __real_poll(p, n, t);
}
REAL(int, timerfd_create, int, int);
int __wrap_timerfd_create(int c, int f) {
  return hit(S_timerfd_create, NULL) ? -1 : __real_timerfd_create(c, f);
}
REAL(int, timerfd_settime, int, int, const struct itimerspec *,
     struct itimerspec *);
int __wrap_timerfd_settime(int fd, int f, const struct itimerspec *n,
                           struct itimerspec *o) {
  return hit(S_timerfd_settime, NULL) ? -1
                                      : __real_timerfd_settime(fd, f, n, o);
}
REAL(int, eventfd, unsigned, int);
int __wrap_eventfd(unsigned v, int f) {
  return hit(S_eventfd, NULL) ? -1 : __real_eventfd(v, f);
}
REAL(int, open, const char *, int, ...);
int __wrap_open(const char *path, int flags, ...) {
  mode_t mode = 0;
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE) {
    va_list ap;
    va_start(ap, flags);
    mode = (mode_t)va_arg(ap, unsigned);
    va_end(ap);
  }
  return hit(S_open, NULL) ? -1 : __real_open(path, flags, mode);
}
int __wrap_fcntl(int fd, int cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  void *arg = va_arg(ap, void *); /* glibc reads every argument this way */
  va_end(ap);
  if (hit(cmd == F_SETPIPE_SZ ? S_fcntl_setpipe : S_fcntl, NULL))
    return -1;
  return __real_fcntl(fd, cmd, arg);
}
REAL(ssize_t, splice, int, loff_t *, int, loff_t *, size_t, unsigned);
ssize_t __wrap_splice(int a, loff_t *ao, int b, loff_t *bo, size_t n,
                      unsigned f) {
  bool s = false;
  if (hit(S_splice, &s))
    return -1;
  return __real_splice(a, ao, b, bo, s ? halve(n) : n, f);
}
REAL(ssize_t, tee, int, int, size_t, unsigned);
ssize_t __wrap_tee(int a, int b, size_t n, unsigned f) {
  bool s = false;
  if (hit(S_tee, &s))
    return -1;
  return __real_tee(a, b, s ? halve(n) : n, f);
}
REAL(ssize_t, read, int, void *, size_t);
ssize_t __wrap_read(int fd, void *buf, size_t n) {
  bool s = false;
  if (hit_fd(S_read, &s, fd))
    return -1;
  return __real_read(fd, buf, s ? halve(n) : n);
}
REAL(ssize_t, write, int, const void *, size_t);
ssize_t __wrap_write(int fd, const void *buf, size_t n) {
  bool s = false;
  if (hit_fd(S_write, &s, fd))
    return -1;
  return __real_write(fd, buf, s ? halve(n) : n);
}
REAL(int, waitid, idtype_t, id_t, siginfo_t *, int);
int __wrap_waitid(idtype_t t, id_t id, siginfo_t *si, int o) {
  return hit(S_waitid, NULL) ? -1 : __real_waitid(t, id, si, o);
}
REAL(pid_t, waitpid, pid_t, int *, int);
pid_t __wrap_waitpid(pid_t p, int *st, int o) {
  return hit(S_waitpid, NULL) ? -1 : __real_waitpid(p, st, o);
}
REAL(int, pthread_create, pthread_t *, const pthread_attr_t *,
     void *(*)(void *), void *);
int __wrap_pthread_create(pthread_t *t, const pthread_attr_t *a,
                          void *(*fn)(void *), void *arg) {
  if (hit(S_pthread_create, NULL))
    return errno; /* pthread functions return their error */
  return __real_pthread_create(t, a, fn, arg);
}
REAL(long, syscall, long, ...);
long __wrap_syscall(long nr, ...) {
  va_list ap;
  va_start(ap, nr);
  long a[6];
  for (int i = 0; i < 6; i++)
    a[i] = va_arg(ap, long);
  va_end(ap);
  int s = -1;
#ifdef SYS_pidfd_open
  if (nr == SYS_pidfd_open)
    s = S_pidfd_open;
#endif
#ifdef SYS_pidfd_send_signal
  if (nr == SYS_pidfd_send_signal)
    s = S_pidfd_send_signal;
#endif
#ifdef SYS_clone3
  if (nr == SYS_clone3)
    s = S_clone3;
#endif
#ifdef SYS_close_range
  if (nr == SYS_close_range)
    s = S_close_range;
#endif
  if (s >= 0 && hit((enum site)s, NULL))
    return -1;
  return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
