/* SPDX-License-Identifier: MIT */
/* The catalogue: projects, conflicts, lookup, resolution, noise rules, the
 * default catalogue, cloning and widening. ctest-labels: threads */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include "harness.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ------------------------------------------------------------ fixtures */

static cu_catalogue *new_catalogue(void) {
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  assert_non_null(cat);
  return cat;
}

/* Add a project owning the given programs (all PATH-resolved). */
static int add(cu_catalogue *cat, const char *project, const char *p1,
               const char *p2) {
  cu_program_entry pe[2] = {{.program = CU_PROGRAM(p1)},
                            {.program = CU_PROGRAM(p2)}};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = project,
                          .programs = pe,
                          .n_programs = p2 ? 2 : (p1 ? 1 : 0)};
  return cu_catalogue_add_project(cat, &spec);
}

static void assert_error_mentions(const char *needle) {
  if (!strstr(cu_last_error(), needle))
    fail_msg("last error '%s' does not mention '%s'", cu_last_error(),
             needle);
}

/* A fresh directory under TMPDIR; the caller removes it. */
static char *make_dir(void) {
  char tmpl[] = "/tmp/cu-test-cat-XXXXXX";
  char *dir = mkdtemp(tmpl);
  assert_non_null(dir);
  return strdup(dir);
}

/* Create dir/name with `mode`; returns the malloc'd path. */
static char *make_file(const char *dir, const char *name, mode_t mode) {
  char *path = NULL;
  assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "#!/bin/true\n", 12), 12);
  close(fd);
  assert_int_equal(chmod(path, mode), 0);
  return path;
}

/* ------------------------------------------------------------ building */

static void test_new_and_null_arguments(void **state) {
  (void)state;
  assert_int_equal(cu_catalogue_new(NULL), CU_EINVAL);
  cu_catalogue_unref(NULL);
  assert_int_equal(cu_catalogue_count(NULL), 0);
  assert_false(cu_catalogue_contains(NULL, CU_ECHO));
  assert_null(cu_catalogue_project(NULL, "core-ops"));
  assert_int_equal(cu_catalogue_add_project(NULL, NULL), CU_EINVAL);
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(cu_catalogue_add_project(cat, NULL), CU_EINVAL);
  assert_int_equal(cu_catalogue_count(cat), 0);
  assert_int_equal(cu_catalogue_lookup(cat, CU_PROGRAM(NULL), NULL, NULL),
                   CU_EINVAL);
  cu_catalogue_unref(cat);
}

static void test_project_needs_name(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, NULL, "ls", NULL), CU_EINVAL);
  assert_int_equal(add(cat, "", "ls", NULL), CU_EINVAL);
  cu_project_spec spec = {
      .size = sizeof(cu_project_spec), .name = "x", .n_programs = 1};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EINVAL);
  assert_int_equal(cu_catalogue_count(cat), 0);
  cu_catalogue_unref(cat);
}

static void test_duplicate_project(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "tools", "ls", NULL), 0);
  assert_int_equal(add(cat, "tools", "cat", NULL), CU_EDUPLICATE_PROJECT);
  assert_error_mentions("'tools'");
  assert_false(cu_catalogue_contains(cat, CU_CAT));
  assert_int_equal(cu_catalogue_count(cat), 1);
  cu_catalogue_unref(cat);
}

static void test_program_owned_by_two_projects(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "one", "ls", NULL), 0);
  assert_int_equal(add(cat, "two", "cat", "ls"), CU_EPROGRAM_CONFLICT);
  assert_error_mentions("'ls'");
  assert_error_mentions("'one'");
  /* All or nothing: neither the project nor its first program was added. */
  assert_null(cu_catalogue_project(cat, "two"));
  assert_false(cu_catalogue_contains(cat, CU_CAT));
  assert_int_equal(cu_catalogue_count(cat), 1);
  cu_catalogue_unref(cat);
}

