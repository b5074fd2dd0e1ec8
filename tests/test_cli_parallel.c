/* SPDX-License-Identifier: MIT */
/*
 * `cuprum parallel FILE` as a real process: results as JSON lines in
 * submission order (parsed back with jansson), the -j limit, fail-fast
 * marking running commands terminated and queued ones skipped, per-command
 * timeouts, the batch deadline, bad lines refused before anything runs,
 * captured output as valid JSON strings, and every exit status.
 * Threads: the loop's, and the CLI's result writer.
 * ctest-labels: threads
 */
#include "harness_cli.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The parsed result lines of one run (at most 16), each at its "index"
 * (lines come in completion order); item[i] NULL when item i printed no
 * line (never started). `lines` counts them, `order` lists the indexes as
 * printed. */
typedef struct results {
  json_t *item[16];
  size_t n, lines;
  size_t order[16];
} results;

/* Write `lines` to FILE in the fixture and run `cuprum parallel ARGS FILE`
 * with the fixture's catalogue. */
static cli_result run_batch(const fixture *fx, const char *lines,
                            const char *const *args) {
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file, lines, 0644);
  const char *argv[32] = {"parallel", "--catalogue", fx->catalogue};
  size_t n = 3;
  for (; args && args[n - 3]; n++)
    argv[n] = args[n - 3];
  argv[n++] = file;
  argv[n] = NULL;
  return cli_run(NULL, argv);
}

#define BATCH(fx, lines, ...) run_batch((fx), (lines), ARGS(__VA_ARGS__))
#define NO_ARGS ((const char *)NULL) /* BATCH(fx, lines, NO_ARGS) */

/* Every stdout line is one JSON object with every documented key. */
static results parse_results(const char *out) {
  static const char *const keys[] = {
      "index",       "line",   "argv",   "state",  "exit_code", "signal",
      "ok",          "timed_out", "duration_ms", "stdout", "stderr",
      "retries",     "status"};
  results res = {0};
  for (const char *p = out; *p;) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    json_error_t err;
    json_t *o = json_loadb(p, (size_t)(nl - p), JSON_ALLOW_NUL, &err);
    if (!o)
      fail_msg("not JSON (%s): %.*s", err.text, (int)(nl - p), p);
    assert_true(json_is_object(o));
    for (size_t k = 0; k < sizeof keys / sizeof *keys; k++)
      if (!json_object_get(o, keys[k]))
        fail_msg("no key '%s' in %.*s", keys[k], (int)(nl - p), p);
    json_int_t i = json_integer_value(json_object_get(o, "index"));
    assert_true(i >= 0 && i < 16 && !res.item[i] && res.lines < 16);
    res.item[i] = o;
    res.order[res.lines++] = (size_t)i;
    if ((size_t)i >= res.n)
      res.n = (size_t)i + 1;
    p = nl + 1;
  }
  return res;
}

static void results_free(results *res) {
  for (size_t i = 0; i < res->n; i++)
    json_decref(res->item[i]);
}

static const char *str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  assert_non_null(s);
  return s;
}

static json_int_t num(const json_t *o, const char *key) {
  json_t *v = json_object_get(o, key);
  assert_true(json_is_integer(v));
  return json_integer_value(v);
}

static void assert_state(const json_t *o, const char *state) {
  assert_string_equal(str(o, "state"), state);
}

static void test_parallel_results_in_submission_order(void **state) {
  fixture *fx = *state;
  cli_result r = BATCH(fx,
                       "[\"sleeper\", \"300\"]\n"
                       "\n"
                       "  [\"exitcode\", \"0\"]  \n"
                       "[\"argvdump\", \"a b\", \"\\\"q\\\"\"]\n"
                       "[\"writer\", \"--out\", \"3\", \"--err\", \"2\"]\n",
                       "-j", "4", "--keep-order");
  assert_status(r, 0);
  assert_string_equal(r.err, "");
  results res = parse_results(r.out);
  assert_int_equal(res.n, 4);
  static const int lines[] = {1, 3, 4, 5};
  for (size_t i = 0; i < 4; i++) {
    assert_int_equal(num(res.item[i], "index"), i);
    assert_int_equal(num(res.item[i], "line"), lines[i]);
    assert_state(res.item[i], "done");
    assert_true(json_is_true(json_object_get(res.item[i], "ok")));
    assert_int_equal(num(res.item[i], "exit_code"), 0);
    assert_true(json_is_null(json_object_get(res.item[i], "signal")));
    assert_true(json_is_real(json_object_get(res.item[i], "duration_ms")));
  }
  /* The slowest first: --keep-order prints in submission order. */
  for (size_t i = 0; i < 4; i++)
    assert_int_equal(res.order[i], i);
  assert_string_equal(str(res.item[0], "stdout"), "ready\n");
  assert_true(json_real_value(json_object_get(res.item[0], "duration_ms")) >=
              300);
  json_t *argv = json_object_get(res.item[2], "argv");
  assert_int_equal(json_array_size(argv), 3);
  assert_string_equal(json_string_value(json_array_get(argv, 2)), "\"q\"");
  assert_string_equal(str(res.item[2], "stdout"),
                      "argc 3\n8:argvdump\n3:a b\n3:\"q\"\n");
  assert_string_equal(str(res.item[3], "stdout"), "abc");
  assert_string_equal(str(res.item[3], "stderr"), "AB");
  results_free(&res);
  cli_free(&r);
}

