/* SPDX-License-Identifier: MIT */
/*
 * The tar builders against the real GNU tar (and gzip, bzip2, xz) in a
 * temporary tree: create with each compression, list, extract, and the
 * containment of hostile archives (absolute names, `..`, a symlink that
 * points outside followed by a member written through it).
 */
#include <stdio.h>

#include "builders_util.h"
#include "cuprum/unsafe.h"

static bool have(cu_program p) {
  const cu_catalogue *cat = NULL;
  const char *path = NULL;
  return cu_catalogue_default(&cat) == 0 &&
         cu_catalogue_lookup(cat, p, NULL, &path) == 0;
}

static bool have_unsafe(const char *name) {
  cu_cmd *cmd = NULL;
  if (cu_unsafe_cmd_new(name, &cmd) != 0)
    return false;
  cu_cmd_free(cmd);
  return true;
}

static void need_tar(void) {
  if (!have(CU_TAR)) {
    print_message("tar is not installed\n");
    skip();
  }
}

static cu_result *run(cu_cmd *cmd) {
  assert_non_null(cmd);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  static const cu_env_var env[] = {{"LC_ALL", "C"}};
  o.env = env;
  o.n_env = 1;
  cu_result *res = NULL;
  int rc = cu_run(cmd, &o, &res);
  if (rc != 0)
    fail_msg("run failed: %s", cu_last_error());
  cu_cmd_free(cmd);
  return res;
}







static char *run_ok(cu_cmd *cmd) {
  cu_run_opts o = CU_RUN_OPTS_INIT;
  static const cu_env_var env[] = {{"LC_ALL", "C"}};
  o.env = env;
  o.n_env = 1;
  return bt_run_ok(cmd, &o);
}

static void head_bytes(const char *name, unsigned char *buf, size_t n) {
  char *p = cu__asprintf("%s/%s", bt_tmp, name);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(read(fd, buf, n), (ssize_t)n);
  close(fd);
  free(p);
}

static void round_trip(cu_tar_compression c, const char *name,
                       const char *magic, size_t magic_len) {
  cu_safe_path *archive = bt_abs(name), *dir = bt_abs("src");
  cu_safe_path *m1 = bt_rel("a.txt"), *m2 = bt_rel("-dash.txt"), *m3 = bt_rel("sub/");
  const cu_safe_path *members[] = {m1, m2, m3};
  cu_tar_opts o = CU_TAR_OPTS_INIT;
  o.compression = c;
  o.directory = dir;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_tar_create(archive, members, 3, &o, &cmd), 0);
  free(run_ok(cmd));
  unsigned char buf[8];
  head_bytes(name, buf, magic_len);
  assert_memory_equal(buf, magic, magic_len);

  /* List: compression detected by tar (AUTO). */
  cu_tar_opts lo = CU_TAR_OPTS_INIT;
  assert_int_equal(cu_tar_list(archive, &lo, &cmd), 0);
  char *out = run_ok(cmd);
  assert_string_equal(out, "a.txt\n./-dash.txt\nsub/\nsub/c.txt\n");
  free(out);

  /* Extract into a fresh directory. */
  char *dname = cu__asprintf("out_%s", name);
  bt_mk(dname);
  cu_safe_path *dest = bt_abs(dname);
  cu_tar_opts xo = CU_TAR_OPTS_INIT;
  xo.compression = c;
  assert_int_equal(cu_tar_extract(archive, dest, &xo, &cmd), 0);
  free(run_ok(cmd));
  char *f = cu__asprintf("%s/sub/c.txt", dname);
  assert_true(bt_exists(f));
  free(f);
  f = cu__asprintf("%s/-dash.txt", dname);
  assert_true(bt_exists(f));
  free(f);
  free(dname);
  cu_safe_path_free(dest);
  cu_safe_path_free(archive);
  cu_safe_path_free(dir);
  cu_safe_path_free(m1);
  cu_safe_path_free(m2);
  cu_safe_path_free(m3);
}

static void make_src(void) {
  bt_mk("src");
  bt_mk("src/sub");
  bt_put("src/a.txt", "a\n");
  bt_put("src/-dash.txt", "dash\n");
  bt_put("src/sub/c.txt", "c\n");
}

static void test_create_list_extract_none(void **state) {
  (void)state;
  need_tar();
  make_src();
  round_trip(CU_TAR_NONE, "a.tar", "a.txt", 5); /* ustar: name first */
}

static void test_create_gzip(void **state) {
  (void)state;
  need_tar();
  if (!have(CU_GZIP)) {
    print_message("gzip is not installed\n");
    skip();
  }
  make_src();
  round_trip(CU_TAR_GZIP, "a.tgz", "\x1f\x8b", 2);
}

static void test_create_bzip2(void **state) {
  (void)state;
  need_tar();
  if (!have_unsafe("bzip2")) {
    print_message("bzip2 is not installed (deps.sh test group)\n");
    skip();
  }
  make_src();
  round_trip(CU_TAR_BZIP2, "a.tbz", "BZh", 3);
}

static void test_create_xz(void **state) {
  (void)state;
  need_tar();
  if (!have_unsafe("xz")) {
    print_message("xz is not installed (deps.sh test group)\n");
    skip();
  }
  make_src();
  round_trip(CU_TAR_XZ, "a.txz", "\xfd" "7zXZ", 5);
}