static void test_program_listed_twice(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "one", "ls", "ls"), CU_EPROGRAM_CONFLICT);
  assert_error_mentions("twice");
  assert_int_equal(cu_catalogue_count(cat), 0);
  cu_catalogue_unref(cat);
}

static void test_invalid_program_names(void **state) {
  (void)state;
  static const char *const bad[] = {"", "a/b", "/bin/ls", "a b",
                                    "a\tb", "a\nb", "a\x7f", "\x01x"};
  cu_catalogue *cat = new_catalogue();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(add(cat, "p", bad[i], NULL), CU_EINVAL);
  assert_int_equal(add(cat, "p", NULL, NULL), 0); /* empty project is fine */
  cu_program_entry pe = {.program = CU_PROGRAM(NULL)};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "q",
                          .programs = &pe,
                          .n_programs = 1};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EINVAL);
  assert_int_equal(cu_catalogue_count(cat), 0);
  cu_catalogue_unref(cat);
}

static void test_relative_pin_rejected(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  cu_program_entry pe = {.program = CU_PROGRAM("tool"), .path = "bin/tool"};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "p",
                          .programs = &pe,
                          .n_programs = 1};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EINVAL);
  assert_error_mentions("bin/tool");
  assert_false(cu_catalogue_contains(cat, CU_PROGRAM("tool")));
  cu_catalogue_unref(cat);
}

/* ------------------------------------------------------------ lookup */

static void test_unknown_program_is_named(void **state) {
  (void)state;
  const cu_catalogue *def = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  const cu_project *project = (const cu_project *)1;
  const char *path = "untouched";
  assert_int_equal(cu_catalogue_lookup(def, CU_PROGRAM("no-such-tool-xyz"),
                                       &project, &path),
                   CU_EUNKNOWN_PROGRAM);
  assert_error_mentions("'no-such-tool-xyz'");
  assert_ptr_equal(project, (const cu_project *)1); /* outputs untouched */
  assert_string_equal(path, "untouched");
}

static void test_pinned_missing_path(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  cu_program_entry pe = {.program = CU_PROGRAM("ghost"),
                         .path = "/nonexistent/cuprum/ghost"};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "p",
                          .programs = &pe,
                          .n_programs = 1};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  assert_true(cu_catalogue_contains(cat, CU_PROGRAM("ghost")));
  assert_int_equal(cu_catalogue_lookup(cat, CU_PROGRAM("ghost"), NULL, NULL),
                   CU_ENOTFOUND);
  assert_error_mentions("'ghost'");
  assert_error_mentions("/nonexistent/cuprum/ghost");
  /* The cached failure replays the same message after another error. */
  assert_int_equal(cu_catalogue_new(NULL), CU_EINVAL);
  assert_int_equal(cu_catalogue_lookup(cat, CU_PROGRAM("ghost"), NULL, NULL),
                   CU_ENOTFOUND);
  assert_error_mentions("/nonexistent/cuprum/ghost");
  cu_catalogue_entry e;
  assert_int_equal(cu_catalogue_entry_at(cat, 0, &e), 0);
  assert_string_equal(e.program, "ghost");
  assert_string_equal(e.project, "p");
  assert_null(e.path);
  assert_int_equal(e.resolve_error, CU_ENOTFOUND);
  cu_catalogue_unref(cat);
}

static void test_pinned_path_used_as_given(void **state) {
  (void)state;
  char *dir = make_dir();
  /* Not executable: whether it runs is the spawn's decision (EACCES). */
  char *plain = make_file(dir, "plain", 0644);
  cu_catalogue *cat = new_catalogue();
  cu_program_entry pe[] = {{.program = CU_PROGRAM("helper"),
                            .path = cut_helper("exitcode")},
                           {.program = CU_PROGRAM("plain"), .path = plain}};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "p",
                          .programs = pe,
                          .n_programs = 2};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  const cu_project *project = NULL;
  const char *path = NULL;
  assert_int_equal(cu_catalogue_lookup(cat, CU_PROGRAM("helper"), &project,
                                       &path), 0);
  assert_string_equal(path, cut_helper("exitcode"));
  assert_string_equal(cu_project_name(project), "p");
  assert_int_equal(cu_catalogue_lookup(cat, CU_PROGRAM("plain"), NULL, &path),
                   0);
  assert_string_equal(path, plain);
  cu_catalogue_unref(cat);
  unlink(plain);
  rmdir(dir);
  free(plain);
  free(dir);
}

