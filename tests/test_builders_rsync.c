/* SPDX-License-Identifier: MIT */
/*
 * The rsync builder against the real rsync in a temporary tree: the
 * trailing-slash forms, include/exclude, delete, dry-run, verbose, a local
 * path with a ':' that rsync would read as host:path, and the refusals.
 */
#include "builders_util.h"

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
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.cwd = bt_tmp;
  return bt_run_ok(cmd, &o);
}

static void make_src(void) {
  bt_mk("src");
  bt_mk("src/sub");
  bt_put("src/a.c", "x\n");
  bt_put("src/b.txt", "x\n");
  bt_put("src/sub/c.c", "x\n");
}

static void sync1(const char *src, const char *dst, const cu_rsync_opts *o) {
  cu_safe_path *s = bt_abs(src), *d = bt_abs(dst);
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
  bt_mk("d1");
  sync1("src/", "d1", &o); /* the contents of src */
  assert_true(bt_exists("d1/a.c"));
  assert_true(bt_exists("d1/sub/c.c"));
  assert_false(bt_exists("d1/src"));
  bt_mk("d2");
  sync1("src", "d2", &o); /* src itself */
  assert_true(bt_exists("d2/src/a.c"));
  assert_false(bt_exists("d2/a.c"));
}

static void test_include_exclude_delete_dry_run(void **state) {
  (void)state;
  need_rsync();
  make_src();
  bt_mk("d");
  bt_put("d/stale.c", "x\n"); /* excluded names are not deleted: a .c is */
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
  cu_safe_path *s = bt_abs("src/"), *d = bt_abs("d");
  const cu_safe_path *srcs[] = {s};
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), 0);
  char *out = run_ok(cmd);
  /* verbose names what would happen; dry-run does none of it. */
  assert_non_null(strstr(out, "a.c\n"));
  assert_non_null(strstr(out, "deleting stale.c\n"));
  assert_null(strstr(out, "b.txt"));
  free(out);
  assert_false(bt_exists("d/a.c"));
  assert_true(bt_exists("d/stale.c"));
  o.dry_run = false;
  o.verbose = false;
  assert_int_equal(cu_rsync(srcs, 1, d, &o, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "");
  free(out);
  assert_true(bt_exists("d/a.c"));
  assert_true(bt_exists("d/sub/c.c"));
  assert_false(bt_exists("d/b.txt"));
  assert_false(bt_exists("d/stale.c"));
  cu_safe_path_free(s);
  cu_safe_path_free(d);
}

static void test_colon_and_dash_paths_stay_local(void **state) {
  (void)state;
  need_rsync();
  bt_mk("host:dir");
  bt_put("host:dir/f", "x\n");
  bt_mk("-out");
  cu_safe_path *s = bt_rel("host:dir/"), *d = bt_rel("-out");
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
  assert_true(bt_exists("-out/f"));
  cu_safe_path_free(s);
  cu_safe_path_free(d);
}

static void test_refusals(void **state) {
  (void)state;
  need_rsync();
  cu_safe_path *s = bt_abs("a"), *d = bt_abs("b");
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
    cmocka_unit_test_setup_teardown(test_trailing_slash_semantics, bt_setup,
                                    bt_teardown),
    cmocka_unit_test_setup_teardown(test_include_exclude_delete_dry_run,
                                    bt_setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_colon_and_dash_paths_stay_local,
                                    bt_setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_refusals, bt_setup, bt_teardown),
};

CU_TEST_MAIN(tests)
