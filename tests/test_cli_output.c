/* SPDX-License-Identifier: MIT */
/*
 * Output the user relies on, from the real `cuprum` process: every result
 * byte reaches a slow non-blocking stdout or the status says it did not;
 * NUL bytes in batch lines are refused; batch output is bounded per item;
 * a large catalogue file loads in linear time.
 */
#include "harness_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Start cuprum with stdout on `out_fd` and stderr on `err_fd` (stdin is
 * /dev/null); returns its pid. */
static pid_t spawn_cli(const char *const *args, int out_fd, int err_fd) {
  const char *argv[40] = {cut_cli()};
  size_t n = 1;
  for (; args[n - 1]; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  posix_spawn_file_actions_adddup2(&fa, err_fd, 2);
  pid_t pid = 0;
  assert_int_equal(posix_spawn(&pid, argv[0], &fa, NULL, (char **)argv,
                               environ),
                   0);
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

static int wait_status(pid_t pid) {
  int st = 0;
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
}

static void batch_file(const fixture *fx, const char *name, const char *text,
                       char *path) {
  path_in(fx, name, path);
  write_file(path, text, 0644);
}

/* Parse result lines; returns how many, each checked to be a JSON object. */
static size_t count_results(const char *out, size_t len, size_t want_stdout) {
  size_t n = 0;
  for (const char *p = out; p < out + len;) {
    const char *nl = memchr(p, '\n', (size_t)(out + len - p));
    assert_non_null(nl);
    json_error_t err;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &err);
    if (!o)
      fail_msg("not JSON: %s", err.text);
    if (want_stdout)
      assert_int_equal(
          strlen(json_string_value(json_object_get(o, "stdout"))),
          want_stdout);
    json_decref(o);
    n++;
    p = nl + 1;
  }
  return n;
}

/* ------------------------------------------------------------ writes */

/* A non-blocking pipe read slowly: every result byte arrives, exit 0. */
static void test_parallel_slow_nonblocking_stdout(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  char text[4096] = "";
  for (int i = 0; i < 20; i++)
    strcat(text, "[\"writer\", \"--out\", \"100000\"]\n");
  batch_file(fx, "batch.jsonl", text, file);
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
  int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  pid_t pid = spawn_cli((const char *[]){"parallel", "--catalogue",
                                         fx->catalogue, file, NULL},
                        p[1], devnull);
  close(p[1]);
  close(devnull);
  /* Let it fill the pipe and meet EAGAIN, then drain slowly. */
  struct pollfd pfd = {.fd = p[0], .events = POLLIN};
  assert_int_equal(poll(&pfd, 1, CLI_DEADLINE_MS), 1);
  usleep(200 * 1000);
  buffer out = {0};
  char chunk[4096];
  ssize_t n;
  while ((n = read(p[0], chunk, sizeof chunk)) != 0) {
    if (n < 0 && errno == EINTR)
      continue;
    assert_true(n > 0);
    out.data = realloc(out.data, out.len + (size_t)n);
    memcpy(out.data + out.len, chunk, (size_t)n);
    out.len += (size_t)n;
    usleep(200);
  }
  close(p[0]);
  assert_int_equal(wait_status(pid), 0);
  assert_true(out.len > 2000000);
  assert_int_equal(count_results(out.data, out.len, 100000), 20);
  free(out.data);
}

/* A write error is an error: message and status 125, never a silent 0. */
static void expect_write_error(const char *const *args) {
  int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
  assert_true(full >= 0);
  char errpath[] = "/tmp/cu-cli-err-XXXXXX";
  int err = mkstemp(errpath);
  assert_true(err >= 0);
  pid_t pid = spawn_cli(args, full, err);
  close(full);
  assert_int_equal(wait_status(pid), 125);
  char msg[512] = "";
  ssize_t n = pread(err, msg, sizeof msg - 1, 0);
  assert_true(n > 0);
  msg[n] = '\0';
  if (!strstr(msg, "cuprum: write error: No space left on device"))
    fail_msg("stderr was: %s", msg);
  close(err);
  unlink(errpath);
}

static void test_write_errors_are_reported(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "batch.jsonl", "[\"writer\", \"--out\", \"10\"]\n", file);
  expect_write_error((const char *[]){"parallel", "--catalogue",
                                      fx->catalogue, file, NULL});
  expect_write_error(
      (const char *[]){"catalogue", "--catalogue", fx->catalogue, NULL});
  expect_write_error((const char *[]){"--help", NULL});
  expect_write_error((const char *[]){"--version", NULL});
  expect_write_error((const char *[]){"parallel", "--help", NULL});
}

/* ------------------------------------------------------------ NUL */