/* PATH = relative entries around an absolute one; the working directory
 * holds a decoy of the same name that must never be chosen. */
static void test_path_search_ignores_relative_entries(void **state) {
  (void)state;
  char *good = make_dir(), *cwd_dir = make_dir(), *skip = make_dir();
  char *real = make_file(good, "cu-fake-tool", 0755);
  char *decoy = make_file(cwd_dir, "cu-fake-tool", 0755);
  char *noexec = make_file(skip, "cu-fake-tool", 0644);
  char *bin_decoy_dir = NULL;
  assert_true(asprintf(&bin_decoy_dir, "%s/bin", cwd_dir) > 0);
  assert_int_equal(mkdir(bin_decoy_dir, 0755), 0);
  char *bin_decoy = make_file(bin_decoy_dir, "cu-fake-tool", 0755);
  char old_cwd[PATH_MAX];
  assert_non_null(getcwd(old_cwd, sizeof old_cwd));
  char *old_path = strdup(getenv("PATH") ? getenv("PATH") : "");
  assert_int_equal(chdir(cwd_dir), 0);

  char *path_env = NULL;
  assert_true(asprintf(&path_env, ".::bin:%s:%s", skip, good) > 0);
  setenv("PATH", path_env, 1);
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "p", "cu-fake-tool", NULL), 0);
  const char *found = NULL;
  int rc = cu_catalogue_lookup(cat, CU_PROGRAM("cu-fake-tool"), NULL, &found);

  /* Only relative entries: the decoys exist but are never found. */
  setenv("PATH", ".::bin", 1);
  cu_catalogue *cat2 = new_catalogue();
  assert_int_equal(add(cat2, "p", "cu-fake-tool", NULL), 0);
  int rc2 = cu_catalogue_lookup(cat2, CU_PROGRAM("cu-fake-tool"), NULL, NULL);

  setenv("PATH", old_path, 1);
  assert_int_equal(chdir(old_cwd), 0);
  assert_int_equal(rc, 0);
  assert_string_equal(found, real);
  assert_int_equal(rc2, CU_ENOTFOUND);
  cu_catalogue_unref(cat);
  cu_catalogue_unref(cat2);
  for (char **p = (char *[]){real, decoy, noexec, bin_decoy, NULL}; *p; p++)
    unlink(*p), free(*p);
  for (char **p = (char *[]){bin_decoy_dir, good, cwd_dir, skip, NULL}; *p;
       p++)
    rmdir(*p), free(*p);
  free(path_env);
  free(old_path);
}

static void test_directory_is_not_a_program(void **state) {
  (void)state;
  char *dir = make_dir();
  char *sub = NULL;
  assert_true(asprintf(&sub, "%s/cu-dir-tool", dir) > 0);
  assert_int_equal(mkdir(sub, 0755), 0);
  char *old_path = strdup(getenv("PATH"));
  setenv("PATH", dir, 1);
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "p", "cu-dir-tool", NULL), 0);
  int rc = cu_catalogue_lookup(cat, CU_PROGRAM("cu-dir-tool"), NULL, NULL);
  setenv("PATH", old_path, 1);
  assert_int_equal(rc, CU_ENOTFOUND);
  assert_error_mentions("'cu-dir-tool'");
  cu_catalogue_unref(cat);
  rmdir(sub);
  rmdir(dir);
  free(sub);
  free(dir);
  free(old_path);
}

