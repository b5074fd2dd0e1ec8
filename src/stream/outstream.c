/* SPDX-License-Identifier: MIT */
/*
 * The runtime's per-stream sink (outstream.h): drains a child's
 * non-blocking pipe into capture, echo and line observers, and feeds a
 * child's stdin from memory.
 *
 * Paths, fastest first:
 *  - echo only, splice backend: splice(2) straight from the child's pipe to
 *    the echo fd; the bytes never enter user space.
 *  - capture or lines plus an echo pipe, splice backend: tee(2) the bytes to
 *    the echo pipe, then read(2) the same bytes into the capture.
 *  - otherwise read(2) into the capture buffer (or scratch) and write(2) the
 *    echo.
 * A kernel refusal (EINVAL on an fd type, ENOSYS, ...) drops that stream to
 * the next path for good; a failed splice or tee moved nothing, so no byte
 * is lost or duplicated.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "base/internal.h"
#include "stream/outstream.h"
#include "stream/fdio.h"
#include "stream/stream_internal.h"

#define BUDGET (1u << 20)        /* bytes per drain call */
#define SCRATCH (256u * 1024u)   /* read size when not capturing */
#define READ_MIN (32u * 1024u)   /* smallest capture read */
#define READ_MAX (1u << 20)      /* largest capture read */

struct cu__outstream {
  cu__outstream_cfg cfg;
  cu__capbuf cap;
  uint64_t total;
  bool truncated;
  bool overflowed;
  bool echo_on;     /* echo still wanted (a failure turns it off) */
  bool splice_echo; /* echo-only: splice the pipe to the echo fd */
  bool tee_echo;    /* tee the pipe to the echo pipe before reading */
  cu_line_splitter *lines;
  char *scratch;
};

int cu__outstream_new(const cu__outstream_cfg *cfg, cu__outstream **ret) {
  if (!cfg || !ret)
    return cu__fail(CU_EINVAL, "outstream: invalid configuration");
  /* The runtime passes a resolved backend; resolving AUTO here too keeps
   * a forgotten resolution from being an error. */
  cu_stream_backend backend;
  int rc = cu_stream_backend_resolve(cfg->backend, &backend);
  if (rc)
    return rc;
  cu__outstream *s = calloc(1, sizeof *s);
  if (!s)
    return cu__fail(CU_ENOMEM, "out of memory for an output stream");
  s->cfg = *cfg;
  s->cfg.backend = backend;
  s->echo_on = cfg->echo_cb || cfg->echo_fd >= 0;
  bool fd_echo = !cfg->echo_cb && cfg->echo_fd >= 0;
  bool splice = backend == CU_BACKEND_SPLICE;
  s->splice_echo = splice && fd_echo && !cfg->capture && !cfg->on_line;
  s->tee_echo = splice && fd_echo && !s->splice_echo &&
                cu__fd_is_pipe(cfg->echo_fd);
  if (cfg->on_line) {
    rc = cu_line_splitter_new(cfg->on_line, cfg->line_data, &s->lines);
    if (rc) {
      free(s);
      return rc;
    }
  }
  *ret = s;
  return 0;
}

void cu__outstream_free(cu__outstream *s) {
  if (!s)
    return;
  cu__capbuf_free(&s->cap);
  cu_line_splitter_free(s->lines);
  free(s->scratch);
  free(s);
}

void cu__outstream_feed(cu__outstream *s, const char *p, size_t n) {
  size_t off = 0;
  while (s->cfg.capture && off < n) {
    ssize_t room = cu__capbuf_reserve(&s->cap, n - off, s->cfg.max_capture);
    if (room <= 0)
      break; /* at the limit, or out of memory: stop capturing */
    size_t k = (size_t)room < n - off ? (size_t)room : n - off;
    memcpy(s->cap.data + s->cap.len, p + off, k);
    s->cap.len += k;
    off += k;
  }
  if (s->cfg.capture && off < n) {
    s->truncated = true;
    if (s->cfg.overflow == CU_OVERFLOW_FAIL)
      s->overflowed = true;
  }
  s->total += n;
  if (s->lines)
    cu_line_splitter_feed(s->lines, p, n);
}

bool cu__outstream_quiet(const cu__outstream *s) {
  return s && !s->echo_on && !s->cfg.on_line;
}

bool cu__outstream_unwanted(const cu__outstream *s) {
  return s && !s->echo_on && !s->cfg.capture && !s->cfg.on_line;
}

bool cu__outstream_overflowed(const cu__outstream *s) {
  return s && s->overflowed;
}

