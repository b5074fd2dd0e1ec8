/* SPDX-License-Identifier: MIT */
/*
 * Typed arguments: cu_safe_path normalisation and rules, cu_git_ref rules (the
 * differential test against git is test_args_git.c).
 */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuprum/args.h"

static const cu_safe_path_opts REL = {.size = sizeof(cu_safe_path_opts),
                                      .allow_relative = true};

static void expect_path(const char *in, const cu_safe_path_opts *o,
                        const char *want) {
  cu_safe_path *p = NULL;
  int rc = cu_safe_path_new(in, o, &p);
  if (rc != 0)
    fail_msg("%s: %s", in, cu_last_error());
  assert_string_equal(cu_safe_path_str(p), want);
  p = cu_safe_path_free(p);
  assert_null(p);
}

static void expect_rule(const char *in, const cu_safe_path_opts *o, int code,
                        const char *rule) {
  cu_safe_path *p = (cu_safe_path *)(uintptr_t)1; /* untouched on error */
  assert_int_equal(cu_safe_path_new(in, o, &p), code);
  assert_ptr_equal(p, (cu_safe_path *)(uintptr_t)1);
  char want[64];
  snprintf(want, sizeof want, "rule \"%s\"", rule);
  if (!strstr(cu_last_error(), want))
    fail_msg("%s: wanted %s in: %s", in, want, cu_last_error());
}

static void test_safe_path_normalises(void **state) {
  (void)state;
  expect_path("/a//b/./c", NULL, "/a/b/c");
  expect_path("/", NULL, "/");
  expect_path("//", NULL, "/");
  expect_path("/./", NULL, "/");
  expect_path("/a/b/", NULL, "/a/b/");
  expect_path("/a/b//", NULL, "/a/b/");
  expect_path("/a/./", NULL, "/a/");
  expect_path("a/b", &REL, "a/b");
  expect_path("./a", &REL, "a");
  expect_path(".", &REL, ".");
  expect_path("./", &REL, "./");
  expect_path("src/", &REL, "src/");
  expect_path("a.b/..c/c..", &REL, "a.b/..c/c.."); /* not `..` segments */
  expect_path("/a-b/-c", NULL, "/a-b/-c");      /* absolute: no option */
  /* The leading-dash rule: a relative path never starts with '-'. */
  expect_path("-rf", &REL, "./-rf");
  expect_path("./-rf/", &REL, "./-rf/");
  expect_path("--help", &REL, "./--help");
  expect_path("a/-x", &REL, "a/-x");
  expect_path("\xc3\xa9t\xc3\xa9", &REL, "\xc3\xa9t\xc3\xa9");

  cu_safe_path *p = NULL;
  assert_int_equal(cu_safe_path_new("/x/y/", NULL, &p), 0);
  assert_true(cu_safe_path_is_absolute(p));
  assert_true(cu_safe_path_has_trailing_slash(p));
  p = cu_safe_path_free(p);
  assert_int_equal(cu_safe_path_new("x/y", &REL, &p), 0);
  assert_false(cu_safe_path_is_absolute(p));
  assert_false(cu_safe_path_has_trailing_slash(p));
  p = cu_safe_path_free(p);
  assert_null(cu_safe_path_str(NULL));
}

static void test_safe_path_rules(void **state) {
  (void)state;
  expect_rule("", NULL, CU_EINVAL, "empty");
  expect_rule("a/b", NULL, CU_EINVAL, "relative");
  expect_rule("/a/../b", NULL, CU_EINVAL, "dotdot");
  expect_rule("..", &REL, CU_EINVAL, "dotdot");
  expect_rule("a/..", &REL, CU_EINVAL, "dotdot");
  expect_rule("../", &REL, CU_EINVAL, "dotdot");
  expect_rule("/a\nb", NULL, CU_EINVAL, "control");
  expect_rule("/a\x7f", NULL, CU_EINVAL, "control");
  /* The message shows the input with control characters escaped. */
  expect_rule("/evil\n\x1b[2Jname", NULL, CU_EINVAL, "control");
  assert_non_null(strstr(cu_last_error(), "/evil\\n\\u001b[2Jname"));
  assert_null(strchr(cu_last_error(), '\n'));
  assert_null(strchr(cu_last_error(), '\x1b'));

  cu_safe_path *p = NULL;
  assert_int_equal(cu_safe_path_newn("/a\0b", 4, NULL, &p), CU_ENULARG);
  assert_non_null(strstr(cu_last_error(), "rule \"nul\""));
  assert_null(p);

  size_t n = CU_SAFE_PATH_MAX + 1;
  char *big = malloc(n + 1);
  assert_non_null(big);
  memset(big, 'a', n);
  big[0] = '/';
  big[n] = '\0';
  expect_rule(big, NULL, CU_EINVAL, "length");
  assert_non_null(strstr(cu_last_error(), "(shortened)"));
  big[n - 1] = '\0'; /* exactly the maximum */
  expect_path(big, NULL, big);
  free(big);

  assert_int_equal(cu_safe_path_new(NULL, NULL, &p), CU_EINVAL);
  assert_int_equal(cu_safe_path_new("/a", NULL, NULL), CU_EINVAL);
  cu_safe_path_opts zero = {0};
  assert_int_equal(cu_safe_path_new("/a", &zero, &p), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "CU_SAFE_PATH_OPTS_INIT"));
  assert_null(p);
}

