/* SPDX-License-Identifier: MIT */
/*
 * Registration sugar: registered names run through the catalogue, the
 * scope and the policy; an unregistered name never runs anything, even when
 * a program of that name is first on PATH.
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "cuprum/sh.h"

static int teardown(void **state) {
  (void)state;
  cu_sh_reset();
  return 0;
}

static void test_registered_name_runs(void **state) {
  (void)state;
  assert_int_equal(cu_sh_register(NULL, "say", CU_ECHO), 0);
  const char *args[] = {"hello", "world", NULL};
  cu_result *res = NULL;
  assert_int_equal(cu_sh_run("say", args, NULL, &res), 0);
  assert_true(res->ok);
  assert_string_equal(res->out.data, "hello world\n");
  res = cu_result_free(res);
  assert_int_equal(cu_sh_register(NULL, "no", CU_FALSE), 0);
  assert_int_equal(cu_sh("no", (char *)NULL), 1);
  assert_int_equal(cu_sh_register(NULL, "yes.1", CU_TRUE), 0);
  assert_int_equal(cu_sh("yes.1", (char *)NULL), 0);
  /* Re-registration replaces. */
  assert_int_equal(cu_sh_register(NULL, "no", CU_TRUE), 0);
  assert_int_equal(cu_sh("no", (char *)NULL), 0);
  cut_assert_no_children();
}

static void test_unregistered_name_runs_nothing(void **state) {
  (void)state;
  /* A program named like the call, first on PATH, that leaves a mark. */
  char dir[] = "/tmp/cu_sh_XXXXXX";
  assert_non_null(mkdtemp(dir));
  char *tool = cu__asprintf("%s/cu_sh_marker", dir);
  char *mark = cu__asprintf("%s/ran", dir);
  char *body = cu__asprintf("#!/bin/sh\n: > '%s'\n", mark);
  int fd = open(tool, O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, body, strlen(body)), (ssize_t)strlen(body));
  close(fd);
  const char *old = getenv("PATH");
  char *saved = old ? strdup(old) : NULL;
  char *path = cu__asprintf("%s:%s", dir, old ? old : "/usr/bin");
  setenv("PATH", path, 1);
  int fds = cut_fd_count();

  assert_int_equal(cu_sh("cu_sh_marker", (char *)NULL), CU_EUNKNOWN_PROGRAM);
  assert_non_null(strstr(cu_last_error(), "not a registered name"));
  cu_result *res = (cu_result *)1;
  assert_int_equal(cu_sh_run("cu_sh_marker", NULL, NULL, &res),
                   CU_EUNKNOWN_PROGRAM);
  assert_null(res); /* written, so cu_result_free(res) is always safe */
  /* Catalogued, but not registered: still refused. */
  assert_int_equal(cu_sh("echo", "x", (char *)NULL), CU_EUNKNOWN_PROGRAM);
  /* Registering it is refused too: it is not in the catalogue. */
  assert_int_equal(cu_sh_register(NULL, "m", CU_PROGRAM("cu_sh_marker")),
                   CU_EUNKNOWN_PROGRAM);
  assert_int_equal(cu_sh("m", (char *)NULL), CU_EUNKNOWN_PROGRAM);

  struct stat st;
  assert_int_not_equal(stat(mark, &st), 0); /* never ran */
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
  if (saved)
    setenv("PATH", saved, 1);
  free(saved);
  unlink(tool);
  rmdir(dir);
  free(tool);
  free(mark);
  free(body);
  free(path);
}

static void test_scope_and_bad_names(void **state) {
  (void)state;
  assert_int_equal(cu_sh_register(NULL, "l", CU_LS), 0);
  static const cu_program only_echo[] = {CU_ECHO};
  assert_int_equal(
      cu_scope_push(&(cu_scope_config){.size = sizeof(cu_scope_config),
                                       .allow = {CU_ALLOW_ONLY, only_echo, 1}}),
      0);
  assert_int_equal(cu_sh("l", (char *)NULL), CU_EFORBIDDEN);
  cu_scope_pop();
  cut_assert_no_children();

  assert_int_equal(cu_sh_register(NULL, "", CU_LS), CU_EINVAL);
  assert_int_equal(cu_sh_register(NULL, "-l", CU_LS), CU_EINVAL);
  assert_int_equal(cu_sh_register(NULL, "a b", CU_LS), CU_EINVAL);
  assert_int_equal(cu_sh_register(NULL, "a/b", CU_LS), CU_EINVAL);
  assert_int_equal(cu_sh_register(NULL, NULL, CU_LS), CU_EINVAL);
  assert_int_equal(cu_sh(NULL, (char *)NULL), CU_EINVAL);

  /* A caller's catalogue is kept alive by the registry. */
  const cu_catalogue *def = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  cu_catalogue *mine = NULL;
  assert_int_equal(cu_catalogue_clone(def, &mine), 0);
  assert_int_equal(cu_sh_register(mine, "t", CU_TRUE), 0);
  mine = cu_catalogue_unref(mine);
  assert_int_equal(cu_sh("t", (char *)NULL), 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(test_registered_name_runs, teardown),
    cmocka_unit_test_teardown(test_unregistered_name_runs_nothing, teardown),
    cmocka_unit_test_teardown(test_scope_and_bad_names, teardown),
};

CU_TEST_MAIN(tests)
