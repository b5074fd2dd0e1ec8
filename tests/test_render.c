/* SPDX-License-Identifier: MIT */
/* cu_cmd_render(): the line pastes back into a real POSIX shell as the same
 * argv (first word included), and prints no raw control character. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ARGS 300

typedef struct fixture {
  char dir[64];
  char path_env[4096];
  char *old_path;
} fixture;

/* A directory of programs named as the first words under test, each a
 * link to argvdump, put first on PATH: the shell finds them by name. */
static void fixture_init(fixture *f) {
  snprintf(f->dir, sizeof f->dir, "/tmp/cu-render-XXXXXX");
  assert_non_null(mkdtemp(f->dir));
  const char *old = getenv("PATH");
  f->old_path = old ? strdup(old) : NULL;
  snprintf(f->path_env, sizeof f->path_env, "%s:/usr/bin:/bin", f->dir);
  setenv("PATH", f->path_env, 1);
}

static void fixture_free(fixture *f) {
  if (f->old_path)
    setenv("PATH", f->old_path, 1);
  free(f->old_path);
}

static void add_program(fixture *f, const char *name) {
  char link[512];
  snprintf(link, sizeof link, "%s/%s", f->dir, name);
  unlink(link);
  assert_int_equal(symlink(cut_helper("argvdump"), link), 0);
}

static bool clean_line(const char *line) {
  for (const unsigned char *p = (const unsigned char *)line; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return false;
  return true;
}

/* One case: an argv, its rendered line and what a shell printed back. */
typedef struct rcase {
  char *argv[MAX_ARGS + 1];
  size_t argc;
  char *line;
} rcase;

static void case_render(rcase *c) {
  cu_cmd *cmd = NULL;
  int rc = cu_unsafe_cmd_from_argv((const char *const *)c->argv, &cmd);
  if (rc != 0)
    fail_msg("building %s: %s", c->argv[0], cu_last_error());
  assert_int_equal(cu_cmd_render(cmd, &c->line), 0);
  cu_cmd_free(cmd);
  if (!clean_line(c->line))
    fail_msg("rendered line holds a raw control character: %s", c->line);
}

/* Check argvdump's output for one case; returns where the next begins. */
static const char *check_dump(const rcase *c, const char *p, const char *end) {
  unsigned argc = 0;
  int used = 0;
  if (sscanf(p, "argc %u\n%n", &argc, &used) != 1 || used == 0)
    fail_msg("no argv dump for: %s", c->line);
  p += used;
  if (argc != c->argc)
    fail_msg("argc %u, want %zu, for: %s", argc, c->argc, c->line);
  for (size_t i = 0; i < c->argc; i++) {
    char *colon = NULL;
    unsigned long len = strtoul(p, &colon, 10);
    assert_true(colon < end && *colon == ':');
    p = colon + 1;
    if (len != strlen(c->argv[i]) || memcmp(p, c->argv[i], len) != 0)
      fail_msg("argv[%zu] differs after the shell, for: %s", i, c->line);
    p += len;
    assert_true(p < end && *p == '\n');
    p++;
  }
  return p;
}

/* Feed every line to `shell` as one script; compare what it ran. */
/* bash reads a first word that begins with '%' as a job ("%1" = "fg %1"),
 * quoted or not: no rendering can run such a program from bash. */
static bool skipped(const rcase *c, bool dash) {
  return dash ? strstr(c->line, "$'") != NULL : c->argv[0][0] == '%';
}

static void round_trip(const char *const *shell, rcase *cases, size_t n,
                       bool dash) {
  char script[128];
  snprintf(script, sizeof script, "/tmp/cu-render-script-XXXXXX");
  int fd = mkstemp(script);
  assert_true(fd >= 0);
  FILE *f = fdopen(fd, "w");
  size_t ran = 0;
  for (size_t i = 0; i < n; i++) {
    if (skipped(&cases[i], dash))
      continue;
    fprintf(f, "%s\n", cases[i].line);
    ran++;
  }
  fclose(f);
  const char *argv[8];
  size_t k = 0;
  for (; shell[k]; k++)
    argv[k] = shell[k];
  argv[k++] = script;
  argv[k] = NULL;
  cu_cmd *sh = NULL;
  assert_int_equal(cu_unsafe_cmd_from_argv(argv, &sh), 0);
  cu_result *r = NULL;
  assert_int_equal(cu_run(sh,
                          &(cu_run_opts){.size = sizeof(cu_run_opts),
                                         .in = {.mode = CU_STDIN_NULL}},
                          &r),
                   0);
  if (!r->ok)
    fail_msg("%s exited %d: %s", shell[0], r->exit_code, r->err.data);
  const char *p = r->out.data, *end = r->out.data + r->out.len;
  for (size_t i = 0; i < n; i++) {
    if (skipped(&cases[i], dash))
      continue;
    p = check_dump(&cases[i], p, end);
  }
  assert_true(p == end);
  assert_true(ran > 0);
  r = cu_result_free(r);
  cu_cmd_free(sh);
  unlink(script);
}

/* Names a shell runs as a builtin whatever PATH holds: not for first words
 * (a generated name of one byte could be one of the first three). */
static bool builtin_name(const char *w) {
  static const char *const b[] = {".", ":", "[", "cd", "echo", "eval",
                                  "exec", "exit", "set", "test", "true",
                                  "false", "pwd", "read", "type", "kill"};
  for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
    if (strcmp(w, b[i]) == 0)
      return true;
  return false;
}

static char *random_word(unsigned *seed, size_t max_len, bool name) {
  size_t len = (size_t)rand_r(seed) % (max_len + 1);
  if (name && len == 0)
    len = 1;
  char *w = malloc(len + 1);
  for (size_t i = 0; i < len; i++) {
    int b;
    do
      b = 1 + rand_r(seed) % 255;
    while (name && (b == '/' || b <= ' ' || b == 0x7f));
    w[i] = (char)b;
  }
  w[len] = '\0';
  return w;
}

static void cases_free(rcase *cases, size_t n) {
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < cases[i].argc; k++)
      free(cases[i].argv[k]);
    free(cases[i].line);
  }
  free(cases);
}

