/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the UTF-8 decoder and the line splitter, with a
 * differential check against an independent reference written here.
 *
 * Input layout: the first byte picks how the rest is cut into chunks (a
 * seed for the chunk sizes); the rest is the payload. The payload is fed to
 * the incremental decoder and the splitter in those chunks and compared
 * with the reference applied to the whole payload at once.
 *
 * The reference decides validity differently from src/utf8.c: instead of
 * per-lead-byte ranges it computes the interval of code points a prefix can
 * still reach and intersects it with the Unicode scalar values of that
 * length. tests/test_utf8.c includes this file (CU_FUZZ_NO_MAIN) to run the
 * same check over seeded random inputs without clang.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/events.h>
#include <cuprum/stream.h>

/* ------------------------------------------------------------ reference */

static unsigned ref_len(uint8_t c) {
  if (c < 0x80)
    return 1;
  if ((c & 0xE0) == 0xC0)
    return 2;
  if ((c & 0xF0) == 0xE0)
    return 3;
  if ((c & 0xF8) == 0xF0)
    return 4;
  return 0;
}

/* Can p[0..m) still grow into a well-formed n-byte sequence? */
static bool ref_is_prefix(const uint8_t *p, unsigned m, unsigned n) {
  static const uint32_t lo_of[5] = {0, 0, 0x80, 0x800, 0x10000};
  static const uint32_t hi_of[5] = {0, 0, 0x7FF, 0xFFFF, 0x10FFFF};
  uint32_t v = p[0] & (0x7Fu >> n);
  for (unsigned j = 1; j < m; j++) {
    if ((p[j] & 0xC0) != 0x80)
      return false;
    v = (v << 6) | (p[j] & 0x3Fu);
  }
  unsigned rest = 6 * (n - m);
  uint32_t lo = v << rest, hi = lo | ((1u << rest) - 1);
  if (lo < lo_of[n])
    lo = lo_of[n];
  if (hi > hi_of[n])
    hi = hi_of[n];
  if (lo > hi)
    return false;
  /* something left outside the surrogates? */
  return lo < 0xD800 || hi > 0xDFFF;
}

/* Whole-buffer decode; out needs 3 * len bytes. */
static size_t ref_decode(const uint8_t *in, size_t len, char *out) {
  size_t i = 0, o = 0;
  while (i < len) {
    unsigned n = ref_len(in[i]);
    if (n == 1) {
      out[o++] = (char)in[i++];
      continue;
    }
    unsigned k = 0;
    if (n && ref_is_prefix(in + i, 1, n))
      for (k = 1; k < n && i + k < len && ref_is_prefix(in + i, k + 1, n);)
        k++;
    if (n && k == n) {
      memcpy(out + o, in + i, n);
      o += n;
      i += n;
    } else {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
      i += k ? k : 1;
    }
  }
  return o;
}

/* ------------------------------------------------------- line recording */

typedef struct fz_lines {
  char *buf; /* "flags:len:" headers + bytes, appended */
  size_t len, cap;
} fz_lines;

static void fz_put(fz_lines *l, const void *p, size_t n) {
  if (l->len + n > l->cap) {
    size_t cap = l->cap ? l->cap : 256;
    while (cap < l->len + n)
      cap *= 2;
    char *nb = realloc(l->buf, cap);
    if (!nb)
      abort();
    l->buf = nb;
    l->cap = cap;
  }
  memcpy(l->buf + l->len, p, n);
  l->len += n;
}

static void fz_line(fz_lines *l, const char *line, size_t len,
                    unsigned flags) {
  uint64_t hdr[2] = {flags, len};
  fz_put(l, hdr, sizeof hdr);
  fz_put(l, line, len);
}

static void fz_on_line(void *ud, const char *line, size_t len,
                       unsigned flags) {
  if (line[len] != '\0' || memchr(line, '\n', len))
    abort(); /* must be NUL-terminated, without terminator */
  fz_line(ud, line, len, flags);
}

/* Emit one line, cut into CU_LINE_MAX pieces on character boundaries. */
static void ref_emit(fz_lines *l, const char *p, size_t len, unsigned flags) {
  while (len > CU_LINE_MAX) {
    size_t cut = CU_LINE_MAX;
    while (((unsigned char)p[cut] & 0xC0) == 0x80)
      cut--;
    fz_line(l, p, cut, CU_LINE_SPLIT);
    p += cut;
    len -= cut;
  }
  fz_line(l, p, len, flags);
}

static void ref_lines(const char *text, size_t len, fz_lines *l) {
  size_t start = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] != '\n')
      continue;
    size_t end = i;
    if (end > start && text[end - 1] == '\r')
      end--;
    ref_emit(l, text + start, end - start, 0);
    start = i + 1;
  }
  if (start < len)
    ref_emit(l, text + start, len - start, CU_LINE_PARTIAL);
}

/* --------------------------------------------------------------- check */

/* xorshift for chunk sizes, seeded from the input */
static size_t fz_next(uint32_t *st, size_t max) {
  uint32_t x = *st;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *st = x;
  return 1 + x % max;
}

/* Returns 0 when decoder and splitter agree with the reference. */
static int cu_fuzz_check(const uint8_t *data, size_t size) {
  if (size == 0)
    return 0;
  uint32_t st = 0x9E3779B9u ^ data[0];
  size_t max_chunk = (data[0] & 0x0F) == 0 ? 1 << 17 : (size_t)(data[0] & 0x0F);
  data++;
  size--;
  char *want = malloc(3 * size + 1), *got = malloc(CU_UTF8_MAX_OUT(size) + 3);
  if (!want || !got)
    abort();
  size_t wn = ref_decode(data, size, want);
  cu_utf8_decoder d;
  cu_utf8_init(&d);
  cu_line_splitter *sp = NULL;
  fz_lines gl = {0}, rl = {0};
  if (cu_line_splitter_new(fz_on_line, &gl, &sp) != 0)
    abort();
  size_t gn = 0;
  for (size_t off = 0; off < size;) {
    size_t n = fz_next(&st, max_chunk);
    if (n > size - off)
      n = size - off;
    gn += cu_utf8_decode(&d, data + off, n, got + gn);
    if (cu_line_splitter_feed(sp, data + off, n) != 0)
      abort(); /* only CU_ENOMEM: not an input's fault, but never silent */
    off += n;
  }
  gn += cu_utf8_finish(&d, got + gn);
  cu_line_splitter_finish(sp);
  ref_lines(want, wn, &rl);
  int bad = gn != wn || memcmp(got, want, wn) != 0 ? 1 : 0;
  if (!bad && (gl.len != rl.len ||
               (rl.len && memcmp(gl.buf, rl.buf, rl.len) != 0)))
    bad = 2;
  cu_line_splitter_free(sp);
  free(gl.buf);
  free(rl.buf);
  free(want);
  free(got);
  return bad;
}

#ifndef CU_FUZZ_NO_MAIN
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (cu_fuzz_check(data, size) != 0)
    __builtin_trap();
  return 0;
}
#endif