/* Resolution happens once: a later PATH change does not move a program. */
static void test_resolution_is_cached(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "p", "ls", NULL), 0);
  const char *first = NULL, *second = NULL;
  assert_int_equal(cu_catalogue_lookup(cat, CU_LS, NULL, &first), 0);
  assert_true(first[0] == '/');
  char *old_path = strdup(getenv("PATH"));
  setenv("PATH", "/nonexistent", 1);
  int rc = cu_catalogue_lookup(cat, CU_LS, NULL, &second);
  setenv("PATH", old_path, 1);
  free(old_path);
  assert_int_equal(rc, 0);
  assert_ptr_equal(first, second);
  cu_catalogue_unref(cat);
}

struct race {
  const cu_catalogue *cat;
  pthread_barrier_t *barrier;
  const char *paths[3];
  int rc;
};

static void *race_lookup(void *arg) {
  struct race *r = arg;
  static const char *const names[] = {"ls", "cat", "echo"};
  pthread_barrier_wait(r->barrier);
  for (size_t i = 0; i < 3; i++)
    r->rc |= cu_catalogue_lookup(r->cat, CU_PROGRAM(names[i]), NULL,
                                 &r->paths[i]);
  return NULL;
}

static void test_concurrent_resolution_threads(void **state) {
  (void)state;
  enum { N = 8 };
  cu_catalogue *cat = new_catalogue();
  cu_program_entry pe[] = {{.program = CU_LS}, {.program = CU_CAT},
                           {.program = CU_ECHO}};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "p",
                          .programs = pe,
                          .n_programs = 3};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, N);
  pthread_t tid[N];
  struct race r[N];
  for (int i = 0; i < N; i++) {
    r[i] = (struct race){.cat = cat, .barrier = &barrier};
    assert_int_equal(pthread_create(&tid[i], NULL, race_lookup, &r[i]), 0);
  }
  for (int i = 0; i < N; i++)
    pthread_join(tid[i], NULL);
  pthread_barrier_destroy(&barrier);
  /* Every thread got the same stored string: one resolution per entry. */
  for (int i = 0; i < N; i++) {
    assert_int_equal(r[i].rc, 0);
    for (int k = 0; k < 3; k++)
      assert_ptr_equal(r[i].paths[k], r[0].paths[k]);
  }
  cu_catalogue_unref(cat);
}

static void test_entry_at(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "a", "ls", "cat"), 0);
  assert_int_equal(add(cat, "b", "echo", NULL), 0);
  assert_int_equal(cu_catalogue_count(cat), 3);
  static const char *const want[][2] = {
      {"ls", "a"}, {"cat", "a"}, {"echo", "b"}};
  for (size_t i = 0; i < 3; i++) {
    cu_catalogue_entry e;
    assert_int_equal(cu_catalogue_entry_at(cat, i, &e), 0);
    assert_string_equal(e.program, want[i][0]);
    assert_string_equal(e.project, want[i][1]);
    assert_non_null(e.path);
    assert_true(e.path[0] == '/');
    assert_int_equal(e.resolve_error, 0);
  }
  cu_catalogue_entry e;
  assert_int_equal(cu_catalogue_entry_at(cat, 3, &e), CU_EINVAL);
  assert_int_equal(cu_catalogue_entry_at(cat, 0, NULL), CU_EINVAL);
  cu_catalogue_unref(cat);
}

/* ------------------------------------------------------------ noise */

