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

#include "base/internal.h"
#include "catalogue/catalogue_int.h"
#include "catalogue/cmd_int.h"
#include "cuprum/unsafe.h"

/* 0 when `path` is an executable regular file, else the CU_E* reason. */
static int executable(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    return errno == EACCES ? CU_EACCES : CU_ENOTFOUND;
  if (!S_ISREG(st.st_mode) || access(path, X_OK) != 0)
    return CU_EACCES;
  return 0;
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
    /* The catalogue's PATH search: absolute entries only, so a writable
     * working directory cannot hijack the program. */
    int rc = cu__resolve_program(program, NULL, ret);
    if (rc == CU_ENOTFOUND)
      return cu__fail(rc, "unsafe command: program '%s' not found in an "
                          "absolute PATH entry", program);
    if (rc != 0)
      return rc;
  }
  return *ret ? 0 : cu__fail(CU_ENOMEM, "out of memory building a command");
}

static int unsafe_new(const char *program, cu_cmd **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_unsafe_cmd_new: ret is NULL");
  char *path = NULL;
  int rc = resolve(program, &path);
  if (rc != 0)
    return rc;
  /* No project, no catalogue: never mixed with catalogued commands. */
  cu_cmd *cmd = NULL;
  rc = cu__cmd_create(program, path, NULL, NULL, &cmd);
  free(path);
  if (rc != 0)
    return rc;
  cmd->unsafe = true;
  *ret = cmd;
  return 0;
}

int cu_unsafe_cmd_new(const char *program, cu_cmd **ret) {
  return cu__cmd_constructed(unsafe_new(program, ret));
}

static int from_argv(const char *const *argv, cu_cmd **ret) {
  if (!argv || !argv[0] || !ret)
    return cu__fail(CU_EINVAL, "cu_unsafe_cmd_from_argv: argv must hold at "
                               "least the program");
  cu_cmd *cmd = NULL;
  int rc = unsafe_new(argv[0], &cmd);
  for (size_t i = 1; rc == 0 && argv[i]; i++)
    rc = cu_cmd_arg(cmd, argv[i]);
  if (rc != 0) {
    cu_cmd_free(cmd);
    return rc;
  }
  *ret = cmd;
  return 0;
}

int cu_unsafe_cmd_from_argv(const char *const *argv, cu_cmd **ret) {
  return cu__cmd_constructed(from_argv(argv, ret));
}

bool cu_cmd_is_unsafe(const cu_cmd *cmd) { return cmd && cmd->unsafe; }
