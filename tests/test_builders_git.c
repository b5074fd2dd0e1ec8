/* SPDX-License-Identifier: MIT */
/*
 * The git builders against the real git, in a temporary repository. The
 * runs never read the user's or the system's git configuration: HOME is
 * the temporary directory, GIT_CONFIG_NOSYSTEM and GIT_CONFIG_GLOBAL are
 * set, and the identity comes from the environment.
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include <stdio.h>

#include "builders_util.h"

static const cu_env_var git_env[] = {
    {"GIT_CONFIG_NOSYSTEM", "1"},     {"GIT_CONFIG_GLOBAL", "/dev/null"},
    {"HOME", "/nonexistent"},         {"LC_ALL", "C"},
    {"GIT_AUTHOR_NAME", "Cu Test"},   {"GIT_AUTHOR_EMAIL", "cu@example.org"},
    {"GIT_COMMITTER_NAME", "Cu Test"}, {"GIT_COMMITTER_EMAIL", "cu@example.org"},
    {"GIT_TERMINAL_PROMPT", "0"},
};

/* bt_setup, or nothing when git is missing (each test then skips). */
static int setup(void **state) {
  const cu_catalogue *cat = NULL;
  const char *path = NULL;
  if (cu_catalogue_default(&cat) != 0 ||
      cu_catalogue_lookup(cat, CU_GIT, NULL, &path) != 0)
    return 0;
  return bt_setup(state);
}

static void need_git(void) {
  if (!bt_tmp[0]) {
    print_message("git is not installed (not in the default catalogue)\n");
    skip();
  }
}

static char *run_ok(cu_cmd *cmd) {
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.env = git_env;
  o.n_env = sizeof git_env / sizeof git_env[0];
  return bt_run_ok(cmd, &o);
}

static int run_exit(cu_cmd *cmd) {
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.env = git_env;
  o.n_env = sizeof git_env / sizeof git_env[0];
  cu_result *res = NULL;
  assert_int_equal(cu_run(cmd, &o, &res), 0);
  int code = res->exit_code;
  res = cu_result_free(res);
  cu_cmd_free(cmd);
  return code;
}

static cu_git_ref *ref_of(const char *s, bool suffix) {
  cu_git_ref_opts o = CU_GIT_REF_OPTS_INIT;
  o.allow_suffix = suffix;
  cu_git_ref *r = NULL;
  assert_int_equal(cu_git_ref_new(s, &o, &r), 0);
  return r;
}


/* A repository at bt_tmp/repo on branch main with two commits. */
static cu_safe_path *make_repo(void) {
  cu_safe_path *repo = bt_abs("repo");
  cu_cmd *cmd = NULL;
  cu_git_ref *main_ref = ref_of("main", false);
  cu_git_init_opts io = CU_GIT_INIT_OPTS_INIT;
  io.quiet = true;
  io.initial_branch = main_ref;
  assert_int_equal(cu_git_init(repo, &io, &cmd), 0);
  free(run_ok(cmd));
  cu_git_ref_free(main_ref);

  bt_put("repo/a.txt", "one\n");
  bt_put("repo/-dash.txt", "dash\n");
  cu_safe_path_opts rel = CU_SAFE_PATH_OPTS_INIT;
  rel.allow_relative = true;
  cu_safe_path *a = NULL, *dash = NULL;
  assert_int_equal(cu_safe_path_new("a.txt", &rel, &a), 0);
  assert_int_equal(cu_safe_path_new("-dash.txt", &rel, &dash), 0);
  const cu_safe_path *paths[] = {a, dash};
  cu_git_add_opts ao = CU_GIT_ADD_OPTS_INIT;
  ao.repo = repo;
  assert_int_equal(cu_git_add(paths, 2, &ao, &cmd), 0);
  free(run_ok(cmd));
  cu_git_commit_opts co = CU_GIT_COMMIT_OPTS_INIT;
  co.repo = repo;
  co.quiet = true;
  assert_int_equal(cu_git_commit("first\n\nbody line", &co, &cmd), 0);
  free(run_ok(cmd));
  bt_put("repo/a.txt", "one\ntwo\n");
  co.all = true;
  assert_int_equal(cu_git_commit("-second", &co, &cmd), 0);
  free(run_ok(cmd));
  cu_safe_path_free(a);
  cu_safe_path_free(dash);
  return repo;
}

