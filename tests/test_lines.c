/* SPDX-License-Identifier: MIT */
/* The incremental line splitter: terminators, CRLF across chunks, partial
 * and over-long lines, decoding. */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "stream_util.h"

typedef struct rec {
  char *lines[64];
  size_t lens[64];
  unsigned flags[64];
  size_t n;
} rec;

static void on_line(void *ud, const char *line, size_t len, unsigned flags) {
  rec *r = ud;
  assert_true(r->n < 64);
  assert_int_equal(line[len], '\0');
  r->lines[r->n] = malloc(len + 1);
  assert_non_null(r->lines[r->n]);
  memcpy(r->lines[r->n], line, len + 1);
  r->lens[r->n] = len;
  r->flags[r->n] = flags;
  r->n++;
}

static void rec_free(rec *r) {
  for (size_t i = 0; i < r->n; i++)
    free(r->lines[i]);
  r->n = 0;
}

/* Feed the NULL-terminated list of chunks, then finish. */
static void feed_chunks(rec *r, const char *const *chunks) {
  cu_line_splitter *s = NULL;
  assert_int_equal(cu_line_splitter_new(on_line, r, &s), 0);
  for (; *chunks; chunks++)
    assert_int_equal(cu_line_splitter_feed(s, *chunks, strlen(*chunks)), 0);
  cu_line_splitter_finish(s);
  cu_line_splitter_free(s);
}

static void expect(const rec *r, size_t i, const char *line, unsigned flags) {
  assert_true(i < r->n);
  assert_int_equal(r->lens[i], strlen(line));
  assert_string_equal(r->lines[i], line);
  assert_int_equal(r->flags[i], flags);
}

static void lf_and_crlf(void **state) {
  (void)state;
  rec r = {0};
  feed_chunks(&r, (const char *[]){"a\nbb\r\n\n\r\nc", NULL});
  assert_int_equal(r.n, 5);
  expect(&r, 0, "a", 0);
  expect(&r, 1, "bb", 0);
  expect(&r, 2, "", 0);
  expect(&r, 3, "", 0);
  expect(&r, 4, "c", CU_LINE_PARTIAL);
  rec_free(&r);
}

static void crlf_split_across_chunks(void **state) {
  (void)state;
  rec r = {0};
  feed_chunks(&r, (const char *[]){"one\r", "\ntwo\r", "\n", "\r", "\n",
                                   NULL});
  assert_int_equal(r.n, 3);
  expect(&r, 0, "one", 0);
  expect(&r, 1, "two", 0);
  expect(&r, 2, "", 0);
  rec_free(&r);
}

static void lone_cr_is_content(void **state) {
  (void)state;
  rec r = {0};
  feed_chunks(&r, (const char *[]){"a\rb\n", "tail\r", NULL});
  assert_int_equal(r.n, 2);
  expect(&r, 0, "a\rb", 0);
  expect(&r, 1, "tail\r", CU_LINE_PARTIAL);
  rec_free(&r);
}

static void empty_input_no_lines(void **state) {
  (void)state;
  rec r = {0};
  feed_chunks(&r, (const char *[]){"", "", NULL});
  assert_int_equal(r.n, 0);
  feed_chunks(&r, (const char *[]){"x\n", NULL});
  assert_int_equal(r.n, 1);
  expect(&r, 0, "x", 0);
  rec_free(&r);
}

static void invalid_bytes_replaced(void **state) {
  (void)state;
  rec r = {0};
  feed_chunks(&r, (const char *[]){"ok\xe2\x82", "\n\xff\n\xf0\x9f", "\x98",
                                   "\x80\n\xe2", NULL});
  assert_int_equal(r.n, 4);
  expect(&r, 0, "ok\xEF\xBF\xBD", 0);
  expect(&r, 1, "\xEF\xBF\xBD", 0);
  expect(&r, 2, "\xf0\x9f\x98\x80", 0);
  expect(&r, 3, "\xEF\xBF\xBD", CU_LINE_PARTIAL);
  rec_free(&r);
}

/* Build a line of `len` bytes of `fill` (a 1..4-byte character repeated,
 * padded with 'x'), followed by `tail`. */
static char *long_line(size_t len, const char *fill, const char *tail) {
  size_t fl = strlen(fill), tl = strlen(tail);
  char *p = malloc(len + tl + 1);
  assert_non_null(p);
  size_t i = 0;
  for (; i + fl <= len; i += fl)
    memcpy(p + i, fill, fl);
  memset(p + i, 'x', len - i);
  memcpy(p + len, tail, tl + 1);
  return p;
}

static void exact_max_is_whole(void **state) {
  (void)state;
  char *p = long_line(CU_LINE_MAX, "a", "\r\n");
  rec r = {0};
  /* the CR lands at the end of the first chunk */
  char *second = p + CU_LINE_MAX + 1;
  char saved = *second;
  *second = '\0';
  feed_chunks(&r, (const char *[]){p, "\n", NULL});
  *second = saved;
  assert_int_equal(r.n, 1);
  assert_int_equal(r.lens[0], CU_LINE_MAX);
  assert_int_equal(r.flags[0], 0);
  rec_free(&r);
  free(p);
}