static void test_noise_rules(void **state) {
  (void)state;
  static const char *const rules[] = {"^hint: ", "^warning: [0-9]+ files?$"};
  static const char *const docs[] = {"https://example.org/doc", "man:x(1)"};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "p",
                          .docs = docs,
                          .n_docs = 2,
                          .noise_rules = rules,
                          .n_noise_rules = 2};
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  const cu_project *p = cu_catalogue_project(cat, "p");
  assert_non_null(p);
  assert_int_equal(cu_project_noise_count(p), 2);
  assert_string_equal(cu_project_noise_rule(p, 1), rules[1]);
  assert_null(cu_project_noise_rule(p, 2));
  assert_int_equal(cu_project_docs_count(p), 2);
  assert_string_equal(cu_project_doc(p, 0), docs[0]);
  assert_null(cu_project_doc(p, 2));
  assert_true(cu_project_is_noise(p, "hint: use git add", 17));
  assert_false(cu_project_is_noise(p, "a hint: no", 10));
  assert_true(cu_project_is_noise(p, "warning: 3 files", 16));
  /* Only `len` bytes count: the same buffer cut short no longer matches,
   * and bytes past `len` cannot make a line match. */
  assert_false(cu_project_is_noise(p, "warning: 3 files", 12));
  assert_true(cu_project_is_noise(p, "warning: 1 file and more", 15));
  assert_false(cu_project_is_noise(p, "", 0));
  assert_false(cu_project_is_noise(NULL, "hint: x", 7));
  assert_false(cu_project_is_noise(p, NULL, 3));
  assert_int_equal(cu_project_noise_count(NULL), 0);
  assert_null(cu_project_name(NULL));
  cu_catalogue_unref(cat);
}

static void test_bad_noise_rule(void **state) {
  (void)state;
  static const char *const rules[] = {"^ok$", "(unclosed"};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "p",
                          .noise_rules = rules,
                          .n_noise_rules = 2};
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EINVAL);
  assert_error_mentions("'(unclosed'");
  assert_error_mentions("'p'");
  assert_null(cu_catalogue_project(cat, "p"));
  cu_catalogue_unref(cat);
}

/* Rules whose compiled form would be huge are refused before regcomp:
 * glibc copies each repeated part per bound, and fuzz_catalogue_file found
 * a rule of 66 '+' that took 2 GB. Ordinary rules, bounds included, pass. */
static void test_noise_rule_size_bounded(void **state) {
  (void)state;
  char plus[80] = "x";
  memset(plus + 1, '+', 66);
  char long_rule[1100];
  memset(long_rule, 'a', sizeof long_rule - 1);
  long_rule[sizeof long_rule - 1] = '\0';
  const struct {
    const char *rule, *why;
  } bad[] = {
      {plus, "repeats a repetition"},
      {"a*{2}", "repeats a repetition"},
      {"((a{255}){255}){255}", "too large"},
      {"(((((((((((((((((((((((((((((((((a)))))))))))))))))))))))))))))))))",
       "nested too deep"},
      {long_rule, "longer than 1024"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    const char *rules[] = {bad[i].rule};
    cu_project_spec spec = {.size = sizeof(cu_project_spec), .name = "p",
                            .noise_rules = rules, .n_noise_rules = 1};
    cu_catalogue *cat = new_catalogue();
    assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EINVAL);
    assert_error_mentions(bad[i].why);
    assert_null(cu_catalogue_project(cat, "p"));
    cu_catalogue_unref(cat);
  }
  static const char *const good[] = {
      "^warning: [0-9]+ files?$", "(ab){3}", "^x{2,5}[]a-z[:digit:]]+$",
      "a{1000}", "(a|b)*c\\+", "^[^:]+: [0-9]{1,4} (ms|s)$"};
  cu_project_spec spec = {.size = sizeof(cu_project_spec), .name = "p",
                          .noise_rules = good,
                          .n_noise_rules = sizeof good / sizeof *good};
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  const cu_project *p = cu_catalogue_project(cat, "p");
  assert_true(cu_project_is_noise(p, "xx]9q", 5));
  assert_true(cu_project_is_noise(p, "ab: 12 ms", 9));
  cu_catalogue_unref(cat);
}

/* ------------------------------------------------------------ default */