/* -j N: at most N at once, so four 300 ms sleeps take two rounds at -j 2
 * and one at -j 0 (no limit). */
static void test_parallel_limit(void **state) {
  fixture *fx = *state;
  const char *lines = "[\"sleeper\", \"300\"]\n[\"sleeper\", \"300\"]\n"
                      "[\"sleeper\", \"300\"]\n[\"sleeper\", \"300\"]\n";
  int64_t t0 = cut_now_ms();
  cli_result r = BATCH(fx, lines, "-j", "2");
  int64_t two = cut_now_ms() - t0;
  assert_status(r, 0);
  cli_free(&r);
  t0 = cut_now_ms();
  r = BATCH(fx, lines, "--jobs", "1");
  int64_t one = cut_now_ms() - t0;
  assert_status(r, 0);
  cli_free(&r);
  t0 = cut_now_ms();
  r = BATCH(fx, lines, "-j", "0");
  int64_t unlimited = cut_now_ms() - t0;
  assert_status(r, 0);
  results res = parse_results(r.out);
  assert_int_equal(res.n, 4);
  results_free(&res);
  cli_free(&r);
  assert_true(one >= 1200);
  assert_true(two >= 600);
  /* Not one after another: at -j 1 the same four took 1200 ms more than
   * one run's 300. Both batches pay the same start-up (cuprum's own, which
   * under valgrind is longer than the runs: comparing with the sum of the
   * runs' durations failed there), so a loaded machine slows them alike. */
  assert_true(unlimited < one);
}

/* --fail-fast: the failure stops the running command (terminated) and the
 * queued ones never start (skipped); the status is the failure's. */
static void test_parallel_fail_fast(void **state) {
  fixture *fx = *state;
  char marker[PATH_MAX], lines[2 * PATH_MAX];
  path_in(fx, "ran", marker);
  snprintf(lines, sizeof lines,
           "[\"sleeper\", \"30000\"]\n[\"exitcode\", \"3\"]\n"
           "[\"touch\", \"%s\"]\n[\"sleeper\", \"30000\"]\n", marker);
  int64_t t0 = cut_now_ms();
  cli_result r = BATCH(fx, lines, "-j", "2", "--fail-fast");
  assert_true(cut_now_ms() - t0 < CLI_QUICK_MS);
  assert_status(r, 3);
  assert_contains(r.err, "0 of 4 ok, 2 failed, 2 skipped");
  assert_contains(r.err, ":2: first failure: 'exitcode' (index 1), status 3");
  results res = parse_results(r.out);
  /* The queued ones were never pulled: no line. */
  assert_int_equal(res.lines, 2);
  assert_state(res.item[0], "terminated");
  assert_int_equal(num(res.item[0], "signal"), SIGTERM);
  assert_state(res.item[1], "done");
  assert_int_equal(num(res.item[1], "exit_code"), 3);
  assert_false(json_is_true(json_object_get(res.item[1], "ok")));
  assert_int_equal(access(marker, F_OK), -1);
  results_free(&res);
  cli_free(&r);
}

/* Without --fail-fast everything runs; the status is the first failure's
 * by the run rules (code, 128+N). */
static void test_parallel_status_of_first_failure(void **state) {
  fixture *fx = *state;
  cli_result r = BATCH(fx, "[\"exitcode\", \"3\"]\n[\"sleeper\", \"200\"]\n",
                       NO_ARGS);
  assert_status(r, 3);
  results res = parse_results(r.out);
  assert_int_equal(res.n, 2);
  assert_state(res.item[1], "done");
  assert_true(json_is_true(json_object_get(res.item[1], "ok")));
  results_free(&res);
  cli_free(&r);
  r = BATCH(fx, "[\"killself\", \"9\"]\n", NO_ARGS);
  assert_status(r, 128 + SIGKILL);
  res = parse_results(r.out);
  assert_int_equal(num(res.item[0], "signal"), SIGKILL);
  assert_true(json_is_null(json_object_get(res.item[0], "exit_code")));
  results_free(&res);
  cli_free(&r);
}

