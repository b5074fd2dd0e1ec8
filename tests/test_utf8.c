/* SPDX-License-Identifier: MIT */
/* The incremental UTF-8 decoder: Python-identical replacement whatever the
 * chunk boundaries, plus the fuzz target's differential check over seeded
 * random inputs (so CI runs it without clang). */
#include "stream_util.h"

#define CU_FUZZ_NO_MAIN
#include "../fuzz/fuzz_utf8_lines.c"

typedef struct vec {
  const char *in;
  size_t in_len;
  const char *want; /* "?" stands for U+FFFD */
} vec;

#define V(in, want) {in, sizeof(in) - 1, want}

/* Expected values produced with Python 3: bytes.decode("utf-8", "replace"). */
static const vec vectors[] = {
    V("", ""),
    V("hello", "hello"),
    V("\xe2\x82", "?"),
    V("\xe2\x82\xac", "\xe2\x82\xac"),
    V("\xf0\x80\x80", "???"),
    V("\xed\xa0\x80", "???"),
    V("\xe0\x80\xaf", "???"),
    V("\xf4\x90\x80\x80", "????"),
    V("a\xc3(b", "a?(b"),
    V("\xf1\x80\x80\xe1\x80\xc2\xe0\xa0", "????"),
    V("\xff\xfe", "??"),
    V("\xc0\xaf", "??"),
    V("\xe1\x80\xe2\xf0\x91\x92\xf1\xbf\x41", "????A"),
    /* Unicode 15, table 3-8 */
    V("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a???b?c??d"),
    V("\xf0\x9f\x98\x80 ok", "\xf0\x9f\x98\x80 ok"),
    V("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
    V("\xed\x9f\xbf\xee\x80\x80", "\xed\x9f\xbf\xee\x80\x80"),
    V("\xc2", "?"),
    V("\xf0\x9f\x98", "?"),
    V("x\xf0\x9f", "x?"),
};

/* Expand "?" to U+FFFD. */
static size_t expand(const char *s, char *out) {
  size_t o = 0;
  for (; *s; s++) {
    if (*s == '?') {
      memcpy(out + o, "\xEF\xBF\xBD", 3);
      o += 3;
    } else {
      out[o++] = *s;
    }
  }
  return o;
}

/* Decode `in` cut at the given positions (sorted, may repeat). */
static size_t decode_cuts(const char *in, size_t len, const size_t *cuts,
                          size_t ncuts, char *out) {
  cu_utf8_decoder d;
  cu_utf8_init(&d);
  size_t o = 0, prev = 0;
  for (size_t i = 0; i <= ncuts; i++) {
    size_t at = i < ncuts ? cuts[i] : len;
    o += cu_utf8_decode(&d, in + prev, at - prev, out + o);
    prev = at;
  }
  return o + cu_utf8_finish(&d, out + o);
}

static void check(const vec *v, const size_t *cuts, size_t ncuts) {
  char want[256], got[256];
  size_t wn = expand(v->want, want);
  size_t gn = decode_cuts(v->in, v->in_len, cuts, ncuts, got);
  assert_int_equal(gn, wn);
  assert_memory_equal(got, want, wn);
}

static void vectors_whole(void **state) {
  (void)state;
  for (size_t i = 0; i < (sizeof vectors / sizeof vectors[0]); i++)
    check(&vectors[i], NULL, 0);
}

/* One cut at every position, then two cuts at every pair of positions. */
static void vectors_every_boundary(void **state) {
  (void)state;
  for (size_t i = 0; i < (sizeof vectors / sizeof vectors[0]); i++) {
    const vec *v = &vectors[i];
    for (size_t a = 0; a <= v->in_len; a++) {
      check(v, &a, 1);
      for (size_t b = a; b <= v->in_len; b++) {
        size_t cuts[2] = {a, b};
        check(v, cuts, 2);
      }
    }
  }
}

static void vectors_byte_at_a_time(void **state) {
  (void)state;
  size_t cuts[64];
  for (size_t i = 0; i < (sizeof vectors / sizeof vectors[0]); i++) {
    const vec *v = &vectors[i];
    for (size_t k = 0; k < v->in_len; k++)
      cuts[k] = k;
    check(v, cuts, v->in_len);
  }
}

/* Every 1..4 byte input over an edge-case alphabet against the reference,
 * cut at every position. */
static void exhaustive_short(void **state) {
  (void)state;
  static const unsigned char al[] = {0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0,
                                     0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                     0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5,
                                     0xFF, 0x0A};
  const size_t na = sizeof al;
  for (size_t len = 1; len <= 4; len++) {
    size_t total = 1;
    for (size_t k = 0; k < len; k++)
      total *= na;
    for (size_t idx = 0; idx < total; idx++) {
      unsigned char in[4];
      size_t x = idx;
      for (size_t k = 0; k < len; k++, x /= na)
        in[k] = al[x % na];
      char want[16], got[32];
      size_t wn = ref_decode(in, len, want);
      for (size_t cut = 0; cut <= len; cut++) {
        size_t gn = decode_cuts((const char *)in, len, &cut, 1, got);
        assert_int_equal(gn, wn);
        assert_memory_equal(got, want, wn);
      }
    }
  }
}

static void pending_survives_empty_chunks(void **state) {
  (void)state;
  cu_utf8_decoder d;
  cu_utf8_init(&d);
  char out[32];
  assert_int_equal(cu_utf8_decode(&d, "\xe2", 1, out), 0);
  assert_int_equal(cu_utf8_decode(&d, "", 0, out), 0);
  assert_int_equal(cu_utf8_decode(&d, "\x82", 1, out), 0);
  assert_int_equal(cu_utf8_decode(&d, "\xac!", 2, out), 4);
  assert_memory_equal(out, "\xe2\x82\xac!", 4);
  assert_int_equal(cu_utf8_finish(&d, out), 0);
}

/* The fuzz target's differential check (decoder + splitter vs reference)
 * over seeded random inputs. */
static void differential_rounds(const char *name, int rounds) {
  st_rng r = {st_seed(name)};
  unsigned char buf[4096];
  for (int iter = 0; iter < rounds; iter++) {
    size_t n = st_range(&r, 1, sizeof buf);
    st_fill_text(&r, buf, n);
    int bad = cu_fuzz_check(buf, n);
    if (bad)
      fail_msg("iteration %d (len %zu): %s differs from the reference", iter,
               n, bad == 1 ? "decoder" : "line splitter");
  }
}

static void differential_random(void **state) {
  (void)state;
  differential_rounds("differential_random", 1000);
}

/* More of the same; "heavy" keeps it out of the valgrind stage. */
static void differential_random_heavy(void **state) {
  (void)state;
  differential_rounds("differential_random_heavy", 5000);
}

/* Long lines cross CU_LINE_MAX; a few big inputs exercise the cutting. */
static void differential_long_lines(void **state) {
  (void)state;
  st_rng r = {st_seed("differential_long_lines")};
  size_t cap = 3 * CU_LINE_MAX;
  unsigned char *buf = malloc(cap);
  assert_non_null(buf);
  for (int iter = 0; iter < 24; iter++) {
    size_t n = st_range(&r, CU_LINE_MAX - 8, cap);
    st_fill_text(&r, buf, n);
    for (size_t i = 1; i < n; i++) /* make newlines rare */
      if (buf[i] == '\n' && st_range(&r, 0, 50) != 0)
        buf[i] = 0xE2;
    assert_int_equal(cu_fuzz_check(buf, n), 0);
  }
  free(buf);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(vectors_whole),
    cmocka_unit_test(vectors_every_boundary),
    cmocka_unit_test(vectors_byte_at_a_time),
    cmocka_unit_test(exhaustive_short),
    cmocka_unit_test(pending_survives_empty_chunks),
    cmocka_unit_test(differential_random),
    cmocka_unit_test(differential_random_heavy),
    cmocka_unit_test(differential_long_lines),
};

CU_TEST_MAIN(tests)
