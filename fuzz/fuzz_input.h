/* SPDX-License-Identifier: MIT */
/*
 * Reading a fuzz input as fields, for the targets that build a structured
 * value (an event, a run) from it: fixed-width numbers and NUL-ended
 * strings, zeros and NULL once the input is used up.
 */
#ifndef CUPRUM_FUZZ_INPUT_H
#define CUPRUM_FUZZ_INPUT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct in {
  const uint8_t *d;
  size_t n, at;
} in;

/* The next `bytes` bytes as a big-endian number (0 past the end). */
static inline uint64_t take_u64(in *r, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; i++)
    v = v << 8 | (r->at < r->n ? r->d[r->at++] : 0);
  return v;
}

/* The next NUL-terminated string (copied), or NULL past the end. Aborts
 * when out of memory. */
static inline char *take_str(in *r) {
  if (r->at >= r->n)
    return NULL;
  const uint8_t *end = memchr(r->d + r->at, '\0', r->n - r->at);
  size_t len = end ? (size_t)(end - (r->d + r->at)) : r->n - r->at;
  char *s = malloc(len + 1);
  if (!s)
    abort();
  memcpy(s, r->d + r->at, len);
  s[len] = '\0';
  r->at += len + 1;
  return s;
}

#endif /* CUPRUM_FUZZ_INPUT_H */