static void over_max_is_split_on_boundary(void **state) {
  (void)state;
  /* 3-byte characters: CU_LINE_MAX is not a multiple of 3, so the cut must
   * back off to a character boundary */
  char *p = long_line(CU_LINE_MAX + 30, "\xe2\x82\xac", "\nnext\n");
  rec r = {0};
  feed_chunks(&r, (const char *[]){p, NULL});
  assert_int_equal(r.n, 3);
  assert_int_equal(r.flags[0], CU_LINE_SPLIT);
  assert_int_equal(r.lens[0] % 3, 0);
  assert_true(r.lens[0] <= CU_LINE_MAX && r.lens[0] > CU_LINE_MAX - 3);
  assert_int_equal(r.flags[1], 0);
  assert_int_equal(r.lens[0] + r.lens[1], CU_LINE_MAX + 30);
  expect(&r, 2, "next", 0);
  rec_free(&r);
  free(p);
}

static void over_max_across_chunks(void **state) {
  (void)state;
  char *p = long_line(3 * CU_LINE_MAX + 5, "ab", "");
  rec r = {0};
  cu_line_splitter *s = NULL;
  assert_int_equal(cu_line_splitter_new(on_line, &r, &s), 0);
  for (size_t off = 0; off < 3 * CU_LINE_MAX + 5; off += 1000) {
    size_t n = 3 * CU_LINE_MAX + 5 - off < 1000 ? 3 * CU_LINE_MAX + 5 - off
                                                : 1000;
    assert_int_equal(cu_line_splitter_feed(s, p + off, n), 0);
  }
  cu_line_splitter_finish(s);
  cu_line_splitter_free(s);
  assert_int_equal(r.n, 4);
  for (size_t i = 0; i < 3; i++) {
    assert_int_equal(r.lens[i], CU_LINE_MAX);
    assert_int_equal(r.flags[i], CU_LINE_SPLIT);
  }
  assert_int_equal(r.lens[3], 5);
  assert_int_equal(r.flags[3], CU_LINE_PARTIAL);
  rec_free(&r);
  free(p);
}

/* Random chunking gives the same lines as one feed. */
static void random_chunks_match_whole(void **state) {
  (void)state;
  st_rng g = {st_seed("random_chunks_match_whole")};
  unsigned char buf[2048];
  for (int iter = 0; iter < 300; iter++) {
    size_t n = st_range(&g, 0, sizeof buf);
    st_fill_text(&g, buf, n);
    rec a = {0}, b = {0};
    cu_line_splitter *s = NULL, *t = NULL;
    assert_int_equal(cu_line_splitter_new(on_line, &a, &s), 0);
    assert_int_equal(cu_line_splitter_new(on_line, &b, &t), 0);
    /* at most 64 lines per record: keep newlines sparse */
    for (size_t i = 0; i < n; i++)
      if (buf[i] == '\n' && st_range(&g, 0, 8) != 0)
        buf[i] = 'z';
    assert_int_equal(cu_line_splitter_feed(s, buf, n), 0);
    for (size_t off = 0; off < n;) {
      size_t k = st_range(&g, 1, 17);
      k = k > n - off ? n - off : k;
      assert_int_equal(cu_line_splitter_feed(t, buf + off, k), 0);
      off += k;
    }
    cu_line_splitter_finish(s);
    cu_line_splitter_finish(t);
    assert_int_equal(a.n, b.n);
    for (size_t i = 0; i < a.n; i++) {
      assert_int_equal(a.lens[i], b.lens[i]);
      assert_memory_equal(a.lines[i], b.lines[i], a.lens[i]);
      assert_int_equal(a.flags[i], b.flags[i]);
    }
    rec_free(&a);
    rec_free(&b);
    cu_line_splitter_free(s);
    cu_line_splitter_free(t);
  }
}

static void bad_arguments(void **state) {
  (void)state;
  cu_line_splitter *s = NULL;
  assert_int_equal(cu_line_splitter_new(NULL, NULL, &s), CU_EINVAL);
  assert_null(s);
  cu_line_splitter_free(NULL);
  cu_line_splitter_finish(NULL);
  assert_int_equal(cu_line_splitter_feed(NULL, "x", 1), CU_EINVAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(lf_and_crlf),
    cmocka_unit_test(crlf_split_across_chunks),
    cmocka_unit_test(lone_cr_is_content),
    cmocka_unit_test(empty_input_no_lines),
    cmocka_unit_test(invalid_bytes_replaced),
    cmocka_unit_test(exact_max_is_whole),
    cmocka_unit_test(over_max_is_split_on_boundary),
    cmocka_unit_test(over_max_across_chunks),
    cmocka_unit_test(random_chunks_match_whole),
    cmocka_unit_test(bad_arguments),
};

CU_TEST_MAIN(tests)
