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
 *
 * The echo fd is written through a cu__sink (sink.c) and never blocks. When
 * it is full the stream stalls: the bytes already read wait in `pend` (at
 * most one read's worth), nothing more is read from the child's pipe, and
 * the runtime watches the sink for writability instead. The child then
 * blocks on its own full pipe: backpressure, with flat memory.
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
  int echo_errno;   /* errno of an echo write failure other than EPIPE */
  bool echo_asked;  /* an echo was configured */
  bool splice_echo; /* echo-only: splice the pipe to the echo fd */
  bool tee_echo;    /* tee the pipe to the echo pipe before reading */
  bool stalled;     /* the last drain stopped on a full sink */
  cu__sink sink;    /* fd echo target (sink.fd -1 when none) */
  char *pend;       /* read but not yet echoed: pend[pend_off..pend_len) */
  size_t pend_off, pend_len, pend_cap;
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
  s->sink.fd = -1;
  s->echo_on = cfg->echo_cb || cfg->echo_fd >= 0;
  s->echo_asked = s->echo_on;
  bool fd_echo = !cfg->echo_cb && cfg->echo_fd >= 0;
  if (fd_echo) {
    int err = -cu__sink_open(&s->sink, cfg->echo_fd);
    if (err == EPIPE) {
      s->echo_on = false; /* its reader has gone already */
    } else if (err) {
      free(s);
      return cu__fail_errno(CU_EINVAL, err, "echo fd %d", cfg->echo_fd);
    }
  }
  fd_echo = fd_echo && s->echo_on;
  bool splice = backend == CU_BACKEND_SPLICE;
  s->splice_echo = splice && fd_echo && !cfg->capture && !cfg->on_line &&
                   cu__sink_can_splice(&s->sink);
  s->tee_echo = splice && fd_echo && !s->splice_echo && s->sink.is_pipe;
  if (cfg->on_line) {
    rc = cu_line_splitter_new(cfg->on_line, cfg->line_data, &s->lines);
    if (rc) {
      cu__outstream_free(s);
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
  cu__sink_close(&s->sink);
  free(s->pend);
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
  if (s->lines && cu_line_splitter_feed(s->lines, p, n) != 0) {
    /* Line events are best effort: on CU_ENOMEM the splitter drops these
     * bytes' lines and stays usable, while the capture above is intact. */
  }
}

bool cu__outstream_quiet(const cu__outstream *s) {
  return s && !s->echo_on && !s->cfg.on_line;
}

/* The echo this stream exists for has failed, and nothing captures. */
static bool echo_dead(const cu__outstream *s) {
  return s->echo_asked && !s->echo_on && !s->cfg.capture;
}

bool cu__outstream_unwanted(const cu__outstream *s) {
  /* Line observers watch an echo; they do not keep a failed one alive. */
  return s && !s->cfg.capture && !s->echo_on &&
         (s->echo_asked || !s->cfg.on_line);
}

bool cu__outstream_stalled(const cu__outstream *s) {
  return s && s->stalled;
}

int cu__outstream_sink_fd(const cu__outstream *s) {
  return s ? s->sink.fd : -1;
}

size_t cu__outstream_abandon(cu__outstream *s) {
  if (!s)
    return 0;
  size_t dropped = s->pend_len - s->pend_off;
  s->pend_off = s->pend_len = 0;
  s->stalled = false;
  return dropped;
}

int cu__outstream_echo_errno(const cu__outstream *s) {
  return s ? s->echo_errno : 0;
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
    /* The first read is small (most commands write little; see
     * capture.c), later ones grow with the capture. */
    size_t want = s->cap.cap == 0         ? 4095
                  : s->cap.len < READ_MIN ? READ_MIN
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

/* Write what the sink takes of p[0..n) without blocking. Returns the bytes
 * written; on a failure echo is turned off (failures never stop the
 * draining) and n is returned, as nothing more is owed to the sink. */
static size_t sink_put(cu__outstream *s, const char *p, size_t n,
                       bool *epipe) {
  size_t done = 0;
  while (done < n) {
    ssize_t w = cu__sink_write(&s->sink, p + done, n - done);
    if (w > 0) {
      done += (size_t)w;
    } else if (w == -EAGAIN) {
      break;
    } else if (w != -EINTR) {
      s->echo_on = false;
      *epipe = *epipe || w == -EPIPE;
      if (w != -EPIPE && !s->echo_errno)
        s->echo_errno = w < 0 ? (int)-w : EIO;
      return n;
    }
  }
  return done;
}

/* Keep the unsent tail p[0..n) until the sink drains (at most one read's
 * worth, so memory stays bounded). */
static int keep_pending(cu__outstream *s, const char *p, size_t n) {
  if (n > s->pend_cap) {
    char *b = realloc(s->pend, n);
    if (!b)
      return cu__fail(CU_ENOMEM, "out of memory for %zu unsent echo bytes",
                      n);
    s->pend = b;
    s->pend_cap = n;
  }
  memcpy(s->pend, p, n);
  s->pend_off = 0;
  s->pend_len = n;
  return 0;
}

static int echo(cu__outstream *s, const char *p, size_t n, bool *epipe) {
  if (!s->echo_on || !n)
    return 0;
  if (s->cfg.echo_cb) {
    s->echo_on = s->cfg.echo_cb(s->cfg.echo_data, p, n) == 0;
    return 0;
  }
  size_t done = sink_put(s, p, n, epipe);
  return done < n ? keep_pending(s, p + done, n - done) : 0;
}

/* Send what is pending. True when nothing is left (or echo died). */
static bool flush_pending(cu__outstream *s, bool *epipe) {
  if (s->pend_off < s->pend_len && s->echo_on)
    s->pend_off += sink_put(s, s->pend + s->pend_off,
                            s->pend_len - s->pend_off, epipe);
  if (s->pend_off < s->pend_len && s->echo_on)
    return false;
  s->pend_off = s->pend_len = 0;
  return true;
}

/* Bytes arrived (already in capture or scratch): account and fan out. */
static int deliver(cu__outstream *s, const char *p, size_t n, bool captured,
                   bool echoed, bool *epipe) {
  s->total += n;
  if (captured) {
    s->cap.len += n;
  } else if (s->cfg.capture) {
    s->truncated = true;
    if (s->cfg.overflow == CU_OVERFLOW_FAIL)
      s->overflowed = true;
  }
  if (s->lines && cu_line_splitter_feed(s->lines, p, n) != 0) {
    /* Line events are best effort: on CU_ENOMEM the splitter drops these
     * bytes' lines and stays usable, while the capture above is intact. */
  }
  return echoed ? 0 : echo(s, p, n, epipe);
}

/* tee(2) up to `max` bytes to the echo pipe. Returns bytes teed, 0 when it
 * could not (the caller then reads and echoes by write), or -1 when the
 * echo pipe is full (the caller stalls: nothing is read). */
static ssize_t try_tee(cu__outstream *s, int fd, size_t max, bool *epipe) {
#ifdef CUPRUM_NO_SPLICE
  (void)s, (void)fd, (void)max, (void)epipe;
  return 0;
#else
  if (!s->tee_echo || !s->echo_on)
    return 0;
  ssize_t n;
  do
    n = tee(fd, s->sink.fd, max, SPLICE_F_NONBLOCK);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    return n;
  if (n < 0 && errno == EPIPE) {
    s->echo_on = false;
    *epipe = true;
  } else if (n < 0 && errno == EAGAIN && !cu__sink_writable(&s->sink)) {
    return -1; /* echo full; an empty input falls through to read() */
  } else if (n < 0 && cu__splice_refused(errno)) {
    s->tee_echo = false;
  }
  return 0; /* EAGAIN with an empty input, or EOF: plain read */
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

/* One read step: 2 after progress, 1 at EOF, 0 on EAGAIN, CU__OUT_WAIT_SINK
 * when the echo is full, or a negative CU_E* code; the bytes read are added
 * to *moved. */
static int read_step(cu__outstream *s, int fd, size_t budget, size_t *moved,
                     bool *epipe) {
  char *into = NULL;
  bool captured = false;
  ssize_t room = read_target(s, &into, &captured);
  if (room < 0)
    return (int)room;
  size_t max = (size_t)room < budget ? (size_t)room : budget;
  ssize_t teed = try_tee(s, fd, max, epipe);
  if (teed < 0)
    return CU__OUT_WAIT_SINK;
  ssize_t n;
  if (teed) {
    n = read_exact(fd, into, (size_t)teed);
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
  int rc = deliver(s, into, (size_t)n, captured, teed != 0, epipe);
  *moved += (size_t)n;
  if (rc < 0)
    return rc;
  return s->pend_len > s->pend_off ? CU__OUT_WAIT_SINK : 2; /* progress */
}

/* splice(2) EAGAIN is ambiguous: the pipe is empty, or the echo fd is
 * full. Returns CU__OUT_WAIT_SINK in the second case, else 0 (wait for
 * input). */
static int splice_eagain(cu__outstream *s) {
  return cu__sink_writable(&s->sink) ? 0 : CU__OUT_WAIT_SINK;
}

/* Echo-only splice step: same returns as read_step. */
static int splice_step(cu__outstream *s, int fd, size_t budget, size_t *moved,
                       bool *epipe) {
  ssize_t n = cu__splice(fd, s->sink.fd, budget,
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
    return splice_eagain(s);
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
  int rc = flush_pending(s, &epipe) ? 2 : CU__OUT_WAIT_SINK;
  /* Stop as soon as nobody wants the bytes (the echo reader left): the
   * runtime then closes the pipe and the child gets SIGPIPE at once. */
  while (rc == 2 && moved < BUDGET && !echo_dead(s)) {
    if (s->splice_echo && s->echo_on)
      rc = splice_step(s, fd, BUDGET - moved, &moved, &epipe);
    else
      rc = read_step(s, fd, BUDGET - moved, &moved, &epipe);
  }
  if (fd_echo)
    cu__sigpipe_restore(&guard, epipe);
  if (rc == CU__OUT_WAIT_SINK && !s->echo_on)
    rc = 0; /* the sink failed meanwhile: nothing is owed to it */
  s->stalled = rc == CU__OUT_WAIT_SINK;
  return rc == 2 ? 0 : rc;
}

/* ----------------------------------------------------------------- feeder */

/* One write step into the stdin pipe: bytes written or -errno. Always
 * write(2), which copies, on both backends: vmsplice would map memory into
 * the pipe by reference, and a descendant reading later would see whatever
 * that memory holds then (docs/design.md, "Hostile conditions"). */
static ssize_t feed_step(cu__feeder *f, int fd) {
  ssize_t w = write(fd, f->data + f->off, f->len - f->off);
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