static void test_init_add_commit_log(void **state) {
  (void)state;
  need_git();
  cu_safe_path *repo = make_repo();
  cu_git_log_opts lo = CU_GIT_LOG_OPTS_INIT;
  lo.repo = repo;
  lo.format = "%s|%an";
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_git_log(&lo, &cmd), 0);
  char *out = run_ok(cmd);
  assert_string_equal(out, "-second|Cu Test\nfirst|Cu Test\n");
  free(out);
  lo.max_count = 1;
  cu_git_ref *head = ref_of("HEAD~1", true);
  lo.ref = head;
  assert_int_equal(cu_git_log(&lo, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "first|Cu Test\n");
  free(out);
  /* The argv: `--` closes the revisions. */
  assert_int_equal(cu_git_log(&lo, &cmd), 0);
  const char *const *argv = cu_cmd_argv(cmd);
  size_t argc = cu_cmd_argv_count(cmd);
  assert_string_equal(argv[argc - 1], "--");
  assert_string_equal(argv[argc - 2], "HEAD~1");
  cu_cmd_free(cmd);
  cu_git_ref_free(head);
  lo.format = "bad\x1b";
  cmd = NULL;
  assert_int_equal(cu_git_log(&lo, &cmd), CU_EINVAL);
  assert_null(cmd);
  assert_non_null(strstr(cu_last_error(), "rule \"control\""));
  cu_safe_path_free(repo);
}

static void test_status_short_branch(void **state) {
  (void)state;
  need_git();
  cu_safe_path *repo = make_repo();
  bt_put("repo/new.txt", "n\n");
  cu_git_status_opts so = CU_GIT_STATUS_OPTS_INIT;
  so.repo = repo;
  so.short_format = true;
  so.branch = true;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_git_status(&so, &cmd), 0);
  char *out = run_ok(cmd);
  assert_string_equal(out, "## main\n?? new.txt\n");
  free(out);
  so.porcelain = true;
  assert_int_equal(cu_git_status(&so, &cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "contradict"));
  so.short_format = false;
  assert_int_equal(cu_git_status(&so, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "## main\n?? new.txt\n");
  free(out);
  cu_safe_path_free(repo);
}

