/* SPDX-License-Identifier: MIT */
/* The typed command builder: construction, arguments, flags, sticky errors,
 * rendering. ctest-labels: threads */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/cmd_int.h" /* struct cu_cmd: argv_bytes, cu__cmd_check */

static cu_cmd *echo_cmd(void) {
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(NULL, CU_ECHO, &cmd), 0);
  return cmd;
}

static size_t argv_bytes(const cu_cmd *cmd) {
  size_t n = 0;
  for (const char *const *a = cu_cmd_argv(cmd); *a; a++)
    n += strlen(*a) + 1;
  return n;
}

static void assert_argv(const cu_cmd *cmd, const char *const *want,
                        size_t n) {
  assert_int_equal(cu_cmd_argv_count(cmd), n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(cu_cmd_argv(cmd)[i], want[i]);
  assert_null(cu_cmd_argv(cmd)[n]);
  assert_int_equal(cmd->argv_bytes, argv_bytes(cmd));
}

/* ------------------------------------------------------------ creation */

static void test_new_fills_every_field(void **state) {
  (void)state;
  const cu_catalogue *def = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  const cu_project *project = NULL;
  const char *path = NULL;
  assert_int_equal(cu_catalogue_lookup(def, CU_ECHO, &project, &path), 0);
  cu_cmd *cmd = echo_cmd();
  assert_string_equal(cu_cmd_program(cmd).name, "echo");
  assert_string_equal(cu_cmd_path(cmd), path);
  assert_ptr_not_equal(cu_cmd_path(cmd), path); /* the command's own copy */
  assert_ptr_equal(cu_cmd_project(cmd), project);
  assert_string_equal(cu_project_name(project), CU_PROJECT_CORE_OPS);
  assert_int_equal(cu_cmd_status(cmd), 0);
  assert_ptr_equal(cmd->catalogue, def);
  assert_false(cmd->unsafe);
  assert_argv(cmd, (const char *[]){"echo"}, 1);
  assert_int_equal(cmd->argv_bytes, 5);
  cu_cmd_free(cmd);
}

static void test_new_errors(void **state) {
  (void)state;
  cu_cmd *cmd = (cu_cmd *)1;
  assert_int_equal(cu_cmd_new(NULL, CU_PROGRAM("bash"), &cmd),
                   CU_EUNKNOWN_PROGRAM);
  assert_non_null(strstr(cu_last_error(), "'bash'"));
  assert_ptr_equal(cmd, (cu_cmd *)1); /* untouched on error */
  assert_int_equal(cu_cmd_new(NULL, CU_PROGRAM(NULL), &cmd), CU_EINVAL);
  assert_int_equal(cu_cmd_new(NULL, CU_ECHO, NULL), CU_EINVAL);
  assert_int_equal(cu_cmd_new(NULL, CU_PROGRAM("/bin/echo"), &cmd),
                   CU_EUNKNOWN_PROGRAM);
  /* Allowed but absent: the error names the program. */
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM("cu-missing-tool"),
                                      "/nonexistent/cu-missing-tool"), 0);
  assert_int_equal(cu_cmd_new(cat, CU_PROGRAM("cu-missing-tool"), &cmd),
                   CU_ENOTFOUND);
  assert_non_null(strstr(cu_last_error(), "'cu-missing-tool'"));
  assert_ptr_equal(cmd, (cu_cmd *)1);
  cu_catalogue_unref(cat);
}

static void test_free_and_accessors_accept_null(void **state) {
  (void)state;
  assert_null(cu_cmd_free(NULL));
  assert_int_equal(cu_cmd_status(NULL), CU_EINVAL);
  assert_null(cu_cmd_program(NULL).name);
  assert_null(cu_cmd_path(NULL));
  assert_null(cu_cmd_project(NULL));
  assert_int_equal(cu_cmd_argv_count(NULL), 0);
  assert_null(cu_cmd_argv(NULL));
  assert_int_equal(cu_cmd_arg(NULL, "x"), CU_EINVAL);
  assert_int_equal(cu_cmd_args(NULL, "x", NULL), CU_EINVAL);
  assert_int_equal(cu_cmd_flag(NULL, "x", NULL), CU_EINVAL);
  assert_int_equal(cu_cmd_argf(NULL, "%d", 1), CU_EINVAL);
  char *line = (char *)1;
  assert_int_equal(cu_cmd_render(NULL, &line), CU_EINVAL);
  assert_ptr_equal(line, (char *)1);
}

/* ------------------------------------------------------------ arguments */