static void test_parallel_timeout_and_deadline(void **state) {
  fixture *fx = *state;
  int64_t t0 = cut_now_ms();
  /* The timeout applies to exitcode too: it must have time to finish. */
  cli_result r = BATCH(fx, "[\"sleeper\", \"30000\"]\n[\"exitcode\", \"0\"]\n",
                       "--timeout", cut_secs(cut_after_start_ms(200)));
  assert_true(cut_now_ms() - t0 < CLI_QUICK_MS);
  assert_status(r, 124);
  results res = parse_results(r.out);
  assert_state(res.item[0], "done");
  assert_true(json_is_true(json_object_get(res.item[0], "timed_out")));
  assert_true(json_is_true(json_object_get(res.item[1], "ok")));
  results_free(&res);
  cli_free(&r);

  /* --grace 0: SIGKILL at once, even for a command ignoring SIGTERM. */
  r = BATCH(fx, "[\"sleeper\", \"30000\", \"--ignore-term\"]\n", "--timeout",
            "0.2", "--grace", "0");
  assert_status(r, 124);
  res = parse_results(r.out);
  assert_int_equal(num(res.item[0], "signal"), SIGKILL);
  results_free(&res);
  cli_free(&r);

  t0 = cut_now_ms();
  r = BATCH(fx, "[\"sleeper\", \"30000\"]\n[\"sleeper\", \"30000\"]\n", "-j",
            "1", "--deadline", "0.2");
  assert_true(cut_now_ms() - t0 < CLI_QUICK_MS);
  assert_status(r, 124);
  assert_contains(r.err, "the deadline of 0.2 s expired");
  res = parse_results(r.out);
  assert_state(res.item[0], "terminated");
  assert_int_equal(res.lines, 1); /* the second never started */
  assert_contains(r.err, "0 of 2 ok, 1 failed, 1 skipped");
  results_free(&res);
  cli_free(&r);
}

/* A signal sent to cuprum cancels the whole batch: 128+N, nothing left.
 * (-x's "+ sleeper" line says the batch has started.) */
static void test_parallel_signal_cancels_batch(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file, "[\"sleeper\", \"30000\"]\n[\"sleeper\", \"30000\"]\n"
                   "[\"exitcode\", \"0\"]\n", 0644);
  cli_proc p;
  cli_start(&p, false, -1,
            ARGS("parallel", "-x", "-j", "2", "--catalogue", fx->catalogue,
                 file));
  cli_wait_for_stderr(&p, "+ sleeper 30000\n+ sleeper 30000\n");
  int64_t t0 = cut_now_ms();
  assert_int_equal(kill(p.pid, SIGINT), 0);
  cli_result r = cli_finish(&p);
  assert_status(r, 128 + SIGINT);
  assert_true(cut_now_ms() - t0 < CLI_QUICK_MS);
  results res = parse_results(r.out);
  assert_int_equal(res.lines, 2);
  assert_state(res.item[0], "terminated");
  assert_state(res.item[1], "terminated");
  assert_null(res.item[2]);
  results_free(&res);
  cli_free(&r);
}

/* A bad line is refused, naming FILE:LINE, before anything runs. */
static void test_parallel_bad_line_runs_nothing(void **state) {
  fixture *fx = *state;
  static const char *const bad[] = {
      "[\"echo\", 1]",  "{\"argv\": [\"echo\"]}", "[]",    "\"echo\"",
      "[\"echo\"",      "[\"echo\"] extra",       "[\"bash\", \"-c\", \"id\"]",
      "[\"/bin/echo\"]"};
  char marker[PATH_MAX], lines[2 * PATH_MAX + 64];
  path_in(fx, "ran", marker);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    snprintf(lines, sizeof lines, "[\"touch\", \"%s\"]\n\n%s\n", marker,
             bad[i]);
    cli_result r = BATCH(fx, lines, NO_ARGS);
    assert_status(r, 125);
    assert_contains(r.err, "batch.jsonl:3:");
    assert_string_equal(r.out, "");
    assert_int_equal(access(marker, F_OK), -1);
    cli_free(&r);
  }
}

static void test_parallel_missing_and_unexecutable(void **state) {
  fixture *fx = *state;
  cli_result r = BATCH(fx, "[\"exitcode\", \"0\"]\n[\"missing\"]\n", NO_ARGS);
  assert_status(r, 127); /* found out before anything runs */
  assert_contains(r.err, "batch.jsonl:2:");
  assert_string_equal(r.out, "");
  cli_free(&r);
  r = BATCH(fx, "[\"exitcode\", \"0\"]\n[\"notexec\"]\n", NO_ARGS);
  assert_status(r, 126);
  results res = parse_results(r.out);
  assert_state(res.item[1], "failed_to_start");
  assert_non_null(json_object_get(res.item[1], "error"));
  results_free(&res);
  cli_free(&r);
}

