/* SPDX-License-Identifier: MIT */
/* cu_consume: drain an fd to memory, optionally decoding UTF-8. Reads go
 * straight into the growing capture buffer; no backend can beat one copy
 * from the kernel into the caller's memory, so both backends share this. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "stream/fdio.h"
#include "stream/stream_internal.h"

/* Read size once the buffer is large: big reads, few syscalls. */
#define READ_MAX (1u << 20)

/* One read into the buffer (or into scratch past max_bytes). Returns bytes
 * read, 0 at EOF, or a negative CU_E* code. */
static ssize_t read_some(int fd, cu__capbuf *b, size_t max_bytes,
                         char *scratch) {
  ssize_t room = cu__capbuf_reserve(b, READ_MAX, max_bytes);
  if (room < 0)
    return room;
  bool discard = room == 0;
  size_t want = discard ? CU__PUMP_BUF : (size_t)room;
  if (!discard)
    cu__capbuf_prefault(b, want < READ_MAX ? want : READ_MAX);
  for (;;) {
    ssize_t n = read(fd, discard ? scratch : b->data + b->len, want);
    if (n >= 0) {
      if (!discard)
        b->len += (size_t)n;
      return n;
    }
    int err = errno, rc = 0;
    if (err == EINTR || (err == EAGAIN && (rc = cu__wait_fd(fd, POLLIN)) == 0))
      continue;
    return cu__fail_errno(CU_EIO, rc ? -rc : err, "read from fd %d", fd);
  }
}

static int decode_all(cu__capbuf *b) {
  if (cu__utf8_valid_prefix(b->data, b->len) == b->len)
    return 0; /* already valid: decoding would copy it unchanged */
  size_t cap = CU_UTF8_MAX_OUT(b->len) + 1;
  char *out = malloc(cap);
  if (!out)
    return cu__fail(CU_ENOMEM, "out of memory decoding %zu bytes", b->len);
  cu_utf8_decoder d;
  cu_utf8_init(&d);
  size_t n = cu_utf8_decode(&d, b->data, b->len, out);
  n += cu_utf8_finish(&d, out + n);
  free(b->data);
  b->data = out;
  b->len = n;
  b->cap = cap;
  return 0;
}

int cu_consume(int fd, const cu_consume_opts *user, char **ret_data,
               size_t *ret_len, uint64_t *ret_total) {
  cu_consume_opts loaded;
  const cu_consume_opts *opts = &loaded;
  if (CU__OPTS_LOAD(&loaded, user, cu_consume_opts, CU_CONSUME_OPTS_INIT))
    return CU_EINVAL;
  if (fd < 0 || !ret_data)
    return cu__fail(CU_EINVAL, "cu_consume: invalid argument");
  cu__capbuf b = {0};
  CU__AUTOFREE char *scratch = NULL;
  uint64_t total = 0;
  ssize_t n;
  while ((n = read_some(fd, &b, opts->max_bytes, scratch)) != 0) {
    if (n < 0) {
      cu__capbuf_free(&b);
      return (int)n;
    }
    total += (uint64_t)n;
    if (!scratch && opts->max_bytes && b.len >= opts->max_bytes &&
        !(scratch = malloc(CU__PUMP_BUF))) {
      cu__capbuf_free(&b);
      return cu__fail(CU_ENOMEM, "out of memory for a discard buffer");
    }
  }
  int rc = opts->decode_utf8 && b.len ? decode_all(&b) : 0;
  if (!rc)
    rc = cu__capbuf_take(&b, ret_data, ret_len);
  cu__capbuf_free(&b);
  if (!rc && ret_total)
    *ret_total = total;
  return rc;
}