static void expect_ref(const char *in, const cu_git_ref_opts *o,
                       const char *rule) {
  cu_git_ref *r = NULL;
  int rc = cu_git_ref_new(in, o, &r);
  const char *got = NULL;
  int rc2 = cu_git_ref_check(in, o, &got);
  assert_int_equal(rc, rc2);
  if (!rule) {
    if (rc != 0)
      fail_msg("%s refused: %s", in, cu_last_error());
    assert_string_equal(cu_git_ref_str(r), in);
    r = cu_git_ref_free(r);
    assert_null(r);
    return;
  }
  if (rc != CU_EINVAL)
    fail_msg("%s: wanted rule %s, got %d", in, rule, rc);
  assert_null(r);
  assert_string_equal(got, rule);
  char want[64];
  snprintf(want, sizeof want, "rule \"%s\"", rule);
  if (!strstr(cu_last_error(), want))
    fail_msg("%s: wanted %s in: %s", in, want, cu_last_error());
}

static void test_git_ref_rules(void **state) {
  (void)state;
  const cu_git_ref_opts multi = {.size = sizeof multi,
                                 .require_multilevel = true};
  const cu_git_ref_opts suffix = {.size = sizeof suffix, .allow_suffix = true};
  const char *ok[] = {"main", "HEAD", "v1.0", "refs/heads/topic",
                      "feature/a-b_c", "a@b", "a/-b", "\xc3\xa4",
                      "0123456789abcdef0123456789abcdef01234567", "a.b.c",
                      "a{b}", "x.locks"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    expect_ref(ok[i], NULL, NULL);
  expect_ref("", NULL, "empty");
  expect_ref("-b", NULL, "dash");
  expect_ref("--upload-pack=evil", NULL, "dash");
  expect_ref("@", NULL, "at");
  expect_ref("a@{1}", NULL, "at-brace");
  expect_ref("/a", NULL, "slash");
  expect_ref("a/", NULL, "slash");
  expect_ref("a//b", NULL, "slash");
  expect_ref(".a", NULL, "dot-component");
  expect_ref("a/.b", NULL, "dot-component");
  expect_ref("a.lock", NULL, "lock");
  expect_ref("a.lock/b", NULL, "lock");
  expect_ref("a.", NULL, "trailing-dot");
  expect_ref("a..b", NULL, "dotdot");
  expect_ref("a b", NULL, "forbidden-char");
  expect_ref("HEAD~1", NULL, "forbidden-char");
  expect_ref("a:b", NULL, "forbidden-char");
  expect_ref("a*", NULL, "forbidden-char");
  expect_ref("a[b", NULL, "forbidden-char");
  expect_ref("a\\b", NULL, "forbidden-char");
  expect_ref("a?b", NULL, "forbidden-char");
  expect_ref("a\tb", NULL, "control");
  expect_ref("a\x7f", NULL, "control");
  expect_ref("main", &multi, "onelevel");
  expect_ref("heads/main", &multi, NULL);
  /* The revision suffix, only when asked for. */
  expect_ref("HEAD~1", &suffix, NULL);
  expect_ref("HEAD~", &suffix, NULL);
  expect_ref("v1^2~3", &suffix, NULL);
  expect_ref("main^^", &suffix, NULL);
  expect_ref("HEAD~1x", &suffix, "suffix");
  expect_ref("~1", &suffix, "empty");
  expect_ref("HEAD~1234567890", &suffix, "suffix");
  expect_ref("a..b~1", &suffix, "dotdot");
  expect_ref("HEAD^{tree}", &suffix, "suffix");
  expect_ref("HEAD@{1}", &suffix, "at-brace");

  char big[CU_GIT_REF_MAX + 2];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  expect_ref(big, NULL, "length");
  cu_git_ref *r = NULL;
  assert_int_equal(cu_git_ref_new(NULL, NULL, &r), CU_EINVAL);
  assert_int_equal(cu_git_ref_new("a", NULL, NULL), CU_EINVAL);
  assert_int_equal(cu_git_ref_check(NULL, NULL, NULL), CU_EINVAL);
  assert_null(cu_git_ref_str(NULL));
  /* Escaped input in the message. */
  assert_int_equal(cu_git_ref_new("bad\x1b]0;x\x07", NULL, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "bad\\u001b]0;x\\u0007"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_safe_path_normalises),
    cmocka_unit_test(test_safe_path_rules),
    cmocka_unit_test(test_git_ref_rules),
};

CU_TEST_MAIN(tests)
