/* SPDX-License-Identifier: MIT */
/*
 * `cuprum run` and `cuprum parallel` with --contain, --limit and --time as
 * real processes: a limit bites, a daemon is gone after a contained run,
 * --time prints the kernel's account, bad values are usage errors, and a
 * containment that cannot be had is exit 125 (or the process group with
 * best-effort).
 */
#include "harness_cli.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUN(fx, ...) CLI("run", "--catalogue", (fx)->catalogue, __VA_ARGS__)

/* Can cuprum make cgroups here? Print why not and skip otherwise. */
static bool contain_ok(const fixture *fx) {
  cli_result r = RUN(fx, "--contain", "--", "exitcode", "0");
  bool ok = r.status == 0;
  if (!ok)
    print_message("containment not available here, skipping: %s\n", r.err);
  cli_free(&r);
  return ok;
}

/* Under valgrind (the CLI tests' long run follows into cuprum) the child
 * sets its limits while still valgrind's client, and valgrind refuses to
 * change RLIMIT_NOFILE's hard limit: the run fails with EPERM, honestly.
 * The library's own limit tests skip there for the same reason. */
static bool nofile_under_valgrind(void) {
  if (!cut_under_valgrind())
    return false;
  print_message("under valgrind, RLIMIT_NOFILE cannot be set in the child: "
                "skipped\n");
  return true;
}

static void test_cli_limit_nofile(void **state) {
  fixture *fx = *state;
  if (nofile_under_valgrind())
    skip();
  cli_result r = RUN(fx, "--limit", "nofile=16", "--", "hog", "fds", "100");
  assert_status(r, 1);
  assert_contains(r.out, "open failed at 13: EMFILE");
  cli_free(&r);
}

static void test_cli_limit_cpu_time_summary(void **state) {
  fixture *fx = *state;
  cli_result r = RUN(fx, "--time", "--limit", "cpu=1s", "--", "hog", "cpu",
                     "0");
  assert_status(r, 128 + SIGXCPU);
  assert_contains(r.err, "cuprum: ");
  assert_contains(r.err, "s user ");
  assert_contains(r.err, "KiB maxrss");
  /* About a second of user time was reported (e.g. "0.98s user"). */
  const char *p = strstr(r.err, "cuprum: ");
  double user = strtod(p + 8, NULL);
  if (user < 0.5)
    fail_msg("user time %.2f in %s", user, r.err);
  cli_free(&r);
}

static void test_cli_limit_bad_values(void **state) {
  fixture *fx = *state;
  const char *bad[] = {"bogus=1", "cpu=", "cpu=1x", "mem=12Q", "nofile",
                       "cpus=-1", "nofile=0"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cli_result r = RUN(fx, "--limit", bad[i], "--", "exitcode", "0");
    if (i + 1 == sizeof bad / sizeof *bad) {
      /* Well-formed, refused by the library: cuprum's own error. */
      assert_status(r, 125);
      assert_contains(r.err, "would stop the command");
    } else {
      assert_status(r, 125);
      assert_contains(r.err, "--limit");
    }
    cli_free(&r);
  }
}

static void test_cli_contain_daemon_gone(void **state) {
  fixture *fx = *state;
  if (!contain_ok(fx))
    skip();
  char file[PATH_MAX];
  path_in(fx, "daemon.pid", file);
  cli_result r = RUN(fx, "--contain", "--time", "--", "hog", "daemon", file);
  assert_status(r, 0);
  assert_contains(r.err, "; cgroup ");
  assert_contains(r.err, "/run-");
  FILE *f = fopen(file, "r");
  assert_non_null(f);
  int pid = 0;
  assert_int_equal(fscanf(f, "%d", &pid), 1);
  fclose(f);
  assert_true(pid_gone((pid_t)pid));
  cli_free(&r);
}

static void test_cli_contain_unavailable(void **state) {
  fixture *fx = *state;
  cli_result r = RUN(fx, "--contain", "--cgroup-parent", "/tmp", "--",
                     "exitcode", "0");
  assert_status(r, 125);
  assert_contains(r.err, "not a cgroup v2 directory");
  cli_free(&r);
  r = RUN(fx, "--contain=best-effort", "--time", "--cgroup-parent", "/tmp",
          "--", "exitcode", "0");
  assert_status(r, 0);
  assert_contains(r.err, "not contained (process group only)");
  cli_free(&r);
  r = RUN(fx, "--contain=always", "--", "exitcode", "0");
  assert_status(r, 125);
  assert_contains(r.err, "--contain");
  cli_free(&r);
}

/* --events: the EXIT event carries the accounting (and containment). */
static void test_cli_events_accounting(void **state) {
  fixture *fx = *state;
  bool contain = contain_ok(fx);
  cli_result r = contain ? RUN(fx, "--events", "-", "--contain", "--", "hog",
                               "cpu", "200")
                         : RUN(fx, "--events", "-", "--", "hog", "cpu", "200");
  assert_status(r, 0);
  const char *p = strstr(r.err, "\"phase\":\"exit\"");
  assert_non_null(p);
  while (p > r.err && p[-1] != '\n')
    p--;
  json_error_t err;
  json_t *o = json_loadb(p, strcspn(p, "\n"), 0, &err);
  assert_non_null(o);
  json_int_t user = json_integer_value(json_object_get(o, "user_cpu_us"));
  json_int_t sys = json_integer_value(json_object_get(o, "sys_cpu_us"));
  assert_true(user + sys >= 100000);
  assert_true(json_integer_value(json_object_get(o, "max_rss_kb")) > 0);
  if (contain) {
    assert_true(json_is_true(json_object_get(o, "contained")));
    assert_true(json_integer_value(json_object_get(o, "cgroup_cpu_us")) >=
                100000);
  }
  json_decref(o);
  cli_free(&r);
}

/* parallel: one cgroup per command, accounting per result line. */
static void test_cli_parallel_contain(void **state) {
  fixture *fx = *state;
  if (nofile_under_valgrind())
    skip();
  bool contain = contain_ok(fx);
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file, "[\"hog\", \"cpu\", \"100\"]\n[\"hog\", \"fds\", \"50\"]\n",
             0644);
  cli_result r = CLI("parallel", "--catalogue", fx->catalogue,
                     contain ? "--contain" : "--contain=best-effort",
                     "--limit", "nofile=20", file);
  assert_status(r, 1); /* the second hits EMFILE */
  const char *p = r.out;
  for (int i = 0; i < 2; i++) {
    json_error_t err;
    json_t *o = json_loadb(p, strcspn(p, "\n"), 0, &err);
    assert_non_null(o);
    assert_true(json_is_boolean(json_object_get(o, "contained")));
    assert_int_equal(json_is_true(json_object_get(o, "contained")), contain);
    assert_true(json_integer_value(json_object_get(o, "max_rss_kb")) > 0);
    /* Lines come as commands end: go by index. */
    if (json_integer_value(json_object_get(o, "index")) == 0)
      assert_true(json_integer_value(json_object_get(o, "user_cpu_us")) +
                      json_integer_value(json_object_get(o, "sys_cpu_us")) >=
                  50000);
    else
      assert_contains(json_string_value(json_object_get(o, "stdout")),
                      "EMFILE");
    json_decref(o);
    p = strchr(p, '\n') + 1;
  }
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cli_limit_nofile, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_limit_cpu_time_summary,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_limit_bad_values, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_contain_daemon_gone, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_contain_unavailable, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_events_accounting, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_parallel_contain, cli_setup,
                                    cli_teardown),
};

CU_TEST_MAIN(tests)
