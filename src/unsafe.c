/* SPDX-License-Identifier: MIT */
/*
 * The unsafe namespace: commands built from an arbitrary program and argv,
 * outside the catalogue. They are ordinary cu_cmd values marked `unsafe`
 * with no project; the context checks them against the unsafe policy at run
 * time (snapshot.c) and every event carries the mark.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* 0 when `path` is an executable regular file, else the CU_E* reason. */
static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return errno == EACCES ? CU_EACCES : CU_ENOTFOUND;
  if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
    return CU_EACCES;
  return 0;
}

/* PATH search as the catalogue does it: absolute entries only, so a
 * writable current directory cannot hijack the program. */
static char *search_path(const char *name) {
  const char *path = getenv("PATH");
  char fallback[256];
  if (!path || !path[0]) {
    size_t n = confstr(_CS_PATH, fallback, sizeof fallback);
    path = n > 0 && n <= sizeof fallback ? fallback : "/usr/bin:/bin";
  }
  for (const char *p = path; *p;) {
    const char *end = strchrnul(p, ':');
    if (*p == '/') {
      char *cand = cu__asprintf("%.*s/%s", (int)(end - p), p, name);
      if (!cand || executable(cand) == 0)
        return cand;
      free(cand);
    }
    p = *end ? end + 1 : end;
  }
  errno = ENOENT;
  return NULL;
}

static int resolve(const char *program, char **ret) {
  if (!program || !program[0])
    return cu__fail(CU_EINVAL, "unsafe command: no program");
  if (strchr(program, '/') && program[0] != '/')
    return cu__fail(CU_EINVAL, "unsafe command: program '%s' is a relative "
                               "path; give an absolute path or a bare name",
                    program);
  if (program[0] == '/') {
    int rc = executable(program);
    if (rc == CU_ENOTFOUND)
      return cu__fail(rc, "unsafe command: '%s' does not exist", program);
    if (rc != 0)
      return cu__fail(rc, "unsafe command: '%s' is not an executable file",
                      program);
    *ret = cu__strdup(program);
  } else {
    errno = 0;
    *ret = search_path(program);
    if (!*ret && errno == ENOENT)
      return cu__fail(CU_ENOTFOUND, "unsafe command: program '%s' not found "
                                    "on PATH", program);
  }
  return *ret ? 0 : cu__fail(CU_ENOMEM, "out of memory building a command");
}

static cu_cmd *cmd_alloc(const char *program, char *path, size_t cap) {
  cu_cmd *cmd = calloc(1, sizeof *cmd);
  char **argv = calloc(cap + 1, sizeof *argv);
  char *arg0 = cu__strdup(program);
  if (!cmd || !argv || !arg0) {
    free(cmd);
    free(argv);
    free(arg0);
    return NULL;
  }
  argv[0] = arg0;
  cmd->argv = argv;
  cmd->argc = 1;
  cmd->cap = cap;
  cmd->argv_bytes = strlen(arg0) + 1;
  cmd->program = CU_PROGRAM(arg0);
  cmd->path = path;
  cmd->unsafe = true; /* no project, no catalogue: never mixed with them */
  return cmd;
}

int cu_unsafe_cmd_new(const char *program, cu_cmd **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_unsafe_cmd_new: ret is NULL");
  char *path = NULL;
  int rc = resolve(program, &path);
  if (rc != 0)
    return rc;
  cu_cmd *cmd = cmd_alloc(program, path, 8);
  if (!cmd) {
    free(path);
    return cu__fail(CU_ENOMEM, "out of memory building a command");
  }
  *ret = cmd;
  return 0;
}

int cu_unsafe_cmd_from_argv(const char *const *argv, cu_cmd **ret) {
  if (!argv || !argv[0] || !ret)
    return cu__fail(CU_EINVAL, "cu_unsafe_cmd_from_argv: argv must hold at "
                               "least the program");
  cu_cmd *cmd = NULL;
  int rc = cu_unsafe_cmd_new(argv[0], &cmd);
  for (size_t i = 1; rc == 0 && argv[i]; i++)
    rc = cu_cmd_arg(cmd, argv[i]);
  if (rc != 0) {
    cu_cmd_free(cmd);
    return rc;
  }
  *ret = cmd;
  return 0;
}

bool cu_cmd_is_unsafe(const cu_cmd *cmd) { return cmd && cmd->unsafe; }