static void test_args_grow_and_count_bytes(void **state) {
  (void)state;
  cu_cmd *cmd = echo_cmd();
  char buf[32];
  for (int i = 0; i < 200; i++) {
    snprintf(buf, sizeof buf, "arg-%d", i);
    assert_int_equal(cu_cmd_arg(cmd, buf), 0);
  }
  assert_int_equal(cu_cmd_argv_count(cmd), 201);
  assert_string_equal(cu_cmd_argv(cmd)[0], "echo");
  assert_string_equal(cu_cmd_argv(cmd)[200], "arg-199");
  assert_null(cu_cmd_argv(cmd)[201]);
  assert_string_equal(cu_cmd_program(cmd).name, "echo");
  assert_int_equal(cmd->argv_bytes, argv_bytes(cmd));
  /* A large argument is kept whole; size limits are the runtime's job. */
  size_t big = 1 << 20;
  char *huge = malloc(big + 1);
  memset(huge, 'x', big);
  huge[big] = '\0';
  assert_int_equal(cu_cmd_arg(cmd, huge), 0);
  assert_int_equal(strlen(cu_cmd_argv(cmd)[201]), big);
  assert_int_equal(cmd->argv_bytes, argv_bytes(cmd));
  free(huge);
  cu_cmd_free(cmd);
}

static void test_args_and_vargs(void **state) {
  (void)state;
  cu_cmd *cmd = echo_cmd();
  assert_int_equal(cu_cmd_args(cmd, "a", "", "c d", NULL), 0);
  assert_int_equal(cu_cmd_args(cmd, NULL), 0); /* nothing to add */
  assert_argv(cmd, (const char *[]){"echo", "a", "", "c d"}, 4);
  cu_cmd_free(cmd);
}

static void test_null_argument_is_sticky(void **state) {
  (void)state;
  cu_cmd *cmd = echo_cmd();
  assert_int_equal(cu_cmd_arg(cmd, "ok"), 0);
  assert_int_equal(cu_cmd_arg(cmd, NULL), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "NULL"));
  assert_int_equal(cu_cmd_status(cmd), CU_EINVAL);
  /* Later calls return the first error and change nothing, even ones that
   * would fail differently. */
  assert_int_equal(cu_cmd_arg(cmd, "more"), CU_EINVAL);
  assert_int_equal(cu_cmd_argn(cmd, "a\0b", 3), CU_EINVAL);
  assert_int_equal(cu_cmd_flag(cmd, "x", "1"), CU_EINVAL);
  assert_int_equal(cu_cmd_argf(cmd, "%d", 7), CU_EINVAL);
  assert_int_equal(cu_cmd_arg_int(cmd, 7), CU_EINVAL);
  assert_int_equal(cu_cmd_args(cmd, "x", NULL), CU_EINVAL);
  assert_argv(cmd, (const char *[]){"echo", "ok"}, 2);
  /* The original message survives other errors in between. */
  assert_int_equal(cu_catalogue_new(NULL), CU_EINVAL);
  assert_int_equal(cu__cmd_check(cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "argument 2 is NULL"));
  assert_int_equal(cu__cmd_check(NULL), CU_EINVAL);
  cu_cmd_free(cmd);
}

static void test_argn(void **state) {
  (void)state;
  cu_cmd *cmd = echo_cmd();
  assert_int_equal(cu_cmd_argn(cmd, "abcdef", 3), 0);
  assert_int_equal(cu_cmd_argn(cmd, NULL, 0), 0);
  assert_int_equal(cu_cmd_argn(cmd, "\xff\xfe", 2), 0);
  assert_argv(cmd, (const char *[]){"echo", "abc", "", "\xff\xfe"}, 4);
  assert_int_equal(cu_cmd_argn(cmd, "a\0b", 3), CU_ENULARG);
  assert_non_null(strstr(cu_last_error(), "offset 1"));
  assert_int_equal(cu_cmd_status(cmd), CU_ENULARG);
  assert_int_equal(cu_cmd_arg(cmd, "x"), CU_ENULARG);
  assert_int_equal(cu_cmd_argv_count(cmd), 4);
  cu_cmd_free(cmd);

  cmd = echo_cmd();
  assert_int_equal(cu_cmd_argn(cmd, NULL, 4), CU_EINVAL);
  cu_cmd_free(cmd);
}

