/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the stream engine's files (backend.c, pump.c,
 * capture.c, consume.c, outstream.c) and the test-only hooks the stream
 * tests use. Not installed.
 */
#ifndef CUPRUM_STREAM_INTERNAL_H
#define CUPRUM_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "cuprum/stream.h"

/* ------------------------------------------------------ test-only hooks */

/* Forget the cached CUPRUM_STREAM_BACKEND so the next resolve re-reads it.
 * Not thread-safe: tests call it while no other thread resolves. */
void cu__backend_reset_for_tests(void);

/* Pretend splice is unavailable with reason `why` (NULL = use the real
 * probe again). Not thread-safe; tests only. */
void cu__splice_force_unavailable(const char *why);

/* -------------------------------------------------------------- helpers */

/* Default readwrite buffer. */
#define CU__PUMP_BUF (64u * 1024u)

/* Length of the longest well-formed UTF-8 prefix of data[0..n) ending on
 * a character boundary (n when it is all valid). */
size_t cu__utf8_valid_prefix(const void *data, size_t n);

/* -------------------------------------------------------- echo sinks */

/* How a sink writes without blocking (sink.c explains each). */
typedef enum cu__sink_kind {
  CU__SINK_NONBLOCK, /* our own O_NONBLOCK description (reopened or dup) */
  CU__SINK_SOCKET,   /* send(MSG_DONTWAIT) */
  CU__SINK_FILE,     /* regular file or block device: never waits on a
                        reader */
  CU__SINK_GATED,    /* poll, then at most PIPE_BUF bytes */
} cu__sink_kind;

/* An echo target the loop writes without ever blocking on its reader. */
typedef struct cu__sink {
  int fd; /* ours (>= 3, O_CLOEXEC); -1 = none */
  cu__sink_kind kind;
  bool is_pipe; /* a pipe or FIFO: tee(2) can feed it */
} cu__sink;

/* Make a sink for the caller's fd `target` (which stays the caller's).
 * Returns 0, -EPIPE when target is a FIFO nobody reads, or -errno. */
int cu__sink_open(cu__sink *k, int target);

/* Close the sink's own fd (idempotent). */
void cu__sink_close(cu__sink *k);

/* Whether splice(2) into the sink cannot block. */
bool cu__sink_can_splice(const cu__sink *k);

/* Write up to n bytes without blocking: bytes written, or -errno (-EAGAIN
 * when the sink is full). */
ssize_t cu__sink_write(cu__sink *k, const void *p, size_t n);

/* Whether poll() says the sink can take bytes now (or has an error to
 * report). */
bool cu__sink_writable(const cu__sink *k);

/* ---------------------------------------------------- capture buffer */

/* A growing buffer for captured bytes: geometric growth, NUL room kept. */
typedef struct cu__capbuf {
  char *data;
  size_t len;
  size_t cap;       /* allocated bytes; always > len once allocated */
  size_t prefaulted; /* offset below which pages were prefaulted */
} cu__capbuf;

/* Make at least `want` bytes of free space (beyond len, plus one for the
 * NUL), growing geometrically but never past `limit` + 1 total (limit 0 =
 * unlimited). Returns the free space (may be < want at the limit) or
 * CU_ENOMEM. */
ssize_t cu__capbuf_reserve(cu__capbuf *b, size_t want, size_t limit);

/* About to read up to n bytes at data + len: prefault those pages in one
 * system call (best effort; see capture.c). */
void cu__capbuf_prefault(cu__capbuf *b, size_t n);

/* Shrink-wrap and hand over the data, NUL-terminated ("" when empty);
 * the buffer is left empty. Returns 0 or CU_ENOMEM. */
int cu__capbuf_take(cu__capbuf *b, char **ret_data, size_t *ret_len);

void cu__capbuf_free(cu__capbuf *b);

#endif /* CUPRUM_STREAM_INTERNAL_H */
