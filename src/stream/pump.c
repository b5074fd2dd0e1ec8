/* SPDX-License-Identifier: MIT */
/*
 * The blocking pump (cu_pump): splice with per-fd-pair fallback to the
 * read/write loop. The fd primitives it shares with the rest of the engine
 * are in fdio.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "base/internal.h"
#include "stream/fdio.h"
#include "stream/stream_internal.h"

/* Bytes asked of one splice call; the kernel moves at most a pipe's worth. */
#define SPLICE_CHUNK (1u << 20)

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
