/* SPDX-License-Identifier: MIT */
/*
 * `cuprum run A '|' B '|' C`: pipelines through the CLI, as real processes.
 * Every exit status (a failing stage early, in the middle, late; a signal;
 * a timeout; a refused, missing or unexecutable stage; an empty stage), the
 * fail-fast / wait-all / SIGPIPE policies, --pipe-token, stdin to stage 0,
 * every stage's stderr, and `yes | head -n1` finishing at once. (Closing
 * cuprum's output and signalling cuprum: test_cli.c, for both forms.)
 */
#include "harness_cli.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PIPE_CLI(fx, ...)                                                      \
  CLI("run", "--catalogue", (fx)->catalogue, __VA_ARGS__)

static void test_pipeline_streams_stage_to_stage(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--", "writer", "--out", "300000", "|",
                          "echoer", "|", "echoer");
  assert_status(r, 0);
  assert_int_equal(strlen(r.out), 300000);
  assert_int_equal(r.out[299999], 'a' + 299999 % 26);
  assert_string_equal(r.err, "");
  cli_free(&r);
  r = CLI("run", "--", "echo", "hello", "|", "tr", "a-z", "A-Z");
  assert_status(r, 0);
  assert_string_equal(r.out, "HELLO\n");
  cli_free(&r);
}

/* Fail-fast: the first failing stage's status, wherever it is; an earlier
 * stage is named on stderr and the others are stopped at once. */
static void test_pipeline_status_of_failing_stage(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--", "exitcode", "3", "|", "echoer");
  assert_status(r, 3);
  assert_contains(r.err, "stage 1 of 2 ('exitcode') failed with status 3");
  cli_free(&r);

  int64_t t0 = cut_now_ms();
  r = PIPE_CLI(fx, "--", "sleeper", "30000", "|", "exitcode", "4", "|",
               "echoer");
  assert_status(r, 4);
  assert_true(cut_now_ms() - t0 < CLI_QUICK_MS); /* sleeper was stopped */
  assert_contains(r.err, "stage 2 of 3 ('exitcode') failed with status 4; "
                         "the other stages were stopped");
  cli_free(&r);

  r = PIPE_CLI(fx, "--", "echo", "x", "|", "echoer", "|", "exitcode", "5");
  assert_status(r, 5);
  assert_string_equal(r.err, ""); /* the last stage: nothing to explain */
  cli_free(&r);
}

/* --wait-all: every stage runs to its end; the status is the last stage's,
 * as a shell without pipefail reports it. */
static void test_pipeline_wait_all_reports_last_stage(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--wait-all", "--", "exitcode", "3", "|",
                          "echoer");
  assert_status(r, 0);
  assert_contains(r.err, "stage 1 of 2 ('exitcode') failed with status 3");
  assert_null(strstr(r.err, "stopped"));
  cli_free(&r);
  r = PIPE_CLI(fx, "--wait-all", "--", "echo", "x", "|", "exitcode", "4", "|",
               "exitcode", "6");
  assert_status(r, 6);
  cli_free(&r);
  /* The first stage outlives the failing one and still ends normally. */
  r = PIPE_CLI(fx, "--wait-all", "--", "sleeper", "200", "|", "exitcode",
               "7");
  assert_status(r, 7);
  cli_free(&r);
}

static void test_pipeline_signal_in_a_stage(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--", "sleeper", "30000", "|", "killself", "9",
                          "|", "echoer");
  assert_status(r, 128 + SIGKILL);
  assert_contains(r.err, "('killself') failed with status 137");
  cli_free(&r);
  r = PIPE_CLI(fx, "--", "echo", "x", "|", "killself", "15");
  assert_status(r, 128 + SIGTERM);
  cli_free(&r);
}

/* The timeout covers the whole pipeline and its whole process tree. */
static void test_pipeline_timeout(void **state) {
  fixture *fx = *state;
  int64_t timeout = cut_after_start_ms(200); /* SIGTERM is ignored first */
  char msg[160];
  snprintf(msg, sizeof msg, "cuprum: pipeline 'forker | echoer' timed out "
           "after %s s; its process group was killed", cut_secs(timeout));
  int64_t t0 = cut_now_ms();
  cli_result r = PIPE_CLI(fx, "--timeout", cut_secs(timeout), "--grace", "0.2",
                          "--", "forker", "--ignore-term", "--wait", "30000",
                          "|", "echoer");
  int64_t elapsed = cut_now_ms() - t0;
  assert_status(r, 124);
  assert_contains(r.err, msg);
  assert_true(elapsed >= timeout + 200); /* timeout + grace */
  assert_true(elapsed < CLI_QUICK_MS);
  const char *g = strstr(r.out, "grandchild "); /* through echoer */
  assert_non_null(g);
  pid_t grandchild = (pid_t)atoi(g + strlen("grandchild "));
  assert_true(grandchild > 0);
  assert_true(pid_gone(grandchild));
  cli_free(&r);
}

/* A refused stage anywhere: 125 naming it, and nothing ran at all. */
static void test_pipeline_refused_stage_runs_nothing(void **state) {
  fixture *fx = *state;
  char marker[PATH_MAX];
  path_in(fx, "ran", marker);
  static const char *const refused[] = {"bash", "sh", "/bin/cat", "nope"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    cli_result r = PIPE_CLI(fx, "--", "touch", marker, "|", "echoer", "|",
                            refused[i], "-c", "id");
    assert_status(r, 125);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", refused[i]);
    assert_contains(r.err, quoted);
    assert_string_equal(r.out, "");
    assert_contains(r.err, "--pipe-token TOKEN makes it an ordinary");
    assert_int_equal(access(marker, F_OK), -1); /* touch never ran */
    cli_free(&r);
  }
}