static void test_checkout_and_rev_parse(void **state) {
  (void)state;
  need_git();
  cu_safe_path *repo = make_repo();
  cu_cmd *cmd = NULL;
  cu_git_ref *topic = ref_of("topic", false), *start = ref_of("HEAD~1", true);
  cu_git_checkout_opts co = CU_GIT_CHECKOUT_OPTS_INIT;
  co.repo = repo;
  co.create = true;
  co.start = start;
  assert_int_equal(cu_git_checkout(topic, &co, &cmd), 0);
  free(run_ok(cmd));

  cu_git_rev_parse_opts ro = CU_GIT_REV_PARSE_OPTS_INIT;
  ro.repo = repo;
  ro.abbrev_ref = true;
  cu_git_ref *head = ref_of("HEAD", false);
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), 0);
  char *out = run_ok(cmd);
  assert_string_equal(out, "topic\n");
  free(out);
  ro.abbrev_ref = false;
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), 0);
  char *topic_id = run_ok(cmd);
  cu_git_ref *main1 = ref_of("main~1", true);
  assert_int_equal(cu_git_rev_parse(main1, &ro, &cmd), 0);
  char *main1_id = run_ok(cmd);
  assert_string_equal(topic_id, main1_id);
  assert_int_equal(strlen(topic_id), 41);
  ro.short_len = 7;
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), 0);
  out = run_ok(cmd);
  assert_int_equal(strlen(out), 8);
  assert_memory_equal(out, topic_id, 7);
  free(out);
  ro.abbrev_ref = true;
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), CU_EINVAL);
  ro.abbrev_ref = false;
  ro.short_len = 2;
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), CU_EINVAL);
  ro.short_len = 0;
  ro.quiet = true;
  cu_git_ref *nope = ref_of("no-such-ref", false);
  assert_int_equal(cu_git_rev_parse(nope, &ro, &cmd), 0);
  assert_int_equal(run_exit(cmd), 1);

  /* Detach at main, then force back to topic over a local change. */
  cu_git_ref *mainr = ref_of("main", false);
  cu_git_checkout_opts d = CU_GIT_CHECKOUT_OPTS_INIT;
  d.repo = repo;
  d.detach = true;
  assert_int_equal(cu_git_checkout(mainr, &d, &cmd), 0);
  free(run_ok(cmd));
  ro.abbrev_ref = true;
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "HEAD\n");
  free(out);
  bt_put("repo/a.txt", "local change\n");
  cu_git_checkout_opts f = CU_GIT_CHECKOUT_OPTS_INIT;
  f.repo = repo;
  assert_int_equal(cu_git_checkout(topic, &f, &cmd), 0);
  assert_int_not_equal(run_exit(cmd), 0); /* the change would be lost */
  f.force = true;
  assert_int_equal(cu_git_checkout(topic, &f, &cmd), 0);
  free(run_ok(cmd));

  /* create + force resets an existing branch (-B) instead of failing. */
  cu_git_checkout_opts cf = CU_GIT_CHECKOUT_OPTS_INIT;
  cf.repo = repo;
  cf.create = true;
  assert_int_equal(cu_git_checkout(topic, &cf, &cmd), 0);
  assert_int_not_equal(run_exit(cmd), 0); /* topic exists */
  cf.force = true;
  cf.start = mainr;
  assert_int_equal(cu_git_checkout(topic, &cf, &cmd), 0);
  assert_string_equal(cu_cmd_argv(cmd)[4], "-B");
  free(run_ok(cmd));
  ro.abbrev_ref = false;
  assert_int_equal(cu_git_rev_parse(head, &ro, &cmd), 0);
  char *now = run_ok(cmd);
  assert_string_not_equal(now, topic_id); /* topic moved to main */
  free(now);

  /* The exclusions. */
  co.detach = true;
  cmd = NULL;
  assert_int_equal(cu_git_checkout(topic, &co, &cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "create and detach"));
  assert_null(cmd);
  f.start = start;
  assert_int_equal(cu_git_checkout(topic, &f, &cmd), CU_EINVAL);
  assert_int_equal(cu_git_checkout(NULL, &f, &cmd), CU_EINVAL);

  free(topic_id);
  free(main1_id);
  cu_git_ref_free(topic);
  cu_git_ref_free(start);
  cu_git_ref_free(head);
  cu_git_ref_free(main1);
  cu_git_ref_free(nope);
  cu_git_ref_free(mainr);
  cu_safe_path_free(repo);
}

static void test_diff_stat(void **state) {
  (void)state;
  need_git();
  cu_safe_path *repo = make_repo();
  cu_git_ref *from = ref_of("HEAD~1", true), *to = ref_of("HEAD", false);
  cu_git_diff_opts o = CU_GIT_DIFF_OPTS_INIT;
  o.repo = repo;
  o.from = from;
  o.to = to;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_git_diff_stat(&o, &cmd), 0);
  char *out = run_ok(cmd);
  assert_non_null(strstr(out, "a.txt | 1 +"));
  assert_non_null(strstr(out, "1 file changed, 1 insertion(+)"));
  free(out);
  o.cached = true;
  assert_int_equal(cu_git_diff_stat(&o, &cmd), CU_EINVAL);
  o.from = NULL;
  o.cached = false;
  assert_int_equal(cu_git_diff_stat(&o, &cmd), CU_EINVAL);
  o.to = NULL;
  assert_int_equal(cu_git_diff_stat(&o, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "");
  free(out);
  cu_git_ref_free(from);
  cu_git_ref_free(to);
  cu_safe_path_free(repo);
}

