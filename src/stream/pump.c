/* SPDX-License-Identifier: MIT */
/*
 * The blocking pump (cu_pump) and the low-level moves both backends share:
 * splice with per-fd-pair fallback, the read/write loop, write_all, and the
 * SIGPIPE guard.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "base/internal.h"
#include "stream/stream_internal.h"

/* Bytes asked of one splice call; the kernel moves at most a pipe's worth. */
#define SPLICE_CHUNK (1u << 20)

bool cu__fd_is_pipe(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

int cu__wait_fd(int fd, short events) {
  struct pollfd p = {.fd = fd, .events = events};
  for (;;) {
    int n = poll(&p, 1, -1);
    if (n > 0)
      return 0; /* ready, or POLLERR/POLLHUP: the next call reports it */
    if (n < 0 && errno != EINTR)
      return -errno;
  }
}

int cu__write_all(int fd, const void *p, size_t n, size_t *ret_done) {
  const char *c = p;
  size_t done = 0;
  int rc = 0;
  while (done < n) {
    ssize_t w = write(fd, c + done, n - done);
    if (w > 0) {
      done += (size_t)w;
    } else if (w < 0 && errno == EAGAIN) {
      if ((rc = cu__wait_fd(fd, POLLOUT)) != 0)
        break;
    } else if (!(w < 0 && errno == EINTR)) {
      rc = w < 0 ? -errno : -EIO;
      break;
    }
  }
  if (ret_done)
    *ret_done = done;
  return rc;
}

void cu__sigpipe_block(cu__sigpipe_guard *g) {
  sigset_t set, pending;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  g->was_pending =
      sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &set, &g->old);
}

void cu__sigpipe_restore(cu__sigpipe_guard *g, bool got_epipe) {
  if (got_epipe && !g->was_pending) {
    /* The write that failed with EPIPE queued a SIGPIPE for this thread;
     * take it so unblocking does not deliver it. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    struct timespec zero = {0, 0};
    while (sigtimedwait(&set, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

ssize_t cu__splice(int in, int out, size_t len, unsigned flags) {
#ifdef CUPRUM_NO_SPLICE
  (void)in, (void)out, (void)len, (void)flags;
  return -ENOSYS;
#else
  ssize_t n = splice(in, NULL, out, NULL, len, flags);
  return n < 0 ? -errno : n;
#endif
}

bool cu__splice_refused(int err) {
  /* EINVAL: a file type without splice support or neither fd a pipe;
   * ENOSYS/EOPNOTSUPP/EPERM: the kernel or a filter said no. A failed
   * splice moved nothing, so falling back loses no byte. */
  return err == EINVAL || err == ENOSYS || err == EOPNOTSUPP ||
         err == EPERM || err == EXDEV;
}

/* Wait until splicing in -> out can make progress. */
static int wait_both(int in, int out) {
  int rc = cu__wait_fd(in, POLLIN);
  return rc ? rc : cu__wait_fd(out, POLLOUT);
}

/* Best effort: a larger pipe means fewer, larger moves. EPERM past
 * /proc/sys/fs/pipe-max-size is not an error. */
static void raise_pipe(int fd, size_t size) {
  if (size && size <= (size_t)INT32_MAX && cu__fd_is_pipe(fd))
    (void)fcntl(fd, F_SETPIPE_SZ, (int)size);
}

/* Pipes are raised automatically once a pump has proved to be a bulk
 * transfer: a short message should not pay for the fcntl calls. */
#define AUTO_RAISE_AFTER (1u << 20)
#define AUTO_PIPE_SIZE (1u << 20)

typedef struct pump {
  int in, out;
  uint64_t moved;
  uint64_t raise_at; /* UINT64_MAX = never */
  int err;           /* errno of a failure */
} pump;

static void account(pump *p, size_t n) {
  p->moved += n;
  if (p->moved >= p->raise_at) {
    raise_pipe(p->in, AUTO_PIPE_SIZE);
    raise_pipe(p->out, AUTO_PIPE_SIZE);
    p->raise_at = UINT64_MAX;
  }
}

enum { PUMP_DONE = 0, PUMP_FALLBACK = 1 };

/* Splice until EOF. Returns PUMP_DONE, PUMP_FALLBACK (the pair is refused;
 * nothing lost) or a negative CU_E* code. */
static int pump_splice(pump *p) {
  for (;;) {
    ssize_t n = cu__splice(p->in, p->out, SPLICE_CHUNK,
                           SPLICE_F_MOVE | SPLICE_F_MORE);
    if (n > 0) {
      account(p, (size_t)n);
      continue;
    }
    if (n == 0)
      return PUMP_DONE;
    int err = (int)-n;
    if (err == EINTR)
      continue;
    if (err == EAGAIN && (err = -wait_both(p->in, p->out)) == 0)
      continue;
    if (cu__splice_refused(err))
      return PUMP_FALLBACK;
    p->err = err;
    return cu__fail_errno(CU_EIO, err, "splice from fd %d to fd %d", p->in,
                          p->out);
  }
}

static int pump_readwrite(pump *p, size_t bufsize) {
  CU__AUTOFREE char *buf = malloc(bufsize);
  if (!buf)
    return cu__fail(CU_ENOMEM, "out of memory for a %zu-byte pump buffer",
                    bufsize);
  for (;;) {
    ssize_t n = read(p->in, buf, bufsize);
    if (n == 0)
      return PUMP_DONE;
    if (n < 0) {
      int err = errno, rc = 0;
      if (err == EINTR ||
          (err == EAGAIN && (rc = cu__wait_fd(p->in, POLLIN)) == 0))
        continue;
      p->err = rc ? -rc : err;
      return cu__fail_errno(CU_EIO, p->err, "read from fd %d", p->in);
    }
    size_t done = 0;
    int rc = cu__write_all(p->out, buf, (size_t)n, &done);
    account(p, done);
    if (rc) {
      p->err = -rc;
      return cu__fail_errno(CU_EIO, -rc, "write to fd %d", p->out);
    }
  }
}

int cu_pump(int in_fd, int out_fd, const cu_pump_opts *user,
            uint64_t *ret_bytes) {
  cu_pump_opts loaded;
  const cu_pump_opts *opts = &loaded;
  int rc = CU__OPTS_LOAD(&loaded, user, cu_pump_opts, CU_PUMP_OPTS_INIT);
  if (rc)
    return rc;
  if (in_fd < 0 || out_fd < 0)
    return cu__fail(CU_EINVAL, "cu_pump: invalid fd (%d -> %d)", in_fd,
                    out_fd);
  cu_stream_backend backend;
  rc = cu_stream_backend_resolve(opts->backend, &backend);
  if (rc)
    return rc;
  pump p = {.in = in_fd, .out = out_fd, .raise_at = AUTO_RAISE_AFTER};
  if (opts->pipe_size || opts->keep_pipe_size)
    p.raise_at = UINT64_MAX;
  raise_pipe(in_fd, opts->pipe_size);
  raise_pipe(out_fd, opts->pipe_size);
  cu__sigpipe_guard guard;
  cu__sigpipe_block(&guard);
  rc = PUMP_FALLBACK;
  if (backend == CU_BACKEND_SPLICE)
    rc = pump_splice(&p);
  if (rc == PUMP_FALLBACK)
    rc = pump_readwrite(&p, opts->buffer_size ? opts->buffer_size
                                              : CU__PUMP_BUF);
  cu__sigpipe_restore(&guard, p.err == EPIPE);
  if (rc < 0)
    return rc;
  if (ret_bytes)
    *ret_bytes = p.moved;
  return 0;
}
