/* SPDX-License-Identifier: MIT */
/*
 * The command as the builder (cmd.c), the unsafe namespace (unsafe.c), the
 * context (hooks and checks) and the runtime see it: the catalogue layer's
 * internals that upper layers use. Not installed.
 */
#ifndef CUPRUM_CMD_INT_H
#define CUPRUM_CMD_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "cuprum/catalogue.h"
#include "cuprum/cmd.h"
#include "cuprum/program.h"

struct cu__hooks; /* per-command hooks, owned by the context layer */

struct cu_cmd {
  cu_program program;        /* name (points into argv[0]) */
  char *path;                /* absolute path to execve */
  const cu_project *project; /* NULL for unsafe commands */
  cu_catalogue *catalogue;   /* reference held (NULL for unsafe) */
  char **argv;               /* NULL-terminated; argv[0] = program name */
  size_t argc;
  size_t cap;
  size_t argv_bytes;         /* sum of strlen+1 of argv, for E2BIG */
  int status;                /* sticky builder error */
  char *error;               /* message of the sticky error, or NULL */
  bool unsafe;               /* built by cu_unsafe_* */
  /* Per-command hooks and their destructor, both set by the context layer
   * when the first hook is attached (NULL until then). The destructor is a
   * pointer so the catalogue layer frees what it cannot see without
   * depending on the layer above it. */
  struct cu__hooks *hooks;
  void (*hooks_free)(struct cu__hooks *hooks);
};

/* Make a command with argv = {argv0}, a copy of `path`, and a new reference
 * to `cat` (may be NULL). For cmd.c and the unsafe namespace.
 * Errors: CU_ENOMEM. */
int cu__cmd_create(const char *argv0, const char *path,
                   const cu_project *project, const cu_catalogue *cat,
                   cu_cmd **ret);

/* 0 if the command may run; else re-raise its sticky error with the
 * message recorded when it happened (CU_EINVAL for a NULL command). */
int cu__cmd_check(const cu_cmd *cmd);
/* The end of a command constructor: remember its failure (or forget the
 * last one on success) for the thread; returns rc (cmd.c). */
int cu__cmd_constructed(int rc);
/* The error for a NULL command given to `what`: the thread's last
 * constructor failure when there is one, else CU_EINVAL (cmd.c). */
int cu__cmd_null(const char *what);

/* Catalogue reference counting (catalogue.c). */
cu_catalogue *cu__catalogue_ref(const cu_catalogue *cat);
void cu__catalogue_unref(cu_catalogue *cat);

#endif /* CUPRUM_CMD_INT_H */