static void test_default_excludes_runners(void **state) {
  (void)state;
  static const char *const runners[] = {
      "sh",    "bash",   "dash",  "zsh",    "env",     "xargs",  "sudo",
      "su",    "doas",   "nice",  "nohup",  "timeout", "stdbuf", "time",
      "watch", "setsid", "chroot", "busybox", "find",  "sed",    "awk",
      "gawk",  "perl",   "python3", "sort",  "split",  "install", "ssh",
      "make",  "runcon", "flock", "script", "strace", "ionice", "taskset"};
  const cu_catalogue *def = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  for (size_t i = 0; i < sizeof runners / sizeof runners[0]; i++)
    if (cu_catalogue_contains(def, CU_PROGRAM(runners[i])))
      fail_msg("the default catalogue allows the runner '%s'", runners[i]);
}

static void test_default_contents(void **state) {
  (void)state;
  const cu_catalogue *def = NULL, *again = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  assert_int_equal(cu_catalogue_default(&again), 0);
  assert_ptr_equal(def, again);
  assert_int_equal(cu_catalogue_default(NULL), CU_EINVAL);
  const cu_project *core = cu_catalogue_project(def, CU_PROJECT_CORE_OPS);
  assert_non_null(core);
  assert_true(cu_project_docs_count(core) > 0);
  assert_true(cu_project_noise_count(core) > 0);
  cu_program everyday[] = {CU_ECHO, CU_CAT, CU_LS, CU_TRUE, CU_FALSE,
                           CU_HEAD, CU_WC, CU_GREP, CU_SLEEP, CU_PRINTF};
  for (size_t i = 0; i < sizeof everyday / sizeof everyday[0]; i++) {
    const cu_project *p = NULL;
    const char *path = NULL;
    if (cu_catalogue_lookup(def, everyday[i], &p, &path) != 0)
      fail_msg("%s: %s", everyday[i].name, cu_last_error());
    assert_ptr_equal(p, core);
    assert_true(path[0] == '/');
  }
  static const char *const owners[][2] = {
      {"git", "vcs"}, {"tar", "archive"}, {"gzip", "archive"},
      {"rsync", "sync"}};
  for (size_t i = 0; i < 4; i++) {
    assert_true(cu_catalogue_contains(def, CU_PROGRAM(owners[i][0])));
    cu_catalogue_entry e;
    for (size_t k = 0; k < cu_catalogue_count(def); k++) {
      assert_int_equal(cu_catalogue_entry_at(def, k, &e), 0);
      if (strcmp(e.program, owners[i][0]) == 0)
        assert_string_equal(e.project, owners[i][1]);
    }
  }
  const cu_project *vcs = cu_catalogue_project(def, "vcs");
  assert_true(cu_project_is_noise(vcs, "hint: Using 'master'", 20));
  assert_false(cu_project_is_noise(vcs, "commit abc", 10));
  /* The built-in rules are compiled on first use, not checked when the
   * catalogue is built: check every one here, as a caller's would be. */
  static const char *const projects[] = {CU_PROJECT_CORE_OPS, "vcs",
                                         "archive", "sync"};
  for (size_t i = 0; i < sizeof projects / sizeof projects[0]; i++) {
    const cu_project *p = cu_catalogue_project(def, projects[i]);
    assert_non_null(p);
    for (size_t k = 0; k < cu_project_noise_count(p); k++) {
      regex_t re;
      assert_int_equal(regcomp(&re, cu_project_noise_rule(p, k),
                               REG_EXTENDED | REG_NOSUB),
                       0);
      regfree(&re);
    }
  }
  /* A clone's rules (compiled lazily too) classify the same lines. */
  cu_catalogue *copy = NULL;
  assert_int_equal(cu_catalogue_clone(def, &copy), 0);
  const cu_project *cvcs = cu_catalogue_project(copy, "vcs");
  assert_true(cu_project_is_noise(cvcs, "hint: Using 'master'", 20));
  assert_false(cu_project_is_noise(cvcs, "commit abc", 10));
  copy = cu_catalogue_unref(copy);
}

