/* SPDX-License-Identifier: MIT */
/* The relay for tapped pipeline stages (see relay.h). */
#include "stream/relay.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/internal.h"
#include "stream/fdio.h"
#include "stream/stream_internal.h"

#define RELAY_BUF (256u * 1024u)
#define RELAY_BUDGET (1024u * 1024u) /* per step, like the outstreams */

int cu__relay_init(cu__relay *r, int in_fd, int out_fd, cu__outstream *obs,
                   cu_stream_backend backend) {
  *r = (cu__relay){.in_fd = in_fd, .out_fd = out_fd, .obs = obs,
                   .use_tee = backend == CU_BACKEND_SPLICE};
  r->buf = malloc(RELAY_BUF);
  return r->buf ? 0 : cu__fail(CU_ENOMEM, "allocating a pipeline relay");
}

void cu__relay_free(cu__relay *r) {
  free(r->buf);
  r->buf = NULL;
}

/* Write pending bytes. 0 = all written, else a CU__RELAY_* verdict. */
static int flush(cu__relay *r) {
  while (r->off < r->len) {
    ssize_t n = write(r->out_fd, r->buf + r->off, r->len - r->off);
    if (n > 0) {
      r->off += (size_t)n;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return CU__RELAY_WANT_OUT;
    } else {
      return CU__RELAY_DONE; /* EPIPE: stage i+1 is gone */
    }
  }
  r->off = r->len = 0;
  return 0;
}

#ifndef CUPRUM_NO_SPLICE
/* tee(2) forwards in the kernel; then read the same bytes to observe them.
 * Returns bytes moved, or a CU__RELAY_* verdict as a negative number. */
static ssize_t tee_step(cu__relay *r) {
  ssize_t n = tee(r->in_fd, r->out_fd, RELAY_BUF, SPLICE_F_NONBLOCK);
  if (n > 0) {
    size_t got = 0;
    while (got < (size_t)n) { /* the bytes are there: read exactly them */
      ssize_t k = read(r->in_fd, r->buf + got, (size_t)n - got);
      if (k > 0)
        got += (size_t)k;
      else if (k == 0 || errno != EINTR)
        return -CU__RELAY_DONE;
    }
    cu__outstream_feed(r->obs, r->buf, got);
    return n;
  }
  if (n == 0) {
    r->in_eof = true;
    return 0;
  }
  if (errno == EAGAIN) {
    /* Input empty, or output full? Bytes waiting on input say "full". */
    int avail = 0;
    if (ioctl(r->in_fd, FIONREAD, &avail) == 0 && avail > 0)
      return -CU__RELAY_WANT_OUT;
    return -CU__RELAY_WANT_IN;
  }
  if (errno == EPIPE)
    return -CU__RELAY_DONE;
  if (errno == EINTR)
    return 0;
  if (cu__splice_refused(errno)) {
    r->use_tee = false; /* read/write from now on */
    return 0;
  }
  return -CU__RELAY_DONE; /* a real error ends the relay like EOF */
}
#endif

static ssize_t read_step(cu__relay *r) {
  ssize_t n = read(r->in_fd, r->buf, RELAY_BUF);
  if (n > 0) {
    cu__outstream_feed(r->obs, r->buf, (size_t)n);
    r->len = (size_t)n;
    r->off = 0;
    int v = flush(r);
    return v ? -v : n;
  }
  if (n == 0) {
    r->in_eof = true;
    return 0;
  }
  if (errno == EINTR)
    return 0;
  if (errno == EAGAIN)
    return -CU__RELAY_WANT_IN;
  r->in_eof = true; /* a read error ends the stream like EOF */
  return 0;
}

int cu__relay_step(cu__relay *r) {
  size_t moved = 0;
  int v = flush(r);
  if (v)
    return v;
  while (!r->in_eof && moved < RELAY_BUDGET) {
    ssize_t n;
#ifndef CUPRUM_NO_SPLICE
    n = r->use_tee ? tee_step(r) : read_step(r);
#else
    n = read_step(r);
#endif
    if (n < 0)
      return (int)-n;
    moved += (size_t)n;
  }
  return r->in_eof ? CU__RELAY_DONE : CU__RELAY_WANT_IN;
}
