/* SPDX-License-Identifier: MIT */
/*
 * The CLI's internals driven directly (tools/ linked in, its main()
 * renamed): regression tests for what the fuzz targets of fuzz/ found in
 * the option parser and the job-log reader, where a run of the cuprum
 * binary cannot show it (one parse per process; a log too large to write).
 */
#define main cuprum_cli_main
#include "../tools/main.c"
#undef main

#include "harness.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parallel_out.h"

/* ------------------------------------------------------------ options */

typedef struct seen {
  char opts[16];
  size_t n;
} seen;

static int record(void *ctx, int opt, const char *arg) {
  (void)arg;
  seen *s = ctx;
  if (s->n + 1 < sizeof s->opts)
    s->opts[s->n++] = (char)opt;
  return opt == 'a' ? CLI_EXIT_FAILURE : 0; /* 'a' is a bad value */
}

static void no_help(void) {}

/* A scan stopped inside a cluster ("-ab", stopped at 'a') must not leak
 * into the next one: glibc's getopt keeps its place in the old argv unless
 * optind is set to 0 (fuzz_cli_args found the stale pointer). */
static void test_parse_options_forgets_previous_scan(void **state) {
  (void)state;
  static const struct option lo[] = {{"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};
  char sub[] = "sub", cluster[] = "-ab", c[] = "-c", operand[] = "x";
  char *argv1[] = {sub, cluster, NULL};
  seen s1 = {0};
  assert_int_equal(cli_parse_options(2, argv1, "sub", "+:abch", lo, record,
                                     &s1, no_help),
                   CLI_EXIT_FAILURE);
  assert_string_equal(s1.opts, "a");
  char *argv2[] = {sub, c, operand, NULL};
  seen s2 = {0};
  assert_int_equal(cli_parse_options(3, argv2, "sub", "+:abch", lo, record,
                                     &s2, no_help),
                   0);
  assert_string_equal(s2.opts, "c"); /* not "bc": nothing of argv1 */
  assert_int_equal(optind, 2);
}

/* ------------------------------------------------------------ job log */

static const char header[] = "Seq\tHost\tStarttime\tJobRuntime\tSend\t"
                             "Receive\tExitval\tSignal\tCommand\n";

/* A resumed log reads the Seq of lines cuprum wrote; one claiming a huge
 * Seq, a sign or leading blanks is not one of them, and must neither be
 * taken for another item nor size the bitmaps (fuzz_joblog checks it). */
static void test_joblog_resume_ignores_bad_seq(void **state) {
  (void)state;
  char dir[] = "/tmp/cuprum-joblog-XXXXXX";
  assert_non_null(mkdtemp(dir));
  char path[64];
  snprintf(path, sizeof path, "%s/log", dir);
  FILE *f = fopen(path, "we");
  assert_non_null(f);
  fputs(header, f);
  fputs("1\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n", f);
  fputs("99999999999\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n", f); /* huge */
  fputs("-18446744073709551613\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n", f); /* = 3 */
  fputs(" 4\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n", f);
  fputs("268435456\t:\t1.0\t0.1\t0\t0\t1\t0\tfalse\n", f); /* the largest */
  fputs("268435457\t:\t1.0\t0.1\t0\t0\t0\t0\ttrue\n", f);
  assert_int_equal(fclose(f), 0);
  cli_joblog j;
  assert_int_equal(cli_joblog_open(&j, path, true, false), 0);
  assert_true(cli_joblog_done(&j, 1, true));
  assert_false(cli_joblog_done(&j, 3, false));
  assert_false(cli_joblog_done(&j, 4, false));
  assert_true(cli_joblog_done(&j, CLI_JOBLOG_MAX_SEQ, false));
  assert_false(cli_joblog_done(&j, CLI_JOBLOG_MAX_SEQ, true));
  assert_false(cli_joblog_done(&j, CLI_JOBLOG_MAX_SEQ + 1, false));
  assert_true(j.n_bits <= 2 * (CLI_JOBLOG_MAX_SEQ + 1));
  assert_int_equal(cli_joblog_close(&j), 0);
  char started[80];
  snprintf(started, sizeof started, "%s.started", path);
  assert_int_equal(unlink(started), 0);
  assert_int_equal(unlink(path), 0);
  assert_int_equal(rmdir(dir), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parse_options_forgets_previous_scan),
    cmocka_unit_test(test_joblog_resume_ignores_bad_seq),
};

CU_TEST_MAIN(tests)
