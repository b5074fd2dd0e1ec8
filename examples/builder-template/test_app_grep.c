/* SPDX-License-Identifier: MIT */
/*
 * The template's test (checklist item 5): run the REAL grep through the
 * builder on a temporary file and check what it printed, then check every
 * refusal. Exit status 0 = pass; each failure prints its line.
 */
#include "app_grep.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed: %s\n", __FILE__, __LINE__,     \
              #c, cu_last_error());                                            \
      failures++;                                                              \
    }                                                                          \
  } while (0)

/* Run cmd (freed) and return its stdout (caller frees) and exit status. */
static char *run(cu_cmd *cmd, int *exit_code) {
  cu_result *r = NULL;
  int rc = cu_run(cmd, NULL, &r);
  cu_cmd_free(cmd);
  char *out = NULL;
  if (rc == 0 && r) {
    out = strdup(r->out.data);
    *exit_code = r->exit_code;
  }
  cu_result_free(r);
  return out;
}

int main(void) {
  char path[] = "/tmp/app_grep_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0)
    return 1;
  const char text[] = "alpha\n-beta\nGamma\ngamma\n";
  if (write(fd, text, sizeof text - 1) != (ssize_t)(sizeof text - 1))
    return 1;
  close(fd);
  cu_safe_path *file = NULL;
  CHECK(cu_safe_path_new(path, NULL, &file) == 0);
  const cu_safe_path *files[] = {file};

  cu_cmd *cmd = NULL;
  int code = -1;
  app_grep_opts o = APP_GREP_OPTS_INIT;
  o.ignore_case = true;
  CHECK(app_grep("gamma", files, 1, &o, &cmd) == 0);
  char *out = run(cmd, &code);
  CHECK(out && strcmp(out, "Gamma\ngamma\n") == 0 && code == 0);
  free(out);

  o = (app_grep_opts)APP_GREP_OPTS_INIT;
  o.fixed_strings = true;
  o.count = true;
  CHECK(app_grep("-beta", files, 1, &o, &cmd) == 0); /* a dash pattern */
  out = run(cmd, &code);
  CHECK(out && strcmp(out, "1\n") == 0);
  free(out);

  o = (app_grep_opts)APP_GREP_OPTS_INIT;
  o.quiet = true;
  CHECK(app_grep("delta", files, 1, &o, &cmd) == 0);
  out = run(cmd, &code);
  CHECK(out && code == 1); /* no match */
  free(out);

  /* Refusals: nothing is built. */
  cmd = NULL;
  o.count = true;
  CHECK(app_grep("x", files, 1, &o, &cmd) == CU_EINVAL);
  o = (app_grep_opts)APP_GREP_OPTS_INIT;
  CHECK(app_grep("two\nlines", files, 1, &o, &cmd) == CU_EINVAL);
  CHECK(app_grep("", files, 1, &o, &cmd) == CU_EINVAL);
  o.max_count = -1;
  CHECK(app_grep("x", files, 1, &o, &cmd) == CU_EINVAL);
  CHECK(cmd == NULL);

  cu_safe_path_free(file);
  unlink(path);
  if (failures == 0)
    puts("builder-template: all checks passed");
  return failures == 0 ? 0 : 1;
}
