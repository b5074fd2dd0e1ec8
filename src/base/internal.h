/* SPDX-License-Identifier: MIT */
/* Internal helpers shared by every source file. Not installed. */
#ifndef CUPRUM_INTERNAL_H
#define CUPRUM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "cuprum/cuprum.h"

#define CU__UNUSED __attribute__((unused))
#define CU__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CU__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Record the detailed message for cu_last_error() and return `code`. */
int cu__fail(int code, const char *fmt, ...) CU__PRINTF(2, 3);
/* Same, appending ": strerror(err_no)". */
int cu__fail_errno(int code, int err_no, const char *fmt, ...)
    CU__PRINTF(3, 4);
/* The errno given with the thread's last recorded failure (0 if it had
 * none, or after cu__clear_error()). */
int cu__last_fail_errno(void);
/* Clear the thread's last error message. */
void cu__clear_error(void);

/* Allocation helpers that never return NULL silently to callers that check. */
char *cu__strdup(const char *s);
char *cu__asprintf(const char *fmt, ...) CU__PRINTF(1, 2);

/* Close an fd if >= 0, preserving errno; always returns -1. */
int cu__close(int fd);
/* Every descriptor the library creates sits above 2: when the caller has
 * closed a standard fd, a new fd lands there and would then be written by
 * anyone writing "stdout" (or dup2'd over in a child). Pass a freshly
 * created fd (or -1): it comes back unchanged when >= 3 or < 0, else
 * duplicated at >= 3 with FD_CLOEXEC and the low one closed. On failure
 * returns -1 with errno set (the fd is closed). */
int cu__fd_above2(int fd);
/* __attribute__((cleanup)) helpers. */
void cu__closep(int *fd);
void cu__freep(void *ptr);
#define CU__AUTOCLOSE __attribute__((cleanup(cu__closep)))
#define CU__AUTOFREE __attribute__((cleanup(cu__freep)))

/* Clocks. */
struct timespec cu__now(clockid_t clock);
int64_t cu__ts_ns(struct timespec ts);
int64_t cu__mono_ns(void);

/* The command, as the builder, the unsafe namespace and the runtime see it. */
struct cu__hooks; /* per-command hooks, owned by context.c */
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
  struct cu__hooks *hooks;   /* per-command hooks (context.c) */
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
/* Release per-command hooks (context.c; NULL is ignored). */
void cu__hooks_free(struct cu__hooks *hooks);

/* Copies of two tag lists, concatenated; NULL keys/values become "". On
 * failure nothing is allocated (result.c). */
int cu__tags_copy(const cu_tag *a, size_t na, const cu_tag *b, size_t nb,
                  cu_tag **ret, size_t *ret_n);
void cu__tags_free(cu_tag *tags, size_t n);

/* Stage i of a pipeline (pipeline.c). */
const cu_cmd *cu__pipeline_stage(const cu_pipeline *p, size_t i);

/* Catalogue reference counting (catalogue.c). */
cu_catalogue *cu__catalogue_ref(const cu_catalogue *cat);
void cu__catalogue_unref(cu_catalogue *cat);

#endif /* CUPRUM_INTERNAL_H */
