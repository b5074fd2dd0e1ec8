/* SPDX-License-Identifier: MIT */
/* The test catalogue: default catalogue + every helper program pinned. */
#include "harness.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static cu_catalogue *catalogue;
static pthread_once_t catalogue_once = PTHREAD_ONCE_INIT;

static void build_catalogue(void) {
  const cu_catalogue *def = NULL;
  if (cu_catalogue_default(&def) != 0 || cu_catalogue_clone(def, &catalogue) != 0)
    return;
  DIR *d = opendir(CU_TEST_HELPER_DIR);
  if (!d)
    return;
  cu_program_entry entries[64];
  char *paths[64];
  size_t n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < 64) {
    if (e->d_name[0] == '.')
      continue;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", CU_TEST_HELPER_DIR, e->d_name);
    paths[n] = strdup(buf);
    char *name = strdup(e->d_name);
    entries[n] = (cu_program_entry){.program = CU_PROGRAM(name), .path = paths[n]};
    n++;
  }
  closedir(d);
  static const char *const docs[] = {"tests/helpers/"};
  cu_project_spec spec = {.size = sizeof(cu_project_spec),
                          .name = "test-helpers",
                          .programs = entries,
                          .n_programs = n,
                          .docs = docs,
                          .n_docs = 1};
  if (cu_catalogue_add_project(catalogue, &spec) != 0) {
    fprintf(stderr, "harness: %s\n", cu_last_error());
    cu_catalogue_unref(catalogue);
    catalogue = NULL;
  }
  for (size_t i = 0; i < n; i++) {
    free(paths[i]);
    free((char *)entries[i].program.name);
  }
}

const cu_catalogue *cut_catalogue(void) {
  pthread_once(&catalogue_once, build_catalogue);
  assert_non_null(catalogue);
  return catalogue;
}

cu_cmd *cut_cmd(const char *helper, ...) {
  cu_cmd *cmd = NULL;
  int rc = cu_cmd_new(cut_catalogue(), CU_PROGRAM(helper), &cmd);
  if (rc != 0)
    fail_msg("cu_cmd_new(%s): %s", helper, cu_last_error());
  va_list ap;
  va_start(ap, helper);
  rc = cu_cmd_vargs(cmd, ap);
  va_end(ap);
  assert_int_equal(rc, 0);
  return cmd;
}

int cut_contain_available(void) {
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.contain = CU_CONTAIN_REQUIRE;
  cu_result *r = NULL;
  int rc = cu_run(cmd, &o, &r);
  if (rc != 0)
    print_message("containment not available here, skipping: %s\n",
                  cu_last_error());
  cu_result_free(r);
  cu_cmd_free(cmd);
  return rc == 0;
}

void cut_tool_make(cut_tool *t, const char *content) {
  snprintf(t->dir, sizeof t->dir, "/tmp/cu-tool-XXXXXX");
  assert_non_null(mkdtemp(t->dir));
  snprintf(t->path, sizeof t->path, "%s/tool", t->dir);
  FILE *f = fopen(t->path, "w");
  assert_non_null(f);
  fputs(content, f);
  fclose(f);
  chmod(t->path, 0755);
  t->cat = NULL;
  t->cmd = NULL;
  assert_int_equal(cu_catalogue_new(&t->cat), 0);
  assert_int_equal(cu_catalogue_allow(t->cat, CU_PROGRAM("tool"), t->path), 0);
  assert_int_equal(cu_cmd_new(t->cat, CU_PROGRAM("tool"), &t->cmd), 0);
}

void cut_tool_free(cut_tool *t) {
  t->cmd = cu_cmd_free(t->cmd);
  cu_catalogue_unref(t->cat);
  t->cat = NULL;
  unlink(t->path);
  rmdir(t->dir);
}
