/* SPDX-License-Identifier: MIT */
/*
 * `cuprum parallel` for long batches, as a real process: results streamed
 * as items end, --args templates (no shell), --halt and --retries, the job
 * log in GNU parallel's columns, --resume after a SIGKILL (every item once,
 * or named as unknown), --resume-failed, --results DIR, and the progress
 * line drawn only on a terminal (a pty) or when asked.
 * Threads: the loop's, and the CLI's result writer.
 * ctest-labels: threads
 */
#include "harness_cli.h"

#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void batch_file(const fixture *fx, const char *name, const char *text,
                       char *path) {
  path_in(fx, name, path);
  write_file(path, text, 0644);
}

/* The result lines, each at its index (at most 16). */
typedef struct results {
  json_t *item[16];
  size_t lines;
} results;

static results parse(const char *out) {
  results res = {0};
  for (const char *p = out; *p;) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    json_error_t err;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &err);
    if (!o)
      fail_msg("not JSON (%s): %.*s", err.text, (int)(nl - p), p);
    json_int_t i = json_integer_value(json_object_get(o, "index"));
    assert_true(i >= 0 && i < 16 && !res.item[i]);
    res.item[i] = o;
    res.lines++;
    p = nl + 1;
  }
  return res;
}

static void results_free(results *r) {
  for (size_t i = 0; i < 16; i++)
    json_decref(r->item[i]);
}

static size_t count_lines(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    n += *s == '\n';
  return n;
}

/* A result line is written when its item ends, while others still run. */
static void test_batch_streams_results(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "b.jsonl", "[\"sleeper\", \"30000\"]\n[\"exitcode\", \"0\"]\n",
             file);
  cli_proc p;
  cli_start(&p, false, -1,
            ARGS("parallel", "-j", "2", "--catalogue", fx->catalogue, file));
  cli_wait_for(&p, "\"index\":1,");
  assert_null(strstr(p.bout.data, "\"index\":0,")); /* still running */
  assert_int_equal(kill(p.pid, SIGTERM), 0);
  cli_result r = cli_finish(&p);
  assert_int_equal(r.status, 128 + SIGTERM);
  results res = parse(r.out);
  assert_string_equal(json_string_value(json_object_get(res.item[0], "state")),
                      "terminated");
  results_free(&res);
  cli_free(&r);
}

/* --args: each line is one argv element wherever {} stands ({#}: its
 * number); spaces, quotes and $ stay as they are (no shell). */
static void test_batch_args_template(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "args.txt", "a b\n\n$HOME 'q'\n", file);
  cli_result r = cli_run(
      NULL, ARGS("parallel", "--catalogue", fx->catalogue, "-k", "--args",
                 file, "--", "argvdump", "{}", "n={#}", "x{}y"));
  assert_int_equal(r.status, 0);
  results res = parse(r.out);
  assert_int_equal(res.lines, 3);
  assert_string_equal(
      json_string_value(json_object_get(res.item[0], "stdout")),
      "argc 4\n8:argvdump\n3:a b\n3:n=1\n5:xa by\n");
  assert_string_equal(
      json_string_value(json_object_get(res.item[1], "stdout")),
      "argc 4\n8:argvdump\n0:\n3:n=2\n2:xy\n");
  assert_string_equal(
      json_string_value(json_object_get(res.item[2], "stdout")),
      "argc 4\n8:argvdump\n9:$HOME 'q'\n3:n=3\n11:x$HOME 'q'y\n");
  results_free(&res);
  cli_free(&r);
  /* The template's program is checked like any other. */
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue, "--args",
                         file, "bash", "-c", "{}"));
  assert_int_equal(r.status, 125);
  assert_string_equal(r.out, "");
  cli_free(&r);
  /* A line that is not UTF-8 is named before anything runs (it was
   * reported as "out of memory"). */
  batch_file(fx, "bad.txt", "fine\n\xff\xfe\n", file);
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue, "--args",
                         file, "--", "argvdump", "{}"));
  assert_int_not_equal(r.status, 0);
  assert_string_equal(r.out, "");
  assert_contains(r.err, "bad.txt:2: the line is not valid UTF-8");
  cli_free(&r);
}

/* --retries counts in the result and --halt stops pulling; the job log
 * has GNU parallel's header and one line per ended item (its last
 * attempt), plus the retry count in a tenth column, Retries. */
