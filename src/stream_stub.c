/* SPDX-License-Identifier: MIT */
/* TEMPORARY: minimal read/write stream engine until the real one lands. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "outstream.h"

int cu_stream_backend_resolve(cu_stream_backend requested,
                              cu_stream_backend *ret) {
  (void)requested;
  *ret = CU_BACKEND_READWRITE;
  return 0;
}

const char *cu_stream_backend_name(cu_stream_backend b) {
  return b == CU_BACKEND_SPLICE ? "splice" : b == CU_BACKEND_READWRITE ? "readwrite" : "auto";
}

int cu_utf8_decode_alloc(const void *data, size_t len, char **ret, size_t *ret_len) {
  char *p = malloc(len + 1);
  if (!p) return CU_ENOMEM;
  memcpy(p, data, len);
  p[len] = 0;
  *ret = p;
  if (ret_len) *ret_len = len;
  return 0;
}

struct cu__outstream {
  cu__outstream_cfg cfg;
  char *buf; size_t len, cap, total;
  bool overflowed, truncated;
  char *line; size_t line_len, line_cap;
};

int cu__outstream_new(const cu__outstream_cfg *cfg, cu__outstream **ret) {
  cu__outstream *s = calloc(1, sizeof *s);
  if (!s) return CU_ENOMEM;
  s->cfg = *cfg;
  *ret = s;
  return 0;
}

static void lines(cu__outstream *s, const char *d, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (d[i] == '\n') {
      size_t l = s->line_len;
      if (l && s->line[l - 1] == '\r') l--;
      char save = 0;
      if (s->line) { save = s->line[l]; s->line[l] = 0; }
      s->cfg.on_line(s->cfg.line_data, s->line ? s->line : "", l, 0);
      if (s->line) s->line[l] = save;
      s->line_len = 0;
      continue;
    }
    if (s->line_len + 2 > s->line_cap) {
      s->line_cap = s->line_cap ? s->line_cap * 2 : 256;
      s->line = realloc(s->line, s->line_cap);
    }
    s->line[s->line_len++] = d[i];
  }
}

int cu__outstream_drain(cu__outstream *s, int fd) {
  char tmp[65536];
  for (int iter = 0; iter < 16; iter++) {
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : CU_EIO;
    if (n == 0) return 1;
    size_t un = (size_t)n;
    s->total += un;
    if (s->cfg.capture) {
      size_t take = un;
      if (s->cfg.max_capture && s->len + take > s->cfg.max_capture) {
        take = s->cfg.max_capture - s->len;
        s->truncated = true;
        if (s->cfg.overflow == CU_OVERFLOW_FAIL) s->overflowed = true;
      }
      if (s->len + take + 1 > s->cap) {
        size_t nc = s->cap ? s->cap : 65536;
        while (nc < s->len + take + 1) nc *= 2;
        char *nb = realloc(s->buf, nc);
        if (!nb) return CU_ENOMEM;
        s->buf = nb; s->cap = nc;
      }
      memcpy(s->buf + s->len, tmp, take);
      s->len += take;
    }
    if (s->cfg.echo_cb) s->cfg.echo_cb(s->cfg.echo_data, tmp, un);
    else if (s->cfg.echo_fd >= 0) { ssize_t w = write(s->cfg.echo_fd, tmp, un); (void)w; }
    if (s->cfg.on_line) lines(s, tmp, un);
  }
  return 0;
}

bool cu__outstream_overflowed(const cu__outstream *s) { return s->overflowed; }

void cu__outstream_finish(cu__outstream *s) {
  if (s && s->cfg.on_line && s->line_len) {
    s->line[s->line_len] = 0;
    s->cfg.on_line(s->cfg.line_data, s->line, s->line_len, CU_LINE_PARTIAL);
    s->line_len = 0;
  }
}

int cu__outstream_take(cu__outstream *s, cu_bytes *out) {
  if (!s->buf) { s->buf = calloc(1, 1); if (!s->buf) return CU_ENOMEM; }
  s->buf[s->len] = 0;
  *out = (cu_bytes){.data = s->buf, .len = s->len, .total = s->total, .truncated = s->truncated};
  s->buf = NULL; s->len = s->cap = 0;
  return 0;
}

void cu__outstream_free(cu__outstream *s) {
  if (!s) return;
  free(s->buf); free(s->line); free(s);
}

int cu__feeder_pump(cu__feeder *f, int fd, int *ret_errno) {
  while (f->off < f->len) {
    ssize_t n = write(fd, f->data + f->off, f->len - f->off);
    if (n < 0) {
      if (errno == EAGAIN) return 0;
      if (errno == EINTR) continue;
      *ret_errno = errno;
      return CU_EIO;
    }
    f->off += (size_t)n;
  }
  return 1;
}
