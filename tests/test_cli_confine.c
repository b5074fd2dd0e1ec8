/* SPDX-License-Identifier: MIT */
/*
 * `cuprum run`/`parallel` with the confinement options, project rules from
 * a catalogue file, and `cuprum doctor`, as real processes: a write outside
 * --landlock-rw is refused, a catalogue project's "confine" rules apply,
 * a bad value is a usage error, and doctor's JSON says what the kernel
 * says (cu_landlock_abi(), /proc/sys/fs/pipe-max-size); `cuprum
 * exec-item` (the Slurm node side) applies an item's "confine" and the
 * options given to it, and refuses an item it must not run.
 */
#include "harness_cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUN(fx, ...) CLI("run", "--catalogue", (fx)->catalogue, __VA_ARGS__)

static bool landlock_ok(void) {
  if (cu_landlock_abi() >= 1)
    return true;
  print_message("no Landlock here (kernel without it, or valgrind's "
                "filter): not testable\n");
  return false;
}

static void test_cli_landlock_rw(void **state) {
  fixture *fx = *state;
  if (!landlock_ok())
    skip();
  char sub[PATH_MAX], in[PATH_MAX + 8], out[PATH_MAX];
  path_in(fx, "allowed", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  snprintf(in, sizeof in, "%s/f", sub);
  path_in(fx, "outside", out);
  cli_result r = RUN(fx, "--landlock-rw", sub, "--", "prober", "write", in,
                     "write", out, "status", "NoNewPrivs:");
  assert_status(r, 1);
  char want[3 * PATH_MAX];
  snprintf(want, sizeof want, "write %s: ok\nwrite %s: EACCES\n"
           "NoNewPrivs:\t1\n", in, out);
  assert_string_equal(r.out, want);
  cli_free(&r);
  unlink(in);
}

static void test_cli_no_new_privs_and_usage(void **state) {
  fixture *fx = *state;
  cli_result r = RUN(fx, "--no-new-privs", "--", "prober", "status",
                     "NoNewPrivs:");
  assert_status(r, 0);
  assert_string_equal(r.out, "NoNewPrivs:\t1\n");
  cli_free(&r);
  const char *bad[][2] = {{"--landlock-rw", "relative/dir"},
                          {"--connect", "70000"},
                          {"--connect", "22,x"},
                          {"--bind", ""}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    r = RUN(fx, bad[i][0], bad[i][1], "--", "exitcode", "0");
    assert_status(r, 125);
    assert_contains(r.err, bad[i][0]);
    cli_free(&r);
  }
}

static void test_cli_connect_port(void **state) {
  fixture *fx = *state;
  if (cu_landlock_abi() < 4) {
    print_message("Landlock ABI %d here, 4 needed: not testable\n",
                  cu_landlock_abi());
    skip();
  }
  /* Nothing listens on 9 (discard) in the test: connect is refused by the
   * kernel (ECONNREFUSED) when allowed, by Landlock (EACCES) when not. */
  cli_result r = RUN(fx, "--connect", "9", "--", "prober", "connect", "9",
                     "connect", "7");
  assert_status(r, 1);
  assert_string_equal(r.out, "connect 9: ECONNREFUSED\nconnect 7: EACCES\n");
  cli_free(&r);
}

/* A project's "confine" in the catalogue file applies to its programs. */
static void test_cli_catalogue_project_rules(void **state) {
  fixture *fx = *state;
  if (!landlock_ok())
    skip();
  char cat[PATH_MAX], sub[PATH_MAX], in[PATH_MAX + 8], out[PATH_MAX];
  path_in(fx, "confined.json", cat);
  path_in(fx, "dest", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  snprintf(in, sizeof in, "%s/f", sub);
  path_in(fx, "elsewhere", out);
  char text[4 * PATH_MAX];
  snprintf(text, sizeof text,
           "{\"projects\": [{\"name\": \"boxed\", \"programs\": [{\"name\": "
           "\"prober\", \"path\": \"%s\"}], \"confine\": {\"write\": "
           "[\"%s\"], \"connect\": [443]}}]}",
           helper("prober"), sub);
  write_file(cat, text, 0644);
  cli_result r = CLI("run", "--catalogue", cat, "--", "prober", "write", in,
                     "write", out);
  assert_status(r, 1);
  char want[3 * PATH_MAX];
  snprintf(want, sizeof want, "write %s: ok\nwrite %s: EACCES\n", in, out);
  assert_string_equal(r.out, want);
  cli_free(&r);
  /* The same through `parallel`. */
  char batch[PATH_MAX];
  path_in(fx, "batch.jsonl", batch);
  snprintf(text, sizeof text, "[\"prober\", \"write\", \"%s\"]\n", out);
  write_file(batch, text, 0644);
  r = CLI("parallel", "--catalogue", cat, batch);
  assert_status(r, 1);
  assert_contains(r.out, "EACCES");
  cli_free(&r);
  /* A bad rule is a located catalogue error. */
  write_file(cat, "{\"projects\": [{\"name\": \"boxed\", \"confine\": "
             "{\"write\": [\"relative\"]}}]}", 0644);
  r = CLI("run", "--catalogue", cat, "--", "prober");
  assert_status(r, 125);
  assert_contains(r.err, "projects[0]");
  assert_contains(r.err, "absolute path");
  cli_free(&r);
  write_file(cat, "{\"projects\": [{\"name\": \"boxed\", \"confine\": "
             "{\"connect\": [70000]}}]}", 0644);
  r = CLI("run", "--catalogue", cat, "--", "prober");
  assert_status(r, 125);
  assert_contains(r.err, "connect[0] must be a TCP port");
  cli_free(&r);
  unlink(in);
}

static void test_cli_doctor(void **state) {
  (void)state;
  cli_result r = CLI("doctor", "--json");
  assert_status(r, 0);
  json_error_t err;
  json_t *o = json_loads(r.out, 0, &err);
  assert_non_null(o);
  json_t *abi = json_object_get(o, "landlock_abi");
  assert_true(json_is_integer(abi));
  /* Under valgrind this process cannot see Landlock (its system call table
   * lacks it) while the CLI, run natively, can: compare only natively. */
  if (!cut_under_valgrind())
    assert_int_equal(json_integer_value(abi), cu_landlock_abi());
  FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");
  long pipe_max = -1;
  if (f) {
    assert_int_equal(fscanf(f, "%ld", &pipe_max), 1);
    fclose(f);
  }
  assert_int_equal(json_integer_value(json_object_get(o, "pipe_max_size")),
                   pipe_max);
  const char *keys[] = {"pidfd", "clone3", "close_range", "splice",
                        "seccomp", "no_new_privs"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    assert_true(json_is_boolean(json_object_get(o, keys[i])));
  json_t *cg = json_object_get(o, "cgroup");
  assert_true(json_is_boolean(json_object_get(cg, "v2")));
  assert_true(json_is_array(json_object_get(cg, "controllers")));
  json_decref(o);
  cli_free(&r);
  r = CLI("doctor");
  assert_status(r, 0);
  assert_contains(r.out, "landlock:");
  assert_contains(r.out, "cgroup:");
  cli_free(&r);
  r = CLI("doctor", "--bogus");
  assert_status(r, 125);
  cli_free(&r);
}

/* The one result line `cuprum exec-item` printed. */
static json_t *exec_item_line(const cli_result *r) {
  json_error_t err;
  json_t *o = json_loads(r->out, 0, &err);
  if (!json_is_object(o))
    fail_msg("not one JSON object (%s): %s", err.text, r->out);
  return o;
}

/* `cuprum exec-item`, the Slurm node side, without Slurm: the project's
 * "confine" in the item (the catalogue file's form) and the confinement
 * options given as its arguments apply to the item. */
static void test_exec_item_confine(void **state) {
  fixture *fx = *state;
  if (!landlock_ok())
    skip();
  char sub[PATH_MAX], in[PATH_MAX + 8], out[PATH_MAX], item[6 * PATH_MAX];
  path_in(fx, "allowed", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  snprintf(in, sizeof in, "%s/f", sub);
  path_in(fx, "outside", out);
  snprintf(item, sizeof item,
           "{\"v\": 2, \"program\": \"prober\", \"path\": \"%s\", "
           "\"argv\": [\"prober\", \"write\", \"%s\", \"write\", \"%s\", "
           "\"status\", \"NoNewPrivs:\"], \"timeout_ms\": 0, "
           "\"max_output\": 0, \"confine\": {\"write\": [\"%s\"]}}",
           helper("prober"), in, out, sub);
  cli_result r = cli_run(item, ARGS("exec-item"));
  assert_status(r, 1);
  json_t *o = exec_item_line(&r);
  assert_true(json_is_true(json_object_get(o, "ran")));
  char want[3 * PATH_MAX];
  snprintf(want, sizeof want, "write %s: ok\nwrite %s: EACCES\n"
           "NoNewPrivs:\t1\n", in, out);
  assert_string_equal(json_string_value(json_object_get(o, "stdout")), want);
  json_decref(o);
  cli_free(&r);
  unlink(in);
  /* No "confine": the options as arguments do the same. */
  snprintf(item, sizeof item,
           "{\"v\": 2, \"program\": \"prober\", \"path\": \"%s\", "
           "\"argv\": [\"prober\", \"write\", \"%s\", \"write\", \"%s\", "
           "\"status\", \"NoNewPrivs:\"], \"timeout_ms\": 0, "
           "\"max_output\": 0}",
           helper("prober"), in, out);
  char rw[PATH_MAX + 32];
  snprintf(rw, sizeof rw, "--landlock-rw=%s", sub);
  r = cli_run(item, ARGS("exec-item", rw));
  assert_status(r, 1);
  o = exec_item_line(&r);
  assert_string_equal(json_string_value(json_object_get(o, "stdout")), want);
  json_decref(o);
  cli_free(&r);
  unlink(in);
}

/* An item exec-item must not run: another version, an unknown key (a
 * newer driver's), a "confine" the catalogue file's rules refuse. Each:
 * 125, a result line with "ran": false and an "error", nothing ran. */
static void test_exec_item_refuses(void **state) {
  fixture *fx = *state;
  char marker[PATH_MAX], item[4 * PATH_MAX];
  path_in(fx, "ran", marker);
  const char *extra[] = {"\"v\": 1", "\"v\": 2, \"retries\": 3",
                         "\"v\": 2, \"confine\": {\"read\": \"/tmp\"}",
                         "\"v\": 2, \"confine\": {\"network\": true}"};
  for (size_t i = 0; i < sizeof extra / sizeof *extra; i++) {
    snprintf(item, sizeof item,
             "{%s, \"program\": \"prober\", \"path\": \"%s\", "
             "\"argv\": [\"prober\", \"write\", \"%s\"], "
             "\"timeout_ms\": 0, \"max_output\": 0}",
             extra[i], helper("prober"), marker);
    cli_result r = cli_run(item, ARGS("exec-item"));
    assert_status(r, 125);
    json_t *o = exec_item_line(&r);
    assert_false(json_is_true(json_object_get(o, "ran")));
    assert_non_null(json_string_value(json_object_get(o, "error")));
    assert_true(r.err[0] != '\0');
    json_decref(o);
    cli_free(&r);
    assert_int_equal(access(marker, F_OK), -1);
  }
  /* And an option exec-item does not take is a usage error. */
  cli_result r = cli_run("{}", ARGS("exec-item", "--timeout=1"));
  assert_status(r, 125);
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_cli_landlock_rw, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_no_new_privs_and_usage,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_connect_port, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_cli_catalogue_project_rules,
                                    cli_setup, cli_teardown),
    cmocka_unit_test(test_cli_doctor),
    cmocka_unit_test_setup_teardown(test_exec_item_confine, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exec_item_refuses, cli_setup,
                                    cli_teardown),
};

CU_TEST_MAIN(tests)
