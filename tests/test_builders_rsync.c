/* SPDX-License-Identifier: MIT */
/*
 * The rsync builder against the real rsync in a temporary tree: the
 * trailing-slash forms, include/exclude, delete, dry-run, verbose, a local
 * path with a ':' that rsync would read as host:path, and the refusals.
 */
#include "harness.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/internal.h"
#include "cuprum/builders.h"

static char tmp[64];

static int setup(void **state) {
  (void)state;
  strcpy(tmp, "/tmp/cu_brsync_XXXXXX");
  return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  int rc = cut_rm_rf(tmp);
  tmp[0] = '\0';
  return rc;
}

static void need_rsync(void) {
  const cu_catalogue *cat = NULL;
  const char *path = NULL;
  if (cu_catalogue_default(&cat) != 0 ||
      cu_catalogue_lookup(cat, CU_RSYNC, NULL, &path) != 0) {
    print_message("rsync is not installed (deps.sh test group)\n");
    skip();
  }
}

static char *run_ok(cu_cmd *cmd) {
  assert_non_null(cmd);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.cwd = tmp;
  cu_result *res = NULL;
  int rc = cu_run(cmd, &o, &res);
  if (rc != 0 || !res->ok)
    fail_msg("rc %d exit %d: %s", rc, res ? res->exit_code : -1,
             res ? res->err.data : cu_last_error());
  char *out = strdup(res->out.data);
  cu_result_free(res);
  cu_cmd_free(cmd);
  return out;
}

static cu_safe_path *p_abs(const char *name) {
  char *s = cu__asprintf("%s/%s", tmp, name);
  cu_safe_path *p = NULL;
  assert_int_equal(cu_safe_path_new(s, NULL, &p), 0);
  free(s);
  return p;
}

static cu_safe_path *p_rel(const char *s) {
  cu_safe_path_opts o = CU_SAFE_PATH_OPTS_INIT;
  o.allow_relative = true;
  cu_safe_path *p = NULL;
  assert_int_equal(cu_safe_path_new(s, &o, &p), 0);
  return p;
}

static void put(const char *name) {
  char *p = cu__asprintf("%s/%s", tmp, name);
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "x\n", 2), 2);
  close(fd);
  free(p);
}

static void mk(const char *name) {
  char *p = cu__asprintf("%s/%s", tmp, name);
  assert_int_equal(mkdir(p, 0755), 0);
  free(p);
}

static bool exists(const char *name) {
  char *p = cu__asprintf("%s/%s", tmp, name);
  struct stat st;
  bool ok = lstat(p, &st) == 0;
  free(p);
  return ok;
}

static void make_src(void) {
  mk("src");
  mk("src/sub");
  put("src/a.c");
  put("src/b.txt");
  put("src/sub/c.c");
}

static void sync1(const char *src, const char *dst, const cu_rsync_opts *o) {
  cu_safe_path *s = p_abs(src), *d = p_abs(dst);
  const cu_safe_path *srcs[] = {s};
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_rsync(srcs, 1, d, o, &cmd), 0);
  free(run_ok(cmd));
  cu_safe_path_free(s);
  cu_safe_path_free(d);
}

static void test_trailing_slash_semantics(void **state) {
  (void)state;
  need_rsync();
  make_src();
  cu_rsync_opts o = CU_RSYNC_OPTS_INIT;
  o.archive = true;
  mk("d1");
  sync1("src/", "d1", &o); /* the contents of src */
  assert_true(exists("d1/a.c"));
  assert_true(exists("d1/sub/c.c"));
  assert_false(exists("d1/src"));
  mk("d2");
  sync1("src", "d2", &o); /* src itself */
  assert_true(exists("d2/src/a.c"));
  assert_false(exists("d2/a.c"));
}

static void test_include_exclude_delete_dry_run(void **state) {
  (void)state;
  need_rsync();
  make_src();
  mk("d");
  put("d/stale.c"); /* excluded names are not deleted: a .c is */
  const char *inc[] = {"*/", "*.c"};
  const char *exc[] = {"*"};
  cu_rsync_opts o = CU_RSYNC_OPTS_INIT;
  o.recursive = true;
  o.include = inc;
  o.n_include = 2;
  o.exclude = exc;
  o.n_exclude = 1;
  o.delete_extraneous = true;
  o.dry_run = true;
  o.verbose = true;
  o.compress = true;
  cu_safe_path *s = p_abs("src/"), *d = p_abs("d");
  const cu_safe_path *srcs[] = {s};
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), 0);
  char *out = run_ok(cmd);
  /* verbose names what would happen; dry-run does none of it. */
  assert_non_null(strstr(out, "a.c\n"));
  assert_non_null(strstr(out, "deleting stale.c\n"));
  assert_null(strstr(out, "b.txt"));
  free(out);
  assert_false(exists("d/a.c"));
  assert_true(exists("d/stale.c"));
  o.dry_run = false;
  o.verbose = false;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "");
  free(out);
  assert_true(exists("d/a.c"));
  assert_true(exists("d/sub/c.c"));
  assert_false(exists("d/b.txt"));
  assert_false(exists("d/stale.c"));
  cu_safe_path_free(s);
  cu_safe_path_free(d);
}

static void test_colon_and_dash_paths_stay_local(void **state) {
  (void)state;
  need_rsync();
  mk("host:dir");
  put("host:dir/f");
  mk("-out");
  cu_safe_path *s = p_rel("host:dir/"), *d = p_rel("-out");
  const cu_safe_path *srcs[] = {s};
  cu_rsync_opts o = CU_RSYNC_OPTS_INIT;
  o.archive = true;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), 0);
  const char *const *argv = cu_cmd_argv(cmd);
  size_t argc = cu_cmd_argv_count(cmd);
  assert_string_equal(argv[argc - 3], "--");
  assert_string_equal(argv[argc - 2], "./host:dir/");
  assert_string_equal(argv[argc - 1], "./-out");
  free(run_ok(cmd)); /* run in tmp: both are local */
  assert_true(exists("-out/f"));
  cu_safe_path_free(s);
  cu_safe_path_free(d);
}

static void test_refusals(void **state) {
  (void)state;
  need_rsync();
  cu_safe_path *s = p_abs("a"), *d = p_abs("b");
  const cu_safe_path *srcs[] = {s};
  cu_rsync_opts o = CU_RSYNC_OPTS_INIT;
  cu_cmd *cmd = NULL;
  o.delete_extraneous = true;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "delete_extraneous"));
  o.delete_extraneous = false;
  assert_int_equal(cu_rsync(srcs, 0, d, &o, &cmd), CU_EINVAL);
  assert_int_equal(cu_rsync(srcs, 1, NULL, &o, &cmd), CU_EINVAL);
  const char *bad[] = {"ok", "x\ny"};
  o.exclude = bad;
  o.n_exclude = 2;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "x\\ny"));
  o.n_exclude = 0;
  o.include = NULL;
  o.n_include = 1;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), CU_EINVAL);
  assert_null(cmd);
  cut_assert_no_children();
  cu_safe_path_free(s);
  cu_safe_path_free(d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_trailing_slash_semantics, setup,
                                    teardown),
    cmocka_unit_test_setup_teardown(test_include_exclude_delete_dry_run,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_colon_and_dash_paths_stay_local,
                                    setup, teardown),
    cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
};

CU_TEST_MAIN(tests)
