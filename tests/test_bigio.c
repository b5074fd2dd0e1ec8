/* SPDX-License-Identifier: MIT */
/* Large concurrent streams: both outputs drained while stdin is fed. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

#define MB (1024u * 1024u)

static void check_pattern(const cu_bytes *b, size_t n, char base) {
  assert_int_equal(b->len, n);
  for (size_t i = 0; i < n; i += 4099)
    assert_int_equal(b->data[i], base + (char)(i % 26));
}

static void test_heavy_100mb_stdout_and_stderr(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("writer", "--out", "104857600", "--err", "104857600",
                        NULL);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), 0);
  assert_true(r->ok);
  check_pattern(&r->out, 100 * MB, 'a');
  check_pattern(&r->err, 100 * MB, 'A');
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_heavy_100mb_in_out_err_no_deadlock(void **state) {
  (void)state;
  size_t n = 100 * MB;
  unsigned char *in = malloc(n);
  assert_non_null(in);
  for (size_t i = 0; i < n; i++)
    in[i] = (unsigned char)(i * 7 + (i >> 13));
  cu_cmd *cmd = cut_cmd("stress", "--err", "104857600", NULL);
  cu_result *r = NULL;
  assert_int_equal(
      cu_run(
          cmd,
          &(cu_run_opts){.size = sizeof(cu_run_opts),
                         .in = {.mode = CU_STDIN_BYTES, .data = in, .len = n}},
          &r),
      0);
  assert_true(r->ok);
  assert_int_equal(r->out.len, n);
  assert_memory_equal(r->out.data, in, n);
  assert_int_equal(r->err.len, n);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  free(in);
  cut_assert_no_children();
}

static void test_child_closing_stdin_early(void **state) {
  (void)state;
  /* exitcode never reads stdin: feeding must stop (EPIPE), not hang. */
  size_t n = 8 * MB;
  char *in = calloc(1, n);
  cu_cmd *cmd = cut_cmd("exitcode", "3", NULL);
  cu_result *r = NULL;
  assert_int_equal(
      cu_run(
          cmd,
          &(cu_run_opts){.size = sizeof(cu_run_opts),
                         .in = {.mode = CU_STDIN_BYTES, .data = in, .len = n}},
          &r),
      0);
  assert_int_equal(r->exit_code, 3);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  free(in);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_heavy_100mb_stdout_and_stderr),
    cmocka_unit_test(test_heavy_100mb_in_out_err_no_deadlock),
    cmocka_unit_test(test_child_closing_stdin_early),
};

CU_TEST_MAIN(tests)