static void test_argf_and_integers(void **state) {
  (void)state;
  cu_cmd *cmd = echo_cmd();
  assert_int_equal(cu_cmd_argf(cmd, "%s-%03d", "file", 7), 0);
  assert_int_equal(cu_cmd_arg_int(cmd, 0), 0);
  assert_int_equal(cu_cmd_arg_int(cmd, -42), 0);
  assert_int_equal(cu_cmd_arg_int(cmd, LLONG_MIN), 0);
  assert_int_equal(cu_cmd_arg_int(cmd, LLONG_MAX), 0);
  assert_int_equal(cu_cmd_flag_int(cmd, "max_count", 3), 0);
  assert_int_equal(cu_cmd_flag_int(cmd, "depth", -1), 0);
  assert_argv(cmd,
              (const char *[]){"echo", "file-007", "0", "-42",
                               "-9223372036854775808", "9223372036854775807",
                               "--max-count=3", "--depth=-1"},
              8);
  cu_cmd_free(cmd);

  cmd = echo_cmd();
  /* Through a pointer, so the compiler's format check lets NULL through. */
  int (*argf)(cu_cmd *, const char *, ...) = cu_cmd_argf;
  assert_int_equal(argf(cmd, NULL), CU_EINVAL);
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------ flags */

static void test_flag_conversions(void **state) {
  (void)state;
  cu_cmd *cmd = echo_cmd();
  assert_int_equal(cu_cmd_flag(cmd, "max_count", "3"), 0);
  assert_int_equal(cu_cmd_flag(cmd, "max_count", NULL), 0);
  assert_int_equal(cu_cmd_flag(cmd, "dry_run_now", ""), 0);
  assert_int_equal(cu_cmd_flag(cmd, "name", "a_b=c d"), 0);
  assert_int_equal(cu_cmd_flag(cmd, "x", NULL), 0);
  assert_int_equal(cu_cmd_flag(cmd, "already-hyphen", "v"), 0);
  assert_argv(cmd,
              (const char *[]){"echo", "--max-count=3", "--max-count",
                               "--dry-run-now=", "--name=a_b=c d", "--x",
                               "--already-hyphen=v"},
              7);
  cu_cmd_free(cmd);
}

static void test_bad_flag_names(void **state) {
  (void)state;
  static const char *const bad[] = {"",     "-x",  "--x",   "a=b",
                                    "a b",  "a\tb", "a\nb", "\x7f"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cu_cmd *cmd = echo_cmd();
    assert_int_equal(cu_cmd_flag(cmd, bad[i], "1"), CU_EINVAL);
    assert_int_equal(cu_cmd_status(cmd), CU_EINVAL);
    assert_int_equal(cu_cmd_argv_count(cmd), 1);
    cu_cmd_free(cmd);
  }
  cu_cmd *cmd = echo_cmd();
  assert_int_equal(cu_cmd_flag(cmd, NULL, "1"), CU_EINVAL);
  assert_int_equal(cu_cmd_flag_int(cmd, "ok", 1), CU_EINVAL); /* sticky */
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------ rendering */

static char *render(const cu_cmd *cmd) {
  char *line = NULL;
  assert_int_equal(cu_cmd_render(cmd, &line), 0);
  assert_non_null(line);
  return line;
}

static void test_render_quoting(void **state) {
  (void)state;
  static const char *const cases[][2] = {
      {"plain", "plain"},
      {"a-b_c.d/e:f,g@h%i+j=k", "a-b_c.d/e:f,g@h%i+j=k"},
      {"", "''"},
      {"two words", "'two words'"},
      {"it's", "'it'\\''s'"},
      {"'", "''\\'''"},
      {"$HOME", "'$HOME'"},
      {"`id`", "'`id`'"},
      {"*.c", "'*.c'"},
      {"a\"b", "'a\"b'"},
      {"back\\slash", "'back\\slash'"},
      {"line\nbreak", "$'line\\012break'"},
      {"tab\there", "$'tab\\011here'"},
      {"caf\xc3\xa9", "'caf\xc3\xa9'"},
      {"--max-count=3", "--max-count=3"},
      {"~user", "'~user'"},
      {"a;b|c&d", "'a;b|c&d'"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cu_cmd *cmd = echo_cmd();
    assert_int_equal(cu_cmd_arg(cmd, cases[i][0]), 0);
    char *line = render(cmd);
    char want[128];
    snprintf(want, sizeof want, "echo %s", cases[i][1]);
    assert_string_equal(line, want);
    free(line);
    cu_cmd_free(cmd);
  }
  cu_cmd *cmd = echo_cmd();
  char *line = render(cmd);
  assert_string_equal(line, "echo"); /* argv[0] is the name, not the path */
  free(line);
  assert_int_equal(cu_cmd_render(cmd, NULL), CU_EINVAL);
  cu_cmd_free(cmd);
}

/* The rendered line, read back by a real POSIX shell (test code only),
 * gives the same argv byte for byte. */
static void test_render_round_trips_through_sh(void **state) {
  (void)state;
  static const char *const args[] = {
      "plain", "", "two words", "it's", "''", "$HOME", "`id`", "*",
      "caf\xc3\xa9", "\\", "-n", "--x=y z", "!"};
  /* Control characters render as $'...', which /bin/sh (dash 0.5.12)
   * lacks: test_render.c round-trips those through bash --posix. */
  enum { N = sizeof args / sizeof args[0] };
  cu_cmd *cmd = echo_cmd();
  for (size_t i = 0; i < N; i++)
    assert_int_equal(cu_cmd_arg(cmd, args[i]), 0);
  char *line = render(cmd);
  char *script = NULL;
  assert_true(asprintf(&script, "printf '%%s\\0' %s", line) > 0);
  FILE *sh = popen(script, "r");
  assert_non_null(sh);
  char out[4096];
  size_t got = fread(out, 1, sizeof out, sh);
  assert_int_equal(pclose(sh), 0);
  size_t at = 0;
  for (size_t i = 0; i <= N; i++) {
    const char *want = i == 0 ? "echo" : args[i - 1];
    assert_true(at + strlen(want) < got);
    assert_string_equal(out + at, want);
    at += strlen(want) + 1;
  }
  assert_int_equal(at, got);
  free(script);
  free(line);
  cu_cmd_free(cmd);
}

static void test_harness_cmd(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("argvdump", "a", NULL);
  assert_argv(cmd, (const char *[]){"argvdump", "a"}, 2);
  assert_string_equal(cu_cmd_path(cmd), cut_helper("argvdump"));
  assert_string_equal(cu_project_name(cu_cmd_project(cmd)), "test-helpers");
  char *line = render(cmd);
  assert_string_equal(line, "argvdump a");
  free(line);
  cu_cmd_free(cmd);
}

static void *build_many(void *arg) {
  const cu_catalogue *cat = arg;
  for (int i = 0; i < 200; i++) {
    cu_cmd *cmd = NULL;
    if (cu_cmd_new(cat, CU_ECHO, &cmd) != 0 || cu_cmd_arg_int(cmd, i) != 0)
      return (void *)1;
    cu_cmd_free(cmd);
  }
  return NULL;
}

/* Commands made and freed from many threads share one catalogue; the last
 * reference, not the creator's free, releases it. */
static void test_concurrent_builds_threads(void **state) {
  (void)state;
  enum { N = 8 };
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  assert_int_equal(cu_catalogue_allow(cat, CU_ECHO, NULL), 0);
  cu_cmd *keeper = NULL;
  assert_int_equal(cu_cmd_new(cat, CU_ECHO, &keeper), 0);
  pthread_t tid[N];
  for (int i = 0; i < N; i++)
    assert_int_equal(pthread_create(&tid[i], NULL, build_many, cat), 0);
  for (int i = 0; i < N; i++) {
    void *failed = NULL;
    pthread_join(tid[i], &failed);
    assert_null(failed);
  }
  cu_catalogue_unref(cat);
  assert_string_equal(cu_project_name(cu_cmd_project(keeper)), "allowed");
  cu_cmd_free(keeper);
}

/* What the builder appends is exactly what the child receives. */
static void test_child_receives_argv_exactly(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("argvdump", "", "two words", "it's", NULL);
  assert_int_equal(cu_cmd_argn(cmd, "caf\xc3\xa9\n$HOME", 11), 0);
  assert_int_equal(cu_cmd_flag(cmd, "max_count", "3"), 0);
  cu_result *res = NULL;
  assert_int_equal(cu_run(cmd, NULL, &res), 0);
  assert_true(res->ok);
  assert_string_equal(res->out.data, "argc 6\n8:argvdump\n0:\n9:two words\n"
                                     "4:it's\n11:caf\xc3\xa9\n$HOME\n"
                                     "13:--max-count=3\n");
  res = cu_result_free(res);
  cu_cmd_free(cmd);
}

/* A command with a sticky error is refused with its code; nothing runs. */
static void test_run_refuses_sticky_error(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("argvdump", NULL);
  assert_int_equal(cu_cmd_argn(cmd, "a\0b", 3), CU_ENULARG);
  cu_result *res = NULL;
  assert_int_equal(cu_run(cmd, NULL, &res), CU_ENULARG);
  assert_int_equal(res->pid, 0);
  assert_false(res->ok);
  res = cu_result_free(res);
  cu_cmd_free(cmd);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_new_fills_every_field),
    cmocka_unit_test(test_new_errors),
    cmocka_unit_test(test_free_and_accessors_accept_null),
    cmocka_unit_test(test_args_grow_and_count_bytes),
    cmocka_unit_test(test_args_and_vargs),
    cmocka_unit_test(test_null_argument_is_sticky),
    cmocka_unit_test(test_argn),
    cmocka_unit_test(test_argf_and_integers),
    cmocka_unit_test(test_flag_conversions),
    cmocka_unit_test(test_bad_flag_names),
    cmocka_unit_test(test_render_quoting),
    cmocka_unit_test(test_render_round_trips_through_sh),
    cmocka_unit_test(test_harness_cmd),
    cmocka_unit_test(test_concurrent_builds_threads),
    cmocka_unit_test(test_child_receives_argv_exactly),
    cmocka_unit_test(test_run_refuses_sticky_error),
};

CU_TEST_MAIN(tests)
