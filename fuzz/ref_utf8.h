/* SPDX-License-Identifier: MIT */
/*
 * A reference UTF-8 decoder for the fuzz targets of the encoders, written
 * apart from src/base/fmt.c from the Unicode standard (table 3-7,
 * well-formed byte sequences): what the library must make of raw bytes.
 */
#ifndef CUPRUM_FUZZ_REF_UTF8_H
#define CUPRUM_FUZZ_REF_UTF8_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at p (left > 0 bytes), or 0. */
static inline size_t ref_utf8_seq(const unsigned char *p, size_t left) {
  unsigned c = p[0];
  if (c < 0x80)
    return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF)
    len = 2;
  else if (c == 0xE0)
    len = 3, lo = 0xA0;
  else if (c == 0xED)
    len = 3, hi = 0x9F;
  else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
    len = 3;
  else if (c == 0xF0)
    len = 4, lo = 0x90;
  else if (c == 0xF4)
    len = 4, hi = 0x8F;
  else if (c >= 0xF1 && c <= 0xF3)
    len = 4;
  else
    return 0;
  if (left < len || p[1] < lo || p[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xBF)
      return 0;
  return len;
}

static inline bool ref_utf8_ok(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t l = ref_utf8_seq(p + i, n - i);
    if (!l)
      return false;
    i += l;
  }
  return true;
}

/* A new string: s[0, n) with each byte that starts no well-formed sequence
 * replaced by U+FFFD; its length in *ret_len (if not NULL). Aborts when out
 * of memory. */
static inline char *ref_utf8_fix(const char *s, size_t n, size_t *ret_len) {
  char *out = malloc(3 * n + 1);
  if (!out)
    abort();
  size_t o = 0;
  const unsigned char *p = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    size_t l = ref_utf8_seq(p + i, n - i);
    if (l) {
      memcpy(out + o, s + i, l);
      o += l;
      i += l;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i++;
    }
  }
  out[o] = '\0';
  if (ret_len)
    *ret_len = o;
  return out;
}

#endif /* CUPRUM_FUZZ_REF_UTF8_H */