static void test_batch_retries_halt_joblog(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], log[PATH_MAX];
  batch_file(fx, "b.jsonl",
             "[\"exitcode\", \"0\"]\n[\"exitcode\", \"3\"]\n"
             "[\"exitcode\", \"0\"]\n[\"exitcode\", \"0\"]\n",
             file);
  path_in(fx, "job.log", log);
  cli_result r = cli_run(
      NULL, ARGS("parallel", "--catalogue", fx->catalogue, "-j", "1",
                 "--retries", "2", "--retry-backoff", "0.01", "--halt",
                 "soon,fail=1", "--joblog", log, file));
  assert_int_equal(r.status, 3);
  assert_contains(r.err, "1 of 4 ok, 1 failed, 2 skipped");
  results res = parse(r.out);
  assert_int_equal(res.lines, 2);
  assert_int_equal(json_integer_value(json_object_get(res.item[1], "retries")),
                   2);
  assert_int_equal(json_integer_value(json_object_get(res.item[0], "retries")),
                   0);
  results_free(&res);
  cli_free(&r);
  char *text = cli_slurp(log, NULL);
  assert_true(strncmp(text, "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\t"
                            "Exitval\tSignal\tCommand\tRetries\n", 72) == 0);
  assert_int_equal(count_lines(text), 3);
  assert_non_null(strstr(text, "\n2\t:\t"));
  assert_non_null(strstr(text, "\t0\t0\texitcode 0\t0\n"));
  assert_non_null(strstr(text, "\t3\t0\texitcode 3\t2\n"));
  free(text);
  /* Bad halts are usage errors. */
  r = cli_run(NULL, ARGS("parallel", "--halt", "later,fail=1", file));
  assert_int_equal(r.status, 125);
  assert_contains(r.err, "--halt");
  cli_free(&r);
}

/* How many tab-separated columns each line of `text` has; -1 if they
 * differ. */
static int columns(const char *text) {
  int cols = 0;
  for (const char *p = text; *p;) {
    int c = 1;
    for (; *p && *p != '\n'; p++)
      c += *p == '\t';
    if (*p)
      p++;
    if (cols && c != cols)
      return -1;
    cols = c;
  }
  return cols;
}

/* Run argv (absolute path) with stdout and stderr to /dev/null; its exit
 * status, or -1. */
static int run_quiet(const char *const *argv) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv,
                       environ);
  posix_spawn_file_actions_destroy(&fa);
  int st = 0;
  if (rc != 0 || waitpid(pid, &st, 0) != pid)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The Retries column: only in a log started with --retries (without it the
 * log is GNU parallel's, column for column); a resumed log keeps the
 * columns its header names, whatever this run's options; and GNU parallel
 * itself still resumes from a log that has the column. */
static void test_batch_joblog_retries_column(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], plain[PATH_MAX], counted[PATH_MAX];
  batch_file(fx, "b.jsonl", "[\"exitcode\", \"0\"]\n[\"exitcode\", \"5\"]\n",
             file);
  path_in(fx, "plain.log", plain);
  path_in(fx, "counted.log", counted);
  cli_result r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                                    "--joblog", plain, file));
  assert_int_equal(r.status, 5);
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                         "--retries", "1", "--retry-backoff", "0",
                         "--joblog", plain, "--resume-failed", file));
  assert_int_equal(r.status, 5);
  cli_free(&r);
  char *text = cli_slurp(plain, NULL);
  assert_int_equal(count_lines(text), 4); /* header, 2 items, 1 again */
  assert_int_equal(columns(text), 9);
  assert_null(strstr(text, "Retries"));
  free(text);
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                         "--retries", "1", "--retry-backoff", "0",
                         "--joblog", counted, file));
  assert_int_equal(r.status, 5);
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                         "--joblog", counted, "--resume-failed", file));
  assert_int_equal(r.status, 5);
  cli_free(&r);
  text = cli_slurp(counted, NULL);
  assert_int_equal(count_lines(text), 4);
  assert_int_equal(columns(text), 10);
  assert_non_null(strstr(text, "\t5\t0\texitcode 5\t1\n")); /* run 1 */
  assert_non_null(strstr(text, "\t5\t0\texitcode 5\t0\n")); /* resumed */
  free(text);
  const char *gnu = "/usr/bin/parallel";
  if (access(gnu, X_OK) != 0) {
    print_message("skipped: GNU parallel is not installed (scripts/deps.sh "
                  "test), so its reading of the log is not checked\n");
    skip();
  }
  /* GNU parallel --resume-failed: item 1 (ok) is done, item 2 runs. */
  assert_int_equal(run_quiet(ARGS(gnu, "--will-cite", "--resume-failed",
                                  "--joblog", counted, "true", ":::", "a",
                                  "b")),
                   0);
  text = cli_slurp(counted, NULL);
  assert_int_equal(count_lines(text), 5);
  assert_non_null(strstr(text, "\n2\t:\t"));
  assert_non_null(strstr(text, "true b\n"));
  assert_null(strstr(text, "true a\n"));
  free(text);
}

