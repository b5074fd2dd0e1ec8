/* SPDX-License-Identifier: MIT */
/*
 * Shared by the builder tests (test_builders_*.c): a temporary tree under
 * bt_tmp, files and directories in it, typed paths to them, and running a
 * built command to success. Header-only: each test executable includes it
 * once.
 */
#ifndef CU_BUILDERS_UTIL_H
#define CU_BUILDERS_UTIL_H

#include "harness.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "cuprum/builders.h"

static char bt_tmp[64];

/* setup/teardown: a fresh /tmp/cu_b_XXXXXX for each test. */
static inline int bt_setup(void **state) {
  (void)state;
  strcpy(bt_tmp, "/tmp/cu_b_XXXXXX");
  return mkdtemp(bt_tmp) ? 0 : -1;
}

static inline int bt_teardown(void **state) {
  (void)state;
  int rc = bt_tmp[0] ? cut_rm_rf(bt_tmp) : 0;
  bt_tmp[0] = '\0';
  return rc;
}

/* bt_tmp/name (caller frees). */
static inline char *bt_join(const char *name) {
  return cu__asprintf("%s/%s", bt_tmp, name);
}

static inline void bt_put(const char *name, const char *text) {
  char *p = bt_join(name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  free(p);
}

static inline void bt_mk(const char *name) {
  char *p = bt_join(name);
  assert_int_equal(mkdir(p, 0755), 0);
  free(p);
}

static inline bool bt_exists(const char *name) {
  char *p = bt_join(name);
  struct stat st;
  bool ok = lstat(p, &st) == 0;
  free(p);
  return ok;
}

/* bt_tmp/name as an absolute cu_safe_path. */
static inline cu_safe_path *bt_abs(const char *name) {
  char *s = bt_join(name);
  cu_safe_path *p = NULL;
  assert_int_equal(cu_safe_path_new(s, NULL, &p), 0);
  free(s);
  return p;
}

static inline cu_safe_path *bt_rel(const char *s) {
  cu_safe_path_opts o = CU_SAFE_PATH_OPTS_INIT;
  o.allow_relative = true;
  cu_safe_path *p = NULL;
  assert_int_equal(cu_safe_path_new(s, &o, &p), 0);
  return p;
}

/* Run cmd (freed) with o, require success, return its stdout (caller
 * frees). */
static inline char *bt_run_ok(cu_cmd *cmd, const cu_run_opts *o) {
  assert_non_null(cmd);
  cu_result *res = NULL;
  int rc = cu_run(cmd, o, &res);
  assert_non_null(res);
  if (rc != 0 || !res->ok) {
    char *line = NULL;
    if (cu_cmd_render(cmd, &line) != 0)
      line = NULL; /* the message below says "?" */
    fail_msg("%s: rc %d exit %d: %s (%s)", line ? line : "?", rc,
             res->exit_code, res->err.data, cu_last_error());
  }
  char *out = strdup(res->out.data);
  cu_result_free(res);
  cu_cmd_free(cmd);
  return out;
}

#endif /* CU_BUILDERS_UTIL_H */
