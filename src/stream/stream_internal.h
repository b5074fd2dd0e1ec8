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