static void wait_for_lines(const char *path, size_t n) {
  int64_t deadline = cut_now_ms() + CLI_DEADLINE_MS;
  for (;;) {
    char *text = cli_slurp(path, ""); /* not there yet: no lines */
    size_t have = count_lines(text);
    free(text);
    if (have >= n)
      return;
    if (cut_now_ms() > deadline)
      fail_msg("%s: never reached %zu lines", path, n);
    usleep(10000);
  }
}

/* SIGKILL in the middle, then --resume: what the log holds as done never
 * runs again; the one that was running is named as unknown and runs
 * again; the rest runs once. */
static void test_batch_sigkill_then_resume(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], log[PATH_MAX], started[PATH_MAX + 16];
  batch_file(fx, "b.jsonl",
             "[\"exitcode\", \"0\"]\n[\"exitcode\", \"0\"]\n"
             "[\"sleeper\", \"1500\"]\n[\"exitcode\", \"0\"]\n"
             "[\"exitcode\", \"0\"]\n",
             file);
  path_in(fx, "job.log", log);
  snprintf(started, sizeof started, "%s.started", log);
  cli_proc p;
  cli_start(&p, false, -1,
            ARGS("parallel", "-j", "1", "--catalogue", fx->catalogue,
                 "--joblog", log, file));
  wait_for_lines(log, 3);     /* header, items 1 and 2 */
  wait_for_lines(started, 3); /* item 3 started */
  assert_int_equal(kill(p.pid, SIGKILL), 0);
  cli_result r = cli_finish(&p);
  assert_int_equal(r.status, 1000 + SIGKILL);
  results first = parse(r.out);
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "-j", "1", "--catalogue", fx->catalogue,
                         "--joblog", log, "--resume", file));
  assert_int_equal(r.status, 0);
  assert_contains(r.err, "item 3 was started but never logged");
  results second = parse(r.out);
  /* Every item's line exactly once across both runs, but item 3 (unknown
   * in the first, so run again and reported). */
  for (size_t i = 0; i < 5; i++) {
    if (i == 2)
      assert_non_null(second.item[i]);
    else
      assert_true(!first.item[i] != !second.item[i]);
  }
  assert_null(first.item[2]);
  char *text = cli_slurp(log, NULL);
  assert_int_equal(count_lines(text), 6); /* header and 5 items */
  free(text);
  results_free(&first);
  results_free(&second);
  cli_free(&r);
  /* Everything is in the log now: nothing runs. */
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue, "--joblog",
                         log, "--resume", file));
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  cli_free(&r);
}

/* The job log says an item is done only once its result line is out:
 * with stdout unwritable (/dev/full), nothing is logged, so --resume runs
 * every item again instead of skipping items whose results were lost. */
static void test_batch_joblog_after_output(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], log[PATH_MAX];
  batch_file(fx, "b.jsonl", "[\"exitcode\", \"0\"]\n[\"exitcode\", \"0\"]\n",
             file);
  path_in(fx, "job.log", log);
  const char *argv[] = {cut_cli(), "parallel", "-j", "1", "--catalogue",
                        fx->catalogue, "--joblog", log, file, NULL};
  posix_spawn_file_actions_t fa;
  assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
  assert_int_equal(
      posix_spawn_file_actions_addopen(&fa, 1, "/dev/full", O_WRONLY, 0), 0);
  assert_int_equal(
      posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0), 0);
  extern char **environ;
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL,
                               (char *const *)argv, environ),
                   0);
  posix_spawn_file_actions_destroy(&fa);
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st));
  assert_int_not_equal(WEXITSTATUS(st), 0); /* the write error */
  char *text = cli_slurp(log, NULL);
  assert_int_equal(count_lines(text), 1); /* the header only */
  free(text);
  cli_result r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                                    "--joblog", log, "--resume", file));
  assert_int_equal(r.status, 0);
  results again = parse(r.out);
  assert_non_null(again.item[0]);
  assert_non_null(again.item[1]);
  results_free(&again);
  cli_free(&r);
  text = cli_slurp(log, NULL);
  assert_int_equal(count_lines(text), 3); /* header and both items */
  free(text);
}