void cu__outstream_finish(cu__outstream *s) {
  if (s)
    cu_line_splitter_finish(s->lines);
}

int cu__outstream_take(cu__outstream *s, cu_bytes *out) {
  if (!s || !out)
    return cu__fail(CU_EINVAL, "outstream: invalid argument");
  char *data;
  size_t len;
  int rc = cu__capbuf_take(&s->cap, &data, &len);
  if (rc)
    return rc;
  out->data = data;
  out->len = len;
  out->total = (size_t)s->total;
  out->truncated = s->truncated;
  return 0;
}

/* Where the next read goes: the capture buffer while under the limit, else
 * scratch. Returns the room (> 0) or CU_ENOMEM; *into = the destination. */
static ssize_t read_target(cu__outstream *s, char **into, bool *captured) {
  if (s->cfg.capture) {
    size_t want = s->cap.len < READ_MIN   ? READ_MIN
                  : s->cap.len > READ_MAX ? READ_MAX
                                          : s->cap.len;
    ssize_t room = cu__capbuf_reserve(&s->cap, want, s->cfg.max_capture);
    if (room < 0)
      return room;
    if (room > 0) {
      cu__capbuf_prefault(&s->cap, (size_t)room < BUDGET ? (size_t)room
                                                         : BUDGET);
      *into = s->cap.data + s->cap.len;
      *captured = true;
      return room;
    }
  }
  if (!s->scratch && !(s->scratch = malloc(SCRATCH)))
    return cu__fail(CU_ENOMEM, "out of memory for a stream buffer");
  *into = s->scratch;
  *captured = false;
  return SCRATCH;
}

static void echo(cu__outstream *s, const char *p, size_t n, bool *epipe) {
  if (!s->echo_on || !n)
    return;
  if (s->cfg.echo_cb) {
    s->echo_on = s->cfg.echo_cb(s->cfg.echo_data, p, n) == 0;
    return;
  }
  int rc = cu__write_all(s->cfg.echo_fd, p, n, NULL);
  if (rc) {
    s->echo_on = false; /* echo failures never stop the draining */
    *epipe = *epipe || rc == -EPIPE;
  }
}

/* Bytes arrived (already in capture or scratch): account and fan out. */
static void deliver(cu__outstream *s, const char *p, size_t n, bool captured,
                    bool echoed, bool *epipe) {
  s->total += n;
  if (captured) {
    s->cap.len += n;
  } else if (s->cfg.capture) {
    s->truncated = true;
    if (s->cfg.overflow == CU_OVERFLOW_FAIL)
      s->overflowed = true;
  }
  if (!echoed)
    echo(s, p, n, epipe);
  if (s->lines)
    cu_line_splitter_feed(s->lines, p, n);
}

/* tee(2) up to `max` bytes to the echo pipe. Returns bytes teed (0 when it
 * could not: the caller then echoes by write). */
static size_t try_tee(cu__outstream *s, int fd, size_t max, bool *epipe) {
#ifdef CUPRUM_NO_SPLICE
  (void)s, (void)fd, (void)max, (void)epipe;
  return 0;
#else
  if (!s->tee_echo || !s->echo_on)
    return 0;
  ssize_t n;
  do
    n = tee(fd, s->cfg.echo_fd, max, SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    return (size_t)n;
  if (n < 0 && errno == EPIPE) {
    s->echo_on = false;
    *epipe = true;
  } else if (n < 0 && cu__splice_refused(errno)) {
    s->tee_echo = false;
  }
  return 0; /* EAGAIN (input empty or echo full) or EOF: plain read */
#endif
}

/* Read exactly `n` bytes that tee(2) showed are in the pipe. */
static ssize_t read_exact(int fd, char *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r > 0)
      got += (size_t)r;
    else if (!(r < 0 && errno == EINTR))
      return r < 0 ? -errno : -EIO;
  }
  return (ssize_t)got;
}

/* One read step: 2 after progress, 1 at EOF, 0 on EAGAIN, or a negative
 * CU_E* code; the bytes read are added to *moved. */
static int read_step(cu__outstream *s, int fd, size_t budget, size_t *moved,
                     bool *epipe) {
  char *into = NULL;
  bool captured = false;
  ssize_t room = read_target(s, &into, &captured);
  if (room < 0)
    return (int)room;
  size_t max = (size_t)room < budget ? (size_t)room : budget;
  size_t teed = try_tee(s, fd, max, epipe);
  ssize_t n;
  if (teed) {
    n = read_exact(fd, into, teed);
  } else {
    do
      n = read(fd, into, max);
    while (n < 0 && errno == EINTR);
    n = n < 0 ? -errno : n;
  }
  if (n == -EAGAIN)
    return 0;
  if (n < 0)
    return cu__fail_errno(CU_EIO, (int)-n, "read from fd %d", fd);
  if (n == 0)
    return 1;
  deliver(s, into, (size_t)n, captured, teed != 0, epipe);
  *moved += (size_t)n;
  return 2; /* progress */
}

