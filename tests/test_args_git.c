/* SPDX-License-Identifier: MIT */
/*
 * cu_git_ref against the real `git check-ref-format`, run through the
 * library, over a few thousand generated inputs (deterministic seeds) and
 * over the committed libFuzzer corpus (fuzz/corpus/git_ref).
 * ctest-labels: heavy
 */
#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/internal.h"
#include "cuprum/args.h"

/* --- differential: cu_git_ref_check against `git check-ref-format` --- */

static uint64_t rng_state;
static uint32_t rng(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}

/* Pieces the refname rules care about, plus plain letters. */
static const char *const pieces[] = {
    "a", "b", "main", "x", "0", "/", "/", ".", "..", ".lock", "lock", "@",
    "@{", "{", "}", "-", "_", "~", "^", ":", "?", "*", "[", "]", "\\", " ",
    "\t", "\x7f", "\x01", "\xc3\xa9", "\xff", "//", "./", "/.", "HEAD", "~1",
    "^2", "!", "#", ",", ";", "'", "\"", "=", "+", "%"};

static void gen(char *buf, size_t cap) {
  size_t n = 1 + rng() % 7, len = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n; i++) {
    const char *p = pieces[rng() % (sizeof pieces / sizeof pieces[0])];
    size_t pl = strlen(p);
    if (len + pl + 1 > cap)
      break;
    memcpy(buf + len, p, pl + 1);
    len += pl;
  }
}

/* Whether git accepts `ref` (exit 0); onelevel adds --allow-onelevel. */
static bool git_accepts(const char *ref, bool onelevel) {
  static const cu_env_var env[] = {{"GIT_CONFIG_NOSYSTEM", "1"},
                                   {"GIT_CONFIG_GLOBAL", "/dev/null"},
                                   {"HOME", "/nonexistent"},
                                   {"LC_ALL", "C"}};
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(NULL, CU_GIT, &cmd), 0);
  cu_cmd_arg(cmd, "check-ref-format");
  if (onelevel)
    cu_cmd_arg(cmd, "--allow-onelevel");
  cu_cmd_arg(cmd, ref);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.env = env;
  o.n_env = sizeof env / sizeof env[0];
  cu_result *res = NULL;
  int rc = cu_run(cmd, &o, &res);
  assert_non_null(res);
  if (rc < 0)
    fail_msg("git did not run: %s", cu_last_error());
  int code = res->exit_code;
  res = cu_result_free(res);
  cmd = cu_cmd_free(cmd);
  assert_true(code == 0 || code == 1 || code == 129);
  return code == 0;
}

static void differential(bool onelevel, uint64_t seed, int count) {
  const cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_default(&cat), 0);
  const char *path = NULL;
  if (cu_catalogue_lookup(cat, CU_GIT, NULL, &path) != 0) {
    print_message("git is not installed: %s\n", cu_last_error());
    skip();
  }
  const cu_git_ref_opts o = {.size = sizeof o, .require_multilevel = !onelevel};
  rng_state = seed;
  int accepted = 0, mismatches = 0;
  char buf[64];
  for (int i = 0; i < count; i++) {
    gen(buf, sizeof buf);
    const char *rule = NULL;
    bool ours = cu_git_ref_check(buf, &o, &rule) == 0;
    bool git = git_accepts(buf, onelevel);
    accepted += git;
    /* The one documented difference: a leading '-' (git reads it as an
     * option and fails with usage, 129; we refuse it as "dash"). */
    if (ours != git) {
      mismatches++;
      print_message("mismatch on \"%s\": ours %s (%s), git %s\n", buf,
                    ours ? "accepts" : "refuses", rule ? rule : "-",
                    git ? "accepts" : "refuses");
    }
  }
  print_message("%d inputs, git accepted %d\n", count, accepted);
  assert_int_equal(mismatches, 0);
  /* The generator must exercise both sides. */
  assert_true(accepted > count / 100);
  assert_true(accepted < count - count / 100);
}

static void test_git_ref_differential_onelevel(void **state) {
  (void)state;
  differential(true, 0x5eed0011u, 2000);
}

static void test_git_ref_differential_multilevel(void **state) {
  (void)state;
  differential(false, 0x5eed0022u, 1000);
}

/* The fuzz corpus: byte 0 holds the options (bit 0 = require_multilevel;
 * bit 1, the suffix, is left out: git has no such option), the rest up to
 * a NUL is the ref, as in fuzz/fuzz_git_ref.c. */
static void test_git_ref_differential_fuzz_corpus(void **state) {
  (void)state;
  const cu_catalogue *cat = NULL;
  const char *path = NULL;
  assert_int_equal(cu_catalogue_default(&cat), 0);
  if (cu_catalogue_lookup(cat, CU_GIT, NULL, &path) != 0) {
    print_message("git is not installed: %s\n", cu_last_error());
    skip();
  }
  const char *dir = CU_TEST_SOURCE_DIR "/fuzz/corpus/git_ref";
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0, mismatches = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    char *file = cu__asprintf("%s/%s", dir, e->d_name);
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    free(file);
    assert_true(fd >= 0);
    char buf[CU_GIT_REF_MAX + 64];
    ssize_t len = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (len < 1)
      continue;
    buf[len] = '\0';
    const cu_git_ref_opts o = {.size = sizeof o,
                               .require_multilevel = buf[0] & 1};
    const char *ref = buf + 1;
    bool ours = cu_git_ref_check(ref, &o, NULL) == 0;
    bool git = git_accepts(ref, !(buf[0] & 1));
    if (ours != git) {
      mismatches++;
      print_message("mismatch on %s: ours %d git %d\n", e->d_name, ours, git);
    }
    n++;
  }
  closedir(d);
  print_message("%d corpus inputs compared\n", n);
  assert_true(n >= 10);
  assert_int_equal(mismatches, 0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_git_ref_differential_onelevel),
    cmocka_unit_test(test_git_ref_differential_multilevel),
    cmocka_unit_test(test_git_ref_differential_fuzz_corpus),
};

CU_TEST_MAIN(tests)