/* --resume-failed runs again what ended with a non-zero status. */
static void test_batch_resume_failed(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], log[PATH_MAX];
  batch_file(fx, "b.jsonl", "[\"exitcode\", \"0\"]\n[\"exitcode\", \"4\"]\n",
             file);
  path_in(fx, "job.log", log);
  cli_result r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                                    "--joblog", log, file));
  assert_int_equal(r.status, 4);
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue, "--joblog",
                         log, "--resume", file));
  assert_int_equal(r.status, 0);
  assert_string_equal(r.out, "");
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue, "--joblog",
                         log, "--resume-failed", file));
  assert_int_equal(r.status, 4);
  results res = parse(r.out);
  assert_int_equal(res.lines, 1);
  assert_non_null(res.item[1]);
  results_free(&res);
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "--resume", file));
  assert_int_equal(r.status, 125); /* needs --joblog */
  cli_free(&r);
}

/* --results DIR: the whole output in DIR/SEQ/stdout while the JSON keeps
 * --max-output bytes. */
static void test_batch_results_dir(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], dir[PATH_MAX], out[PATH_MAX + 16];
  batch_file(fx, "b.jsonl", "[\"writer\", \"--out\", \"200000\"]\n", file);
  path_in(fx, "res", dir);
  cli_result r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                                    "--max-output", "100", "--results", dir,
                                    file));
  assert_int_equal(r.status, 0);
  results res = parse(r.out);
  assert_int_equal(
      json_string_length(json_object_get(res.item[0], "stdout")), 100);
  results_free(&res);
  cli_free(&r);
  snprintf(out, sizeof out, "%s/1/stdout", dir);
  struct stat st;
  assert_int_equal(stat(out, &st), 0);
  assert_int_equal(st.st_size, 200000);
}

/* Run cuprum with stderr on a pty (stdout on /dev/null); what the
 * terminal showed. */
static char *run_on_pty(const char *const *args) {
  int master = -1, slave = -1;
  if (openpty(&master, &slave, NULL, NULL, NULL) != 0)
    return NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, slave, 2);
  const char *argv[32] = {cut_cli()};
  size_t n = 1;
  for (; args[n - 1]; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, cut_cli(), &fa, NULL, (char **)argv,
                               environ),
                   0);
  posix_spawn_file_actions_destroy(&fa);
  close(slave);
  char *buf = calloc(1, 1 << 16);
  size_t len = 0;
  int64_t deadline = cut_now_ms() + CLI_DEADLINE_MS;
  for (;;) {
    struct pollfd pf = {.fd = master, .events = POLLIN};
    if (poll(&pf, 1, 100) > 0) {
      ssize_t got = read(master, buf + len, (1 << 16) - 1 - len);
      if (got <= 0)
        break; /* EIO: the last holder of the slave closed it */
      len += (size_t)got;
    }
    assert_true(cut_now_ms() < deadline);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(master);
  return buf;
}

/* The progress line: drawn in place on a terminal, never on a pipe unless
 * --progress; --no-progress silences it on a terminal. */
static void test_batch_progress_only_on_terminal(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "b.jsonl", "[\"exitcode\", \"0\"]\n[\"exitcode\", \"0\"]\n",
             file);
  char *tty = run_on_pty(
      ARGS("parallel", "--catalogue", fx->catalogue, file));
  if (!tty) {
    print_message("skipped: no pseudo-terminal here (openpty failed)\n");
    skip();
  }
  assert_non_null(strstr(tty, "\r\033[Kcuprum parallel: 2/2 done, 0 running, "
                              "0 failed"));
  free(tty);
  tty = run_on_pty(
      ARGS("parallel", "--no-progress", "--catalogue", fx->catalogue, file));
  assert_null(strstr(tty, "cuprum parallel:"));
  free(tty);
  cli_result r = cli_run(NULL, ARGS("parallel", "--catalogue", fx->catalogue,
                                    file));
  assert_int_equal(r.status, 0);
  assert_string_equal(r.err, ""); /* a pipe: nothing */
  cli_free(&r);
  r = cli_run(NULL, ARGS("parallel", "--progress", "--catalogue",
                         fx->catalogue, file));
  assert_contains(r.err, "2/2 done");
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_batch_streams_results, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_args_template, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_retries_halt_joblog, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_joblog_retries_column,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_sigkill_then_resume, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_joblog_after_output, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_resume_failed, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_results_dir, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_batch_progress_only_on_terminal,
                                    cli_setup, cli_teardown),
};

CU_TEST_MAIN(tests)