/* splice(2) EAGAIN is ambiguous: the pipe is empty, or a non-blocking echo
 * fd is full. Wait for the echo fd in the second case (an echo fd may
 * block); true = try again. */
static bool echo_is_blocking(cu__outstream *s, int fd) {
  struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
                        {.fd = s->cfg.echo_fd, .events = POLLOUT}};
  if (poll(p, 2, 0) <= 0 || !(p[0].revents & (POLLIN | POLLHUP)) ||
      (p[1].revents & (POLLOUT | POLLERR)))
    return false;
  return cu__wait_fd(s->cfg.echo_fd, POLLOUT) == 0;
}

/* Echo-only splice step: same returns as read_step. */
static int splice_step(cu__outstream *s, int fd, size_t budget, size_t *moved,
                       bool *epipe) {
  ssize_t n = cu__splice(fd, s->cfg.echo_fd, budget,
                         SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  if (n > 0) {
    s->total += (uint64_t)n;
    *moved += (size_t)n;
    return 2;
  }
  if (n == 0)
    return 1;
  if (n == -EINTR)
    return 2;
  if (n == -EAGAIN)
    return echo_is_blocking(s, fd) ? 2 : 0;
  /* EPIPE: the echo reader left. Anything else may be either side's fault:
   * the read path sorts input errors from echo errors. */
  if (n == -EPIPE) {
    s->echo_on = false;
    *epipe = true;
  }
  s->splice_echo = false;
  return 2;
}

int cu__outstream_drain(cu__outstream *s, int fd) {
  if (!s || fd < 0)
    return cu__fail(CU_EINVAL, "outstream: invalid argument");
  bool fd_echo = s->echo_on && !s->cfg.echo_cb;
  cu__sigpipe_guard guard;
  if (fd_echo)
    cu__sigpipe_block(&guard);
  bool epipe = false;
  size_t moved = 0;
  int rc = 2;
  while (rc == 2 && moved < BUDGET) {
    if (s->splice_echo && s->echo_on)
      rc = splice_step(s, fd, BUDGET - moved, &moved, &epipe);
    else
      rc = read_step(s, fd, BUDGET - moved, &moved, &epipe);
  }
  if (fd_echo)
    cu__sigpipe_restore(&guard, epipe);
  return rc == 2 ? 0 : rc;
}

/* ----------------------------------------------------------------- feeder */

/* One write step into the stdin pipe: bytes written or -errno. */
static ssize_t feed_step(cu__feeder *f, int fd) {
  const unsigned char *p = f->data + f->off;
  size_t n = f->len - f->off;
#ifndef CUPRUM_NO_SPLICE
  if (f->backend == CU_BACKEND_SPLICE) {
    /* vmsplice maps the caller's pages into the pipe instead of copying
     * them; the data is borrowed until the run ends, so this is safe. */
    struct iovec iov = {.iov_base = (void *)p, .iov_len = n};
    ssize_t w = vmsplice(fd, &iov, 1, SPLICE_F_NONBLOCK);
    /* EBADF: not a pipe; write() below reports a truly bad fd itself */
    if (w >= 0 || !(cu__splice_refused(errno) || errno == EBADF))
      return w < 0 ? -errno : w;
    f->backend = CU_BACKEND_READWRITE; /* refused: write from now on */
  }
#endif
  ssize_t w = write(fd, p, n);
  return w < 0 ? -errno : w;
}

int cu__feeder_pump(cu__feeder *f, int fd, int *ret_errno) {
  if (!f || fd < 0)
    return cu__fail(CU_EINVAL, "feeder: invalid argument");
  cu__sigpipe_guard guard;
  cu__sigpipe_block(&guard);
  ssize_t w = 0;
  while (f->off < f->len) {
    w = feed_step(f, fd);
    if (w > 0)
      f->off += (size_t)w;
    else if (w != -EINTR)
      break;
  }
  cu__sigpipe_restore(&guard, w == -EPIPE);
  if (f->off == f->len)
    return 1;
  if (w == -EAGAIN || w == 0)
    return 0;
  if (ret_errno)
    *ret_errno = (int)-w;
  return cu__fail_errno(CU_EIO, (int)-w, "writing stdin (fd %d)", fd);
}