static void test_default_is_immutable(void **state) {
  (void)state;
  const cu_catalogue *def = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  size_t n = cu_catalogue_count(def);
  cu_catalogue *writable = (cu_catalogue *)def; /* what a careless caller does */
  assert_int_equal(add(writable, "mine", "cu-x", NULL), CU_EINVAL);
  assert_error_mentions("clone");
  assert_int_equal(cu_catalogue_allow(writable, CU_PROGRAM("bash"), NULL),
                   CU_EINVAL);
  cu_catalogue_unref(writable); /* ignored */
  cu_catalogue_unref(writable);
  assert_int_equal(cu_catalogue_count(def), n);
  assert_false(cu_catalogue_contains(def, CU_PROGRAM("bash")));
  assert_int_equal(cu_catalogue_lookup(def, CU_ECHO, NULL, NULL), 0);
}

static void test_clone_and_extend(void **state) {
  (void)state;
  const cu_catalogue *def = NULL;
  assert_int_equal(cu_catalogue_default(&def), 0);
  cu_catalogue *mine = NULL;
  assert_int_equal(cu_catalogue_clone(def, &mine), 0);
  assert_int_equal(cu_catalogue_count(mine), cu_catalogue_count(def));
  assert_int_equal(add(mine, "extra", "cu-extra-tool", NULL), 0);
  assert_int_equal(add(mine, CU_PROJECT_CORE_OPS, "x", NULL),
                   CU_EDUPLICATE_PROJECT);
  assert_int_equal(add(mine, "again", "ls", NULL), CU_EPROGRAM_CONFLICT);
  assert_true(cu_catalogue_contains(mine, CU_PROGRAM("cu-extra-tool")));
  assert_false(cu_catalogue_contains(def, CU_PROGRAM("cu-extra-tool")));
  assert_int_equal(cu_catalogue_count(mine), cu_catalogue_count(def) + 1);
  /* Projects came across with their docs and noise rules. */
  const cu_project *a = cu_catalogue_project(def, "vcs");
  const cu_project *b = cu_catalogue_project(mine, "vcs");
  assert_ptr_not_equal(a, b);
  assert_int_equal(cu_project_docs_count(a), cu_project_docs_count(b));
  assert_int_equal(cu_project_noise_count(a), cu_project_noise_count(b));
  assert_true(cu_project_is_noise(b, "hint: x", 7));
  cu_catalogue *copy = NULL;
  assert_int_equal(cu_catalogue_clone(mine, &copy), 0);
  assert_true(cu_catalogue_contains(copy, CU_PROGRAM("cu-extra-tool")));
  assert_int_equal(cu_catalogue_clone(NULL, &copy), CU_EINVAL);
  cu_catalogue_unref(mine);
  cu_catalogue_unref(copy);
}

static void test_allow(void **state) {
  (void)state;
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(add(cat, "p", "ls", NULL), 0);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM("cat"), NULL), 0);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM("echo"),
                                      cut_helper("echoer")), 0);
  const cu_project *p = NULL;
  const char *path = NULL;
  assert_int_equal(cu_catalogue_lookup(cat, CU_ECHO, &p, &path), 0);
  assert_string_equal(cu_project_name(p), "allowed");
  assert_string_equal(path, cut_helper("echoer"));
  assert_ptr_equal(cu_catalogue_project(cat, "allowed"), p);
  /* Allowing again the same way changes nothing. */
  size_t n = cu_catalogue_count(cat);
  assert_int_equal(cu_catalogue_allow(cat, CU_LS, NULL), 0);
  assert_int_equal(cu_catalogue_allow(cat, CU_ECHO, cut_helper("echoer")), 0);
  assert_int_equal(cu_catalogue_count(cat), n);
  /* A different pin is a conflict; bad names and pins are rejected. */
  assert_int_equal(cu_catalogue_allow(cat, CU_LS, "/bin/ls"),
                   CU_EPROGRAM_CONFLICT);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM("a/b"), NULL),
                   CU_EINVAL);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM("x"), "rel/x"),
                   CU_EINVAL);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM(NULL), NULL),
                   CU_EINVAL);
  assert_int_equal(cu_catalogue_allow(NULL, CU_LS, NULL), CU_EINVAL);
  assert_int_equal(cu_catalogue_count(cat), n);
  cu_catalogue_unref(cat);
}

