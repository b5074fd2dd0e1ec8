/* SPDX-License-Identifier: MIT */
/*
 * OTEL_EXPORTER_OTLP_*HEADERS into HTTP header lines (otel_headers.h).
 * Apart from otel_http.c so the decoder has no libcurl in it: the fuzz
 * target fuzz_otlp_headers links this file alone.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuprum/error.h"
#include "otel_headers.h"

static int hex_digit(char c) {
  return c >= '0' && c <= '9'   ? c - '0'
         : c >= 'a' && c <= 'f' ? c - 'a' + 10
         : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                : -1;
}

/* Percent-decode s[0, n) in place; returns the decoded length (a %00
 * decodes to a NUL byte inside it, which the callers refuse). A '%' not
 * followed by two hex digits stays as it is. */
static size_t url_decode(char *s, size_t n) {
  size_t o = 0;
  for (size_t i = 0; i < n; i++) {
    int a = s[i] == '%' && i + 2 < n ? hex_digit(s[i + 1]) : -1;
    int b = a >= 0 ? hex_digit(s[i + 2]) : -1;
    if (b >= 0) {
      s[o++] = (char)(a << 4 | b);
      i += 2;
    } else {
      s[o++] = s[i];
    }
  }
  return o;
}

/* RFC 9110 section 5.6.2: a field name is a token of tchars. */
static bool http_token(const char *s, size_t len) {
  static const char extra[] = "!#$%&'*+-.^_`|~";
  if (len == 0)
    return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
                 (c >= 'A' && c <= 'Z');
    if (!alnum && (c == '\0' || !memchr(extra, c, sizeof extra - 1)))
      return false;
  }
  return true;
}

/* RFC 9110 section 5.5: a field value holds visible characters, spaces,
 * tabs and obs-text (bytes >= 0x80), never CR, LF, NUL or another control
 * byte. */
static bool http_field_value(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return false;
  }
  return true;
}

static bool ows(char c) { return c == ' ' || c == '\t'; }

/* [*lo, *hi) of s without the optional whitespace at either end. */
static void trim(const char *s, size_t *lo, size_t *hi) {
  while (*lo < *hi && ows(s[*lo]))
    (*lo)++;
  while (*hi > *lo && ows(s[*hi - 1]))
    (*hi)--;
}

/* One member, s[lo, hi) of a writable copy. */
static int member(char *s, size_t lo, size_t hi, cu__otel_header_fn fn,
                  void *data) {
  char *eq = memchr(s + lo, '=', hi - lo);
  if (!eq)
    return 0; /* the specification: skip malformed entries */
  size_t klo = lo, khi = (size_t)(eq - s), vlo = khi + 1, vhi = hi;
  trim(s, &klo, &khi);
  trim(s, &vlo, &vhi);
  if (klo == khi)
    return 0; /* no name: malformed too */
  size_t klen = url_decode(s + klo, khi - klo);
  size_t vlen = url_decode(s + vlo, vhi - vlo);
  /* A name or value that would change the request's framing (CR, LF, a
   * NUL from %0D%0A or %00) or is not a field at all is refused, not
   * skipped: the entry is not merely malformed, and dropping it (an
   * authorisation header, say) would fail later and less clearly. */
  if (!http_token(s + klo, klen) || !http_field_value(s + vlo, vlen))
    return CU_EINVAL;
  char line[CU__OTEL_HEADER_MAX + 1];
  int w = snprintf(line, sizeof line, "%.*s: %.*s", (int)klen, s + klo,
                   (int)vlen, s + vlo);
  if (w < 0 || w >= (int)sizeof line)
    return CU_EINVAL; /* longer than a header line we send */
  return fn(data, line);
}

int cu__otel_headers_each(const char *spec, cu__otel_header_fn fn,
                          void *data) {
  if (!spec)
    return 0;
  char *copy = strdup(spec);
  if (!copy)
    return CU_ENOMEM;
  size_t len = strlen(copy);
  int rc = 0;
  for (size_t start = 0; start <= len && rc == 0;) {
    char *comma = memchr(copy + start, ',', len - start);
    size_t end = comma ? (size_t)(comma - copy) : len;
    size_t lo = start, hi = end;
    trim(copy, &lo, &hi);
    if (lo < hi)
      rc = member(copy, lo, hi, fn, data);
    start = end + 1;
  }
  free(copy);
  return rc;
}