static size_t build_cases(fixture *fx, rcase **ret) {
  static const char *const names[] = {"pr", "X=1", "a=b=c", "if", "done",
                                      "time", "x%y@z", "x.y-z", "A_B"};
  static const char *const fixed[] = {
      "", "'", "\\", "$'x'", "!", "!!", "~", "#a", "a#", "-", "--", "{a,b}",
      "*", "?", "[a]", "\n", "a\n", "\n\n", "\t", "\x1b[31m", "é",
      "\xc2\x85", "\xe2\x80\xae", "\xff", "\xc3", "a b", "\"", "`x`", "$(x)",
      "${x}", ";", "&", "|", "<", ">", "(", ")", "X=1", "a'b'c", "'\\''",
      "\\012", "\x7f", "\x01", "%s", "0", "-n", "-e"};
  size_t cap = 400, n = 0;
  rcase *cases = calloc(cap, sizeof *cases);
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    add_program(fx, names[i]);
  /* Every fixed word as an argument, behind each first word. */
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    rcase *c = &cases[n++];
    c->argv[c->argc++] = strdup(names[i]);
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
      c->argv[c->argc++] = strdup(fixed[k]);
  }
  /* Every byte 1..255 alone, and in the middle of a word. */
  rcase *c = &cases[n++];
  c->argv[c->argc++] = strdup("pr");
  for (int b = 1; b < 256; b++) {
    char w[2] = {(char)b, 0};
    c->argv[c->argc++] = strdup(w);
  }
  c = &cases[n++];
  c->argv[c->argc++] = strdup("pr");
  for (int b = 1; b < 256; b++) {
    char w[4] = {'a', (char)b, 'z', 0};
    c->argv[c->argc++] = strdup(w);
  }
  /* Generated: random first words (linked under that name) and args. */
  unsigned seed = 12345;
  while (n < cap) {
    c = &cases[n++];
    char *name = random_word(&seed, 6, true);
    if (builtin_name(name)) {
      free(name);
      n--;
      continue;
    }
    add_program(fx, name);
    c->argv[c->argc++] = name;
    size_t args = (size_t)rand_r(&seed) % 8;
    for (size_t k = 0; k < args; k++)
      c->argv[c->argc++] = random_word(&seed, 12, false);
  }
  for (size_t i = 0; i < n; i++)
    case_render(&cases[i]);
  *ret = cases;
  return n;
}

static void test_render_round_trips_through_posix_shells(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx);
  assert_int_equal(cu_policy_set(&(cu_policy){.unsafe = CU_UNSAFE_ALLOW}), 0);
  rcase *cases = NULL;
  size_t n = build_cases(&fx, &cases);
  /* bash in POSIX mode reads every form, $'...' included. */
  const char *bash[] = {"bash", "--posix", NULL};
  round_trip(bash, cases, n, false);
  /* dash (/bin/sh here) predates $'...': every other line must work. */
  if (access("/bin/dash", X_OK) == 0) {
    const char *dash[] = {"dash", NULL};
    round_trip(dash, cases, n, true);
  }
  cases_free(cases, n);
  char rm[160];
  snprintf(rm, sizeof rm, "%s", fx.dir);
  fixture_free(&fx);
  /* Links have arbitrary names; the test's own directory goes with them. */
  cu_cmd *del = NULL;
  const char *argv[] = {"rm", "-rf", rm, NULL};
  assert_int_equal(cu_unsafe_cmd_from_argv(argv, &del), 0);
  cu_result *r = NULL;
  assert_int_equal(cu_run(del, NULL, &r), 0);
  r = cu_result_free(r);
  cu_cmd_free(del);
}

static void expect_render(const char *const *argv, const char *want) {
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_unsafe_cmd_from_argv(argv, &cmd), 0);
  char *line = NULL;
  assert_int_equal(cu_cmd_render(cmd, &line), 0);
  assert_string_equal(line, want);
  free(line);
  cu_cmd_free(cmd);
}

static void test_render_first_word_and_controls(void **state) {
  (void)state;
  fixture fx;
  fixture_init(&fx);
  add_program(&fx, "X=1");
  add_program(&fx, "if");
  expect_render((const char *[]){"X=1", "a=b", NULL}, "'X=1' a=b");
  expect_render((const char *[]){"if", "if", NULL}, "'if' if");
  expect_render((const char *[]){"sh", "a\nb", "it's", "\x1b", NULL},
                "sh $'a\\012b' 'it'\\''s' $'\\033'");
  expect_render((const char *[]){"sh", "caf\xc3\xa9", "\xff!'\\", NULL},
                "sh 'caf\xc3\xa9' $'\\377\\041\\047\\134'");
  char rm[80];
  snprintf(rm, sizeof rm, "%s/X=1", fx.dir);
  unlink(rm);
  snprintf(rm, sizeof rm, "%s/if", fx.dir);
  unlink(rm);
  rmdir(fx.dir);
  fixture_free(&fx);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_render_round_trips_through_posix_shells),
      cmocka_unit_test(test_render_first_word_and_controls),
  };
  return cut_main(argc, argv, tests, sizeof tests / sizeof tests[0], __FILE__);
}