/* ------------------------------------------------------------ lifetime */

static void test_command_keeps_catalogue_alive(void **state) {
  (void)state;
  static const char *const docs[] = {"man:tool(1)"};
  cu_program_entry pe = {.program = CU_PROGRAM("tool"),
                         .path = cut_helper("exitcode")};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "kept",
                          .programs = &pe,
                          .n_programs = 1,
                          .docs = docs,
                          .n_docs = 1};
  cu_catalogue *cat = new_catalogue();
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(cat, CU_PROGRAM("tool"), &cmd), 0);
  cu_catalogue_unref(cat);
  /* Still valid (ASan reports a use after free otherwise). */
  assert_string_equal(cu_project_name(cu_cmd_project(cmd)), "kept");
  assert_string_equal(cu_project_doc(cu_cmd_project(cmd), 0), "man:tool(1)");
  assert_null(cu_cmd_free(cmd));
}

static void test_harness_catalogue(void **state) {
  (void)state;
  const cu_catalogue *cat = cut_catalogue();
  assert_ptr_equal(cat, cut_catalogue());
  const cu_project *p = NULL;
  const char *path = NULL;
  assert_int_equal(cu_catalogue_lookup(cat, CU_PROGRAM("argvdump"), &p, &path),
                   0);
  assert_string_equal(cu_project_name(p), "test-helpers");
  assert_string_equal(path, cut_helper("argvdump"));
  assert_true(cu_catalogue_contains(cat, CU_ECHO)); /* default kept */
  cu_cmd *cmd = cut_cmd("argvdump", "a", "b c", NULL);
  assert_int_equal(cu_cmd_argv_count(cmd), 3);
  assert_string_equal(cu_cmd_argv(cmd)[0], "argvdump");
  assert_string_equal(cu_cmd_argv(cmd)[2], "b c");
  assert_string_equal(cu_cmd_path(cmd), cut_helper("argvdump"));
  cu_cmd_free(cmd);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_new_and_null_arguments),
    cmocka_unit_test(test_project_needs_name),
    cmocka_unit_test(test_duplicate_project),
    cmocka_unit_test(test_program_owned_by_two_projects),
    cmocka_unit_test(test_program_listed_twice),
    cmocka_unit_test(test_invalid_program_names),
    cmocka_unit_test(test_relative_pin_rejected),
    cmocka_unit_test(test_unknown_program_is_named),
    cmocka_unit_test(test_pinned_missing_path),
    cmocka_unit_test(test_pinned_path_used_as_given),
    cmocka_unit_test(test_path_search_ignores_relative_entries),
    cmocka_unit_test(test_directory_is_not_a_program),
    cmocka_unit_test(test_resolution_is_cached),
    cmocka_unit_test(test_concurrent_resolution_threads),
    cmocka_unit_test(test_entry_at),
    cmocka_unit_test(test_noise_rules),
    cmocka_unit_test(test_bad_noise_rule),
    cmocka_unit_test(test_noise_rule_size_bounded),
    cmocka_unit_test(test_default_excludes_runners),
    cmocka_unit_test(test_default_contents),
    cmocka_unit_test(test_default_is_immutable),
    cmocka_unit_test(test_clone_and_extend),
    cmocka_unit_test(test_allow),
    cmocka_unit_test(test_command_keeps_catalogue_alive),
    cmocka_unit_test(test_harness_catalogue),
};

CU_TEST_MAIN(tests)