static void expect_nul_refused(const fixture *fx, const char *text,
                               size_t len, const char *where) {
  char file[PATH_MAX];
  path_in(fx, "nul.jsonl", file);
  FILE *f = fopen(file, "we");
  assert_non_null(f);
  assert_int_equal(fwrite(text, 1, len, f), len);
  fclose(f);
  cli_result r = cli_run(NULL, (const char *[]){"parallel", "--catalogue",
                                                fx->catalogue, file, NULL});
  assert_int_equal(r.status, 125);
  assert_string_equal(r.out, ""); /* nothing ran */
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s:%s: the line holds a NUL byte", file,
           where);
  if (!strstr(r.err, want))
    fail_msg("stderr lacks '%s': %s", want, r.err);
  cli_free(&r);
}

static void test_parallel_refuses_nul_bytes(void **state) {
  fixture *fx = *state;
  /* Leading NUL: once skipped as blank, so a forbidden command hid. */
  static const char lead[] = "\0[\"rm\", \"-rf\", \"/\"]\n";
  expect_nul_refused(fx, lead, sizeof lead - 1, "1:1");
  /* After the array: once ignored. */
  static const char after[] = "[\"writer\"]\0 [\"x\"]\n";
  expect_nul_refused(fx, after, sizeof after - 1, "1:11");
  /* Inside a string, on a later line, after a blank line. */
  static const char inside[] = "[\"writer\"]\n\n[\"wri\0ter\"]\n";
  expect_nul_refused(fx, inside, sizeof inside - 1, "3:6");
  /* Last line without a newline. */
  static const char last[] = "[\"writer\"]\n\0";
  expect_nul_refused(fx, last, sizeof last - 1, "2:1");
}

/* ------------------------------------------------------------ memory */

static long children_maxrss_mb(void) {
  struct rusage ru;
  assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
  return ru.ru_maxrss / 1024;
}

static json_t *single_result(const cli_result *r) {
  json_error_t err;
  json_t *o = json_loads(r->out, 0, &err);
  if (!o)
    fail_msg("not one JSON line: %s", err.text);
  return o;
}

/* 300 MB of output: kept whole it would need 300 MB and more (the
 * bound below); the default limit keeps 1 MiB and says so. */
static void test_parallel_output_bounded_by_default(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "big.jsonl", "[\"writer\", \"--out\", \"300000000\"]\n",
             file);
  cli_result r = cli_run(NULL, (const char *[]){"parallel", "--catalogue",
                                                fx->catalogue, file, NULL});
  assert_int_equal(r.status, 0);
  long mb = children_maxrss_mb();
  print_message("peak RSS of cuprum parallel (300 MB of output): %ld MB\n",
                mb);
  assert_true(mb < 150);
  json_t *o = single_result(&r);
  assert_int_equal(strlen(json_string_value(json_object_get(o, "stdout"))),
                   1024 * 1024);
  assert_true(json_is_true(json_object_get(o, "stdout_truncated")));
  assert_true(json_is_false(json_object_get(o, "stderr_truncated")));
  assert_int_equal(json_integer_value(json_object_get(o, "stdout_total")),
                   300000000);
  json_decref(o);
  cli_free(&r);
}

/* `["yes"]` under a short timeout: stays bounded too. */
static void test_parallel_endless_output_under_timeout(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "yes.jsonl",
             "[\"writer\", \"--out\", \"1000000000000\"]\n", file);
  cli_result r = cli_run(NULL, (const char *[]){"parallel", "--catalogue",
                                                fx->catalogue, "--timeout",
                                                "1", file, NULL});
  assert_int_equal(r.status, 124);
  assert_true(children_maxrss_mb() < 150);
  json_t *o = single_result(&r);
  assert_true(json_is_true(json_object_get(o, "timed_out")));
  assert_true(json_is_true(json_object_get(o, "stdout_truncated")));
  json_decref(o);
  cli_free(&r);
}