static void test_pipeline_missing_or_unexecutable_stage(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--", "echo", "x", "|", "missing", "|",
                          "echoer");
  assert_status(r, 127);
  assert_contains(r.err, "missing");
  cli_free(&r);
  r = PIPE_CLI(fx, "--", "sleeper", "30000", "|", "notexec");
  assert_status(r, 126);
  cli_free(&r);
}

static void test_pipeline_empty_stage_is_usage_error(void **state) {
  (void)state;
  const char *const *cases[] = {
      ARGS("run", "--", "|", "echo", "x"),
      ARGS("run", "--", "echo", "x", "|"),
      ARGS("run", "--", "echo", "x", "|", "|", "cat"),
      ARGS("run", "|", "cat"),
      ARGS("run", "--pipe-token", "::", "--", "echo", "::"),
      ARGS("run", "--", "|"),
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cli_result r = cli_run(NULL, cases[i]);
    assert_status(r, 125);
    assert_contains(r.err, "of the pipeline is empty");
    assert_string_equal(r.out, "");
    cli_free(&r);
  }
}

/* --pipe-token: the usual '|' becomes an ordinary argument. */
static void test_pipeline_custom_token(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--pipe-token", ":::", "--", "argvdump", "|",
                          ":::", "echoer");
  assert_status(r, 0);
  assert_string_equal(r.out, "argc 2\n8:argvdump\n1:|\n");
  cli_free(&r);
}

/* `yes | head -n1`: head exits, yes dies of SIGPIPE, which is not a
 * failure; the pipeline ends at once. --sigpipe-fails makes it one. */
static void test_pipeline_yes_head_finishes_at_once(void **state) {
  (void)state;
  int64_t t0 = cut_now_ms();
  cli_result r = CLI("run", "--", "yes", "|", "head", "-n1");
  assert_true(cut_now_ms() - t0 < CLI_QUICK_MS);
  assert_status(r, 0);
  assert_string_equal(r.out, "y\n");
  assert_string_equal(r.err, "");
  cli_free(&r);
  /* (GNU head closes its stdin before flushing its stdout, so here it may
   * be stopped before it prints: only the status is certain.) */
  r = CLI("run", "--sigpipe-fails", "--", "yes", "|", "head", "-n1");
  assert_status(r, 128 + SIGPIPE);
  assert_contains(r.err, "stage 1 of 2 ('yes') failed with status 141");
  cli_free(&r);
}

static void test_pipeline_stdin_goes_to_stage_zero(void **state) {
  fixture *fx = *state;
  cli_result r = cli_run("piped\n", ARGS("run", "--catalogue", fx->catalogue,
                                         "--", "echoer", "|", "echoer"));
  assert_status(r, 0);
  assert_string_equal(r.out, "piped\n");
  cli_free(&r);
  char input[PATH_MAX];
  path_in(fx, "input.txt", input);
  write_file(input, "b\na\n", 0644);
  r = PIPE_CLI(fx, "--stdin", input, "--", "echoer", "|", "tac");
  assert_status(r, 0);
  assert_string_equal(r.out, "a\nb\n");
  cli_free(&r);
}

/* Every stage's stderr is echoed; only the last stage's stdout is. */
static void test_pipeline_every_stage_stderr(void **state) {
  fixture *fx = *state;
  cli_result r = PIPE_CLI(fx, "--", "writer", "--err", "3000", "|",
                          "writer", "--out", "5", "--err",
                          "2000");
  assert_status(r, 0);
  assert_string_equal(r.out, "abcde");
  assert_int_equal(strlen(r.err), 5000);
  cli_free(&r);
  r = PIPE_CLI(fx, "--quiet", "--", "writer", "--err", "3000", "|", "writer",
               "--out", "5", "--err", "20");
  assert_status(r, 0);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "");
  cli_free(&r);
}

/* --env, --unset and --cwd apply to every stage. */
static void test_pipeline_env_and_cwd(void **state) {
  fixture *fx = *state;
  char sub[PATH_MAX], real[PATH_MAX], want[PATH_MAX + 16];
  path_in(fx, "sub", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_non_null(realpath(sub, real));
  setenv("CUT_DROP", "dropped", 1);
  cli_result r = PIPE_CLI(fx, "--env", "CUT_NEW=1", "--unset", "CUT_DROP",
                          "--cwd", sub, "--", "envdump", "CUT_NEW",
                          "CUT_DROP", "|", "echoer");
  assert_status(r, 0);
  assert_string_equal(r.out, "CUT_NEW=1\nCUT_DROP unset\n");
  cli_free(&r);
  r = PIPE_CLI(fx, "--cwd", sub, "--", "echo", "|", "pwddump");
  snprintf(want, sizeof want, "%s\n", real);
  assert_status(r, 0);
  assert_string_equal(r.out, want);
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_pipeline_streams_stage_to_stage, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_status_of_failing_stage, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_wait_all_reports_last_stage, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_signal_in_a_stage, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_timeout, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_refused_stage_runs_nothing, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_missing_or_unexecutable_stage, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_empty_stage_is_usage_error, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_custom_token, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_yes_head_finishes_at_once, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_stdin_goes_to_stage_zero, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_every_stage_stderr, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_pipeline_env_and_cwd, cli_setup,
                                    cli_teardown),
};

CU_TEST_MAIN(tests)