/* Captured output is always a valid JSON string: invalid UTF-8 becomes
 * U+FFFD and a NUL byte is escaped, not a cut. */
static void test_parallel_output_is_valid_json(void **state) {
  fixture *fx = *state;
  cli_result r = BATCH(fx, "[\"printf\", \"a\\\\000b\\\\377c\"]\n", NO_ARGS);
  assert_status(r, 0);
  results res = parse_results(r.out);
  json_t *out = json_object_get(res.item[0], "stdout");
  assert_int_equal(json_string_length(out), 7);
  assert_memory_equal(json_string_value(out), "a\0b\xEF\xBF\xBD" "c", 7);
  results_free(&res);
  cli_free(&r);
}

/* FILE "-" reads the list from stdin; the commands themselves read
 * /dev/null, never the list. */
static void test_parallel_list_on_stdin(void **state) {
  fixture *fx = *state;
  cli_result r = cli_run("[\"echoer\"]\n[\"exitcode\", \"0\"]\n",
                         ARGS("parallel", "--catalogue", fx->catalogue, "-"));
  assert_status(r, 0);
  results res = parse_results(r.out);
  assert_int_equal(res.n, 2);
  assert_string_equal(str(res.item[0], "stdout"), "");
  results_free(&res);
  cli_free(&r);
  r = cli_run("", ARGS("parallel", "-")); /* an empty list: nothing to do */
  assert_status(r, 0);
  assert_string_equal(r.out, "");
  cli_free(&r);
}

/* A list that cannot be read twice (a pipe named as FILE: /dev/stdin
 * here, /dev/fd/N from <(...) in a shell) is read once and run from a
 * copy: reading it again for the run found nothing, so no item ran and
 * the status was still 0. */
static void test_parallel_list_from_a_pipe(void **state) {
  fixture *fx = *state;
  cli_result r =
      cli_run("[\"echoer\"]\n[\"exitcode\", \"0\"]\n",
              ARGS("parallel", "--catalogue", fx->catalogue, "/dev/stdin"));
  assert_status(r, 0);
  results res = parse_results(r.out);
  assert_int_equal(res.lines, 2);
  results_free(&res);
  cli_free(&r);
  r = cli_run("a\nb\nc\n", ARGS("parallel", "--catalogue", fx->catalogue,
                                "--args", "/dev/stdin", "echo", "{}"));
  assert_status(r, 0);
  res = parse_results(r.out);
  assert_int_equal(res.lines, 3);
  assert_string_equal(str(res.item[2], "stdout"), "c\n");
  results_free(&res);
  cli_free(&r);
}

/* FILE rewritten while its items run (here by its first item, at -j1):
 * the items checked still run, nothing beyond them does, and the run
 * fails saying why rather than running unchecked lines. */
static void test_parallel_list_grows_while_running(void **state) {
  fixture *fx = *state;
  char list[PATH_MAX], longer[PATH_MAX], lines[3 * PATH_MAX];
  path_in(fx, "batch.jsonl", list);
  path_in(fx, "longer.jsonl", longer);
  char *text = malloc(40 * 20 + 1);
  assert_non_null(text);
  text[0] = '\0';
  for (int i = 0; i < 40; i++)
    strcat(text, "[\"exitcode\", \"0\"]\n");
  write_file(longer, text, 0644);
  free(text);
  snprintf(lines, sizeof lines, "[\"cp\", \"%s\", \"%s\"]\n[\"echoer\"]\n",
           longer, list);
  cli_result r = BATCH(fx, lines, "-j1");
  assert_status(r, 125);
  assert_contains(r.err, "changed while its items ran");
  results res = parse_results(r.out);
  assert_int_equal(res.lines, 2); /* the two checked items, no more */
  assert_state(res.item[0], "done");
  assert_state(res.item[1], "done");
  results_free(&res);
  cli_free(&r);
}

/* (Usage errors of parallel: test_exit_125_usage in test_cli.c.) */
static void test_parallel_help(void **state) {
  (void)state;
  cli_result r = CLI("parallel", "--help");
  assert_status(r, 0);
  assert_contains(r.out, "usage: cuprum parallel");
  assert_contains(r.out, "--fail-fast");
  cli_free(&r);
  r = CLI("--help");
  assert_contains(r.out, "cuprum parallel [-j N]");
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_parallel_results_in_submission_order,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_limit, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_fail_fast, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_status_of_first_failure,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_timeout_and_deadline,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_signal_cancels_batch,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_bad_line_runs_nothing,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_missing_and_unexecutable,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_output_is_valid_json,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_list_from_a_pipe, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_list_grows_while_running,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_list_on_stdin, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_help, cli_setup,
                                    cli_teardown),
};

CU_TEST_MAIN(tests)