static void test_parallel_max_output_flag(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "b.jsonl",
             "[\"writer\", \"--out\", \"100\", \"--err\", \"5\"]\n", file);
  cli_result r = cli_run(NULL, (const char *[]){"parallel", "--catalogue",
                                                fx->catalogue, "--max-output",
                                                "10", file, NULL});
  assert_int_equal(r.status, 0);
  json_t *o = single_result(&r);
  assert_int_equal(strlen(json_string_value(json_object_get(o, "stdout"))),
                   10);
  assert_int_equal(strlen(json_string_value(json_object_get(o, "stderr"))),
                   5);
  assert_true(json_is_true(json_object_get(o, "stdout_truncated")));
  assert_true(json_is_false(json_object_get(o, "stderr_truncated")));
  assert_int_equal(json_integer_value(json_object_get(o, "stdout_total")), 100);
  json_decref(o);
  cli_free(&r);
  /* 0 = unlimited. */
  r = cli_run(NULL, (const char *[]){"parallel", "--catalogue", fx->catalogue,
                                     "--max-output", "0", file, NULL});
  assert_int_equal(r.status, 0);
  o = single_result(&r);
  assert_int_equal(strlen(json_string_value(json_object_get(o, "stdout"))),
                   100);
  assert_true(json_is_false(json_object_get(o, "stdout_truncated")));
  json_decref(o);
  cli_free(&r);
  r = cli_run(NULL, (const char *[]){"parallel", "--max-output", "-1", file,
                                     NULL});
  assert_int_equal(r.status, 125);
  assert_non_null(strstr(r.err, "--max-output"));
  cli_free(&r);
}

/* Output that is not UTF-8 and control bytes still make valid JSON. */
static void test_parallel_escapes_output(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX];
  batch_file(fx, "e.jsonl",
             "[\"argvdump\", \"a\\\"b\\\\c\\u0001\\t\\u00e9\\u007f\"]\n", file);
  cli_result r = cli_run(NULL, (const char *[]){"parallel", "--catalogue",
                                                fx->catalogue, file, NULL});
  assert_int_equal(r.status, 0);
  json_t *o = single_result(&r);
  const char *s = json_string_value(json_object_get(o, "stdout"));
  assert_non_null(strstr(s, "a\"b\\c\x01\t\xc3\xa9\x7f\n"));
  json_decref(o);
  cli_free(&r);
}

/* ------------------------------------------------------------ catalogue */

static void big_catalogue(const fixture *fx, size_t n, char *path) {
  char name[64];
  snprintf(name, sizeof name, "cat%zu.json", n);
  path_in(fx, name, path);
  FILE *f = fopen(path, "we");
  assert_non_null(f);
  fprintf(f, "{\"projects\": [{\"name\": \"real\", \"programs\": "
             "[{\"name\": \"exitcode\", \"path\": \"%s\"}]}",
          helper("exitcode"));
  for (size_t p = 0; p < n / 10; p++) {
    fprintf(f, ",\n{\"name\": \"p%zu\", \"programs\": [", p);
    for (size_t k = 0; k < 10; k++)
      fprintf(f, "%s\"prog%zu_%zu\"", k ? ", " : "", p, k);
    fputs("]}", f);
  }
  fputs("]}\n", f);
  fclose(f);
}

/* CPU time of the children reaped so far (cuprum and what it ran): not
 * stretched by a loaded machine as wall time is. */
static int64_t children_cpu_ms(void) {
  struct rusage ru;
  assert_int_equal(getrusage(RUSAGE_CHILDREN, &ru), 0);
  return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
}

static int64_t load_ms(const char *cat) {
  int64_t best = INT64_MAX;
  for (int i = 0; i < 3; i++) {
    int64_t t0 = children_cpu_ms();
    cli_result r = cli_run(NULL, (const char *[]){"run", "--catalogue", cat,
                                                  "--", "exitcode", "0",
                                                  NULL});
    int64_t t = children_cpu_ms() - t0;
    assert_int_equal(r.status, 0);
    cli_free(&r);
    best = t < best ? t : best;
  }
  return best;
}

static void test_large_catalogue_file_loads_linearly(void **state) {
  fixture *fx = *state;
  char small[PATH_MAX], big[PATH_MAX];
  big_catalogue(fx, 60000, small);
  big_catalogue(fx, 120000, big);
  int64_t t1 = load_ms(small), t2 = load_ms(big);
  print_message("cuprum run with a catalogue of 60000 / 120000 programs: "
                "%lld / %lld ms of CPU\n", (long long)t1, (long long)t2);
  assert_true(t1 < 10000); /* natively well under a second */
  assert_true(t2 <= 3 * t1 + 200);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_parallel_slow_nonblocking_stdout,
                                      cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_write_errors_are_reported,
                                      cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_parallel_refuses_nul_bytes,
                                      cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_parallel_output_bounded_by_default,
                                      cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_parallel_endless_output_under_timeout,
                                      cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_parallel_max_output_flag,
                                      cli_setup, cli_teardown),
      cmocka_unit_test_setup_teardown(test_parallel_escapes_output, cli_setup,
                                      cli_teardown),
      cmocka_unit_test_setup_teardown(test_large_catalogue_file_loads_linearly,
                                      cli_setup, cli_teardown),
  };
  return cut_main(argc, argv, tests, sizeof tests / sizeof tests[0], __FILE__);
}
