/* SPDX-License-Identifier: MIT */
/*
 * The unsafe namespace: construction, resolution (PATH hijack stance),
 * marking, and the policy and allowlist applied at check time.
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "context/ctx.h"
#include "base/internal.h"
#include "catalogue/cmd_int.h"

static int check(const cu_cmd *cmd) {
  cu__ctx *ctx = NULL;
  assert_int_equal(cu__ctx_capture(&ctx), 0);
  int rc = cu__ctx_check(ctx, cmd);
  cu__ctx_release(ctx);
  return rc;
}

static void keep_line(void *data, const char *line) {
  snprintf(data, 512, "%s", line);
}

/* A temporary directory holding one file `name` with `mode`. */
static char *temp_file(const char *name, mode_t mode, char *dir_out) {
  strcpy(dir_out, "/tmp/cu_unsafe_XXXXXX");
  assert_non_null(mkdtemp(dir_out));
  char *path = cu__asprintf("%s/%s", dir_out, name);
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "#!/bin/true\n", 12), 12);
  close(fd);
  chmod(path, mode);
  return path;
}

static void remove_temp(char *path, const char *dir) {
  unlink(path);
  rmdir(dir);
  free(path);
}

static void test_new_by_name_searches_path(void **state) {
  (void)state;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new("true", &cmd), 0);
  assert_true(cu_cmd_is_unsafe(cmd));
  assert_true(cmd->unsafe);
  assert_null(cmd->project);
  assert_null(cmd->catalogue);
  assert_string_equal(cmd->argv[0], "true");
  assert_int_equal(cmd->argc, 1);
  assert_non_null(cmd->path);
  assert_int_equal(cmd->path[0], '/');
  assert_non_null(strstr(cmd->path, "/true"));
  assert_string_equal(cmd->program.name, "true");
  /* ordinary builders work on it */
  assert_int_equal(cu_cmd_arg(cmd, "x y"), 0);
  assert_int_equal(cmd->argc, 2);
  assert_string_equal(cmd->argv[1], "x y");
  assert_null(cmd->argv[2]);
  cu_cmd_free(cmd);
  assert_false(cu_cmd_is_unsafe(NULL));
}

static void test_new_by_absolute_path(void **state) {
  (void)state;
  char dir[64];
  char *path = temp_file("tool", 0755, dir);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new(path, &cmd), 0);
  assert_string_equal(cmd->path, path);
  assert_string_equal(cmd->argv[0], path);
  cu_cmd_free(cmd);
  remove_temp(path, dir);
}

static void test_new_rejects_bad_programs(void **state) {
  (void)state;
  cu_cmd *cmd = (cu_cmd *)0x1;
  assert_int_equal(cu_unsafe_cmd_new("./tool", &cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "relative"));
  assert_int_equal(cu_unsafe_cmd_new("bin/tool", &cmd), CU_EINVAL);
  assert_int_equal(cu_unsafe_cmd_new("", &cmd), CU_EINVAL);
  assert_int_equal(cu_unsafe_cmd_new(NULL, &cmd), CU_EINVAL);
  assert_int_equal(cu_unsafe_cmd_new("true", NULL), CU_EINVAL);
  assert_int_equal(cu_unsafe_cmd_new("/nonexistent/cu-tool", &cmd),
                   CU_ENOTFOUND);
  assert_int_equal(cu_unsafe_cmd_new("cu-no-such-program-xyz", &cmd),
                   CU_ENOTFOUND);
  assert_non_null(strstr(cu_last_error(), "'cu-no-such-program-xyz'"));
  assert_int_equal(cu_unsafe_cmd_new("/tmp", &cmd), CU_EACCES);
  char dir[64];
  char *path = temp_file("plain", 0644, dir);
  assert_int_equal(cu_unsafe_cmd_new(path, &cmd), CU_EACCES);
  remove_temp(path, dir);
  assert_ptr_equal(cmd, (cu_cmd *)0x1); /* untouched on error */
}

static void test_relative_path_entries_ignored(void **state) {
  (void)state;
  char dir[64], cwd[PATH_MAX];
  char *path = temp_file("cu-hijack", 0755, dir);
  assert_non_null(getcwd(cwd, sizeof cwd));
  assert_int_equal(chdir(dir), 0);
  char *saved = cu__strdup(getenv("PATH"));
  setenv("PATH", ".:bin::", 1);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new("cu-hijack", &cmd), CU_ENOTFOUND);
  setenv("PATH", dir, 1);
  assert_int_equal(cu_unsafe_cmd_new("cu-hijack", &cmd), 0);
  assert_string_equal(cmd->path, path);
  cu_cmd_free(cmd);
  setenv("PATH", saved, 1);
  free(saved);
  assert_int_equal(chdir(cwd), 0);
  remove_temp(path, dir);
}

static void test_from_argv(void **state) {
  (void)state;
  const char *argv[] = {"echo", "a b", "", "--x=$(y)", NULL};
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_from_argv(argv, &cmd), 0);
  assert_int_equal(cmd->argc, 4);
  for (size_t i = 0; i < 4; i++)
    assert_string_equal(cmd->argv[i], argv[i]);
  assert_true(cmd->unsafe);
  cu_cmd_free(cmd);
  const char *empty[] = {NULL};
  assert_int_equal(cu_unsafe_cmd_from_argv(empty, &cmd), CU_EINVAL);
  assert_int_equal(cu_unsafe_cmd_from_argv(NULL, &cmd), CU_EINVAL);
  const char *missing[] = {"cu-no-such-program-xyz", "a", NULL};
  assert_int_equal(cu_unsafe_cmd_from_argv(missing, &cmd), CU_ENOTFOUND);
}

static void test_policy_applies_at_check(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  char line[512] = "";
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new("true", &cmd), 0);
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .warn_sink = keep_line,
                                       .warn_sink_data = line}),
      0);
  assert_int_equal(check(cmd), 0); /* warn: runs, one line */
  assert_non_null(strstr(line, "unsafe command 'true'"));
  assert_non_null(strstr(line, cmd->path));
  line[0] = '\0';
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_DENY}), 0);
  assert_int_equal(check(cmd), CU_EPOLICY);
  assert_string_equal(line, "");
  cu_scope_pop();
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}), 0);
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .warn_sink = keep_line,
                                       .warn_sink_data = line}),
      0);
  assert_int_equal(check(cmd), 0);
  assert_string_equal(line, ""); /* allow: silent */
  cu_scope_pop();
  cu_cmd_free(cmd);
}

static void test_restricted_scope_applies_to_unsafe(void **state) {
  (void)state;
  if (getenv(CU_POLICY_ENV))
    skip();
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}), 0);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_new("true", &cmd), 0);
  cu_program ls[] = {CU_LS};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, ls, 1}}),
      0);
  assert_int_equal(check(cmd), CU_EFORBIDDEN);
  assert_non_null(strstr(cu_last_error(), "'true'"));
  cu_scope_pop();
  cu_program tr[] = {CU_TRUE};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, tr, 1}}),
      0);
  assert_int_equal(check(cmd), 0);
  cu_scope_pop();
  cu_cmd_free(cmd);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_new_by_name_searches_path),
    cmocka_unit_test(test_new_by_absolute_path),
    cmocka_unit_test(test_new_rejects_bad_programs),
    cmocka_unit_test(test_relative_path_entries_ignored),
    cmocka_unit_test(test_from_argv),
    cmocka_unit_test(test_policy_applies_at_check),
    cmocka_unit_test(test_restricted_scope_applies_to_unsafe),
};

CU_TEST_MAIN(tests)