static void test_clone_and_fetch(void **state) {
  (void)state;
  need_git();
  cu_safe_path *repo = make_repo();
  cu_safe_path *dest = bt_abs("clone");
  char *url = cu__asprintf("file://%s/repo", bt_tmp);
  cu_git_ref *mainr = ref_of("main", false);
  cu_git_clone_opts co = CU_GIT_CLONE_OPTS_INIT;
  co.depth = 1;
  co.branch = mainr;
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_git_clone(url, dest, &co, &cmd), 0);
  free(run_ok(cmd));
  cu_git_log_opts lo = CU_GIT_LOG_OPTS_INIT;
  lo.repo = dest;
  lo.format = "%s";
  assert_int_equal(cu_git_log(&lo, &cmd), 0);
  char *out = run_ok(cmd);
  assert_string_equal(out, "-second\n"); /* depth 1: one commit */
  free(out);

  cu_git_ref *origin = ref_of("origin", false);
  cu_git_fetch_opts fo = CU_GIT_FETCH_OPTS_INIT;
  fo.repo = dest;
  fo.remote = origin;
  fo.ref = mainr;
  fo.depth = 2;
  fo.prune = true;
  assert_int_equal(cu_git_fetch(&fo, &cmd), 0);
  free(run_ok(cmd));
  lo.ref = NULL;
  cu_git_ref *fh = ref_of("FETCH_HEAD", false);
  lo.ref = fh;
  assert_int_equal(cu_git_log(&lo, &cmd), 0);
  out = run_ok(cmd);
  assert_string_equal(out, "-second\nfirst\n");
  free(out);

  /* Refusals: dangerous transports, options as URLs, bad combinations. */
  cmd = NULL;
  assert_int_equal(cu_git_clone("ext::sh -c evil", dest, &co, &cmd),
                   CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "rule \"transport\""));
  assert_int_equal(cu_git_clone("--upload-pack=evil", dest, &co, &cmd),
                   CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "rule \"dash\""));
  assert_int_equal(cu_git_clone("", dest, &co, &cmd), CU_EINVAL);
  co.depth = -1;
  assert_int_equal(cu_git_clone(url, dest, &co, &cmd), CU_EINVAL);
  fo.remote = NULL;
  assert_int_equal(cu_git_fetch(&fo, &cmd), CU_EINVAL);
  cu_git_ref *slashy = ref_of("a/b", false);
  fo.remote = slashy;
  fo.ref = NULL;
  assert_int_equal(cu_git_fetch(&fo, &cmd), CU_EINVAL);
  assert_null(cmd);

  free(url);
  cu_git_ref_free(mainr);
  cu_git_ref_free(origin);
  cu_git_ref_free(fh);
  cu_git_ref_free(slashy);
  cu_safe_path_free(dest);
  cu_safe_path_free(repo);
}

static void test_bad_input_leaves_nothing(void **state) {
  (void)state;
  need_git();
  int fds = cut_fd_count();
  cu_cmd *cmd = NULL;
  cu_git_commit_opts co = CU_GIT_COMMIT_OPTS_INIT;
  assert_int_equal(cu_git_commit("", &co, &cmd), CU_EINVAL);
  assert_int_equal(cu_git_commit("a\x01", &co, &cmd), CU_EINVAL);
  assert_int_equal(cu_git_commit(NULL, &co, &cmd), CU_EINVAL);
  cu_git_add_opts ao = CU_GIT_ADD_OPTS_INIT;
  assert_int_equal(cu_git_add(NULL, 0, &ao, &cmd), CU_EINVAL);
  cu_git_status_opts zero;
  memset(&zero, 0, sizeof zero);
  assert_int_equal(cu_git_status(&zero, &cmd), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_GIT_STATUS_OPTS_INIT"));
  assert_int_equal(cu_git_status(NULL, NULL), CU_EINVAL);
  /* A catalogue without git: the builder reports it, nothing resolved. */
  cu_catalogue *empty = NULL;
  assert_int_equal(cu_catalogue_new(&empty), 0);
  cu_git_status_opts so = CU_GIT_STATUS_OPTS_INIT;
  so.catalogue = empty;
  assert_int_equal(cu_git_status(&so, &cmd), CU_EUNKNOWN_PROGRAM);
  cu_catalogue_unref(empty);
  assert_null(cmd);
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_init_add_commit_log, setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_status_short_branch, setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_checkout_and_rev_parse, setup,
                                    bt_teardown),
    cmocka_unit_test_setup_teardown(test_diff_stat, setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_clone_and_fetch, setup, bt_teardown),
    cmocka_unit_test_setup_teardown(test_bad_input_leaves_nothing, setup,
                                    bt_teardown),
};

CU_TEST_MAIN(tests)