/* A hostile archive built with tar's own -P and --transform. */
static void test_extract_contains_hostile_members(void **state) {
  (void)state;
  need_tar();
  bt_mk("stage");
  bt_mk("stage/sub");
  bt_mk("outside");
  bt_put("stage/evil.txt", "evil\n");
  bt_put("stage/pwn", "pwn\n");
  char *outside = cu__asprintf("%s/outside", bt_tmp);
  char *link = cu__asprintf("%s/stage/link", bt_tmp);
  assert_int_equal(symlink(outside, link), 0);
  char *archive = cu__asprintf("%s/evil.tar", bt_tmp);
  char *stage = cu__asprintf("%s/stage", bt_tmp);
  char *abs = cu__asprintf("%s/stage/evil.txt", bt_tmp);
  /* 1: the symlink "link" -> bt_tmp/outside, 2: "link/pwn" (through it),
   * 3: "../escaped.txt", 4: an absolute name. */
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(NULL, CU_TAR, &cmd), 0);
  cu_cmd_args(cmd, "-cPf", archive, "-C", stage, "link", (char *)NULL);
  free(run_ok(cmd));
  assert_int_equal(cu_cmd_new(NULL, CU_TAR, &cmd), 0);
  cu_cmd_args(cmd, "-rPf", archive, "-C", stage, "--transform=s,^pwn$,link/pwn,",
              "pwn", (char *)NULL);
  free(run_ok(cmd));
  assert_int_equal(cu_cmd_new(NULL, CU_TAR, &cmd), 0);
  cu_cmd_args(cmd, "-rPf", archive, "-C", stage,
              "--transform=s,^evil.txt$,../escaped.txt,", "evil.txt",
              (char *)NULL);
  free(run_ok(cmd));
  assert_int_equal(cu_cmd_new(NULL, CU_TAR, &cmd), 0);
  cu_cmd_args(cmd, "-rPf", archive, abs, (char *)NULL);
  free(run_ok(cmd));

  cu_safe_path *a = bt_abs("evil.tar");
  cu_tar_opts lo = CU_TAR_OPTS_INIT;
  assert_int_equal(cu_tar_list(a, &lo, &cmd), 0);
  char *listing = run_ok(cmd);
  assert_non_null(strstr(listing, "../escaped.txt\n"));
  assert_non_null(strstr(listing, "link/pwn\n"));
  assert_non_null(strstr(listing, abs));
  free(listing);

  bt_mk("stage/dest");
  cu_safe_path *dest = bt_abs("stage/dest");
  cu_tar_opts xo = CU_TAR_OPTS_INIT;
  assert_int_equal(cu_tar_extract(a, dest, &xo, &cmd), 0);
  cu_result *res = run(cmd);
  /* The `..` member is refused: tar says so and exits 2. */
  assert_false(res->ok);
  assert_int_equal(res->exit_code, 2);
  assert_non_null(strstr(res->err.data, ".."));
  cu_result_free(res);
  assert_false(bt_exists("stage/escaped.txt"));
  assert_false(bt_exists("escaped.txt"));
  assert_false(bt_exists("outside/pwn")); /* nothing written through link */
  /* The absolute name landed inside dest, stripped of its '/'. */
  char *inside = cu__asprintf("stage/dest%s", abs);
  assert_true(bt_exists(inside));
  free(inside);

  free(outside);
  free(link);
  free(archive);
  free(stage);
  free(abs);
  cu_safe_path_free(a);
  cu_safe_path_free(dest);
}

static void test_contradictions_and_argv(void **state) {
  (void)state;
  need_tar();
  cu_safe_path *a = bt_abs("x.tar"), *d = bt_abs("d"), *m = bt_rel("-m");
  const cu_safe_path *members[] = {m};
  cu_tar_opts o = CU_TAR_OPTS_INIT;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_tar_create(a, members, 0, &o, &cmd), CU_EINVAL);
  assert_int_equal(cu_tar_create(NULL, members, 1, &o, &cmd), CU_EINVAL);
  o.allow_unsafe_members = true;
  assert_int_equal(cu_tar_create(a, members, 1, &o, &cmd), CU_EINVAL);
  o.allow_unsafe_members = false;
  o.compression = (cu_tar_compression)99;
  assert_int_equal(cu_tar_create(a, members, 1, &o, &cmd), CU_EINVAL);
  o.compression = CU_TAR_NONE;
  o.directory = d;
  assert_int_equal(cu_tar_list(a, &o, &cmd), CU_EINVAL);
  assert_int_equal(cu_tar_extract(a, d, &o, &cmd), CU_EINVAL);
  assert_null(cmd);
  /* The argv: `--` before members, and the ./ of a leading dash. */
  assert_int_equal(cu_tar_create(a, members, 1, &o, &cmd), 0);
  char *line = NULL;
  assert_int_equal(cu_cmd_render(cmd, &line), 0);
  char *want = cu__asprintf("tar -c -f %s/x.tar -C %s/d -- ./-m", bt_tmp, bt_tmp);
  assert_string_equal(line, want);
  free(want);
  free(line);
  cu_cmd_free(cmd);
  o.directory = NULL;
  o.allow_unsafe_members = true;
  assert_int_equal(cu_tar_extract(a, d, &o, &cmd), 0);
  const char *const *argv = cu_cmd_argv(cmd);
  assert_string_equal(argv[cu_cmd_argv_count(cmd) - 1], "--absolute-names");
  cu_cmd_free(cmd);
  cu_safe_path_free(a);
  cu_safe_path_free(d);
  cu_safe_path_free(m);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_create_list_extract_none, bt_setup,
                                    bt_teardown),
    cmocka_unit_test_setup_teardown(test_create_gzip, bt_setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_create_bzip2, bt_setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_create_xz, bt_setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_extract_contains_hostile_members,
                                    bt_setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_contradictions_and_argv, bt_setup,
                                    bt_teardown),
};

CU_TEST_MAIN(tests)
