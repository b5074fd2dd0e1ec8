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
#include "cuprum/stream.h" /* the engine is internal to most callers */

#define CU__UNUSED __attribute__((unused))
#define CU__PRINTF(a, b) __attribute__((format(printf, a, b)))
#define CU__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Record the detailed message for cu_last_error() and return `code`. */
int cu__fail(int code, const char *fmt, ...) CU__PRINTF(2, 3);
/* Same, appending ": strerror(err_no)". */
int cu__fail_errno(int code, int err_no, const char *fmt, ...)
    CU__PRINTF(3, 4);
/* Clear the thread's last error message. */
void cu__clear_error(void);

/* Allocation helpers that never return NULL silently to callers that check. */
char *cu__strdup(const char *s);
char *cu__asprintf(const char *fmt, ...) CU__PRINTF(1, 2);

/* Close an fd if >= 0, preserving errno; always returns -1. */
int cu__close(int fd);
/* __attribute__((cleanup)) helpers. */
void cu__closep(int *fd);
void cu__freep(void *ptr);
#define CU__AUTOCLOSE __attribute__((cleanup(cu__closep)))
#define CU__AUTOFREE __attribute__((cleanup(cu__freep)))

/* The ABI rule (abi.c): load a caller's size-versioned options struct
 * `src` (NULL = every default) into `dst`, this library's layout of
 * `dst_size` bytes. An older (smaller) size is zero-extended; a newer
 * (larger) one is accepted only when every byte past dst_size is zero.
 * dst->size is set to dst_size. Errors: CU_EINVAL naming `type` and the
 * `init` macro (size below CU__OPTS_MIN_SIZE), or saying the struct has
 * fields this library does not know. */
int cu__opts_load(void *dst, size_t dst_size, const void *src, const char *type,
                  const char *init);
/* Smallest accepted size: the size member itself. Every field's zero is
 * its default, so any longer prefix is a complete request; 0 is the
 * common mistake of a struct that was never initialised with its INIT. */
#define CU__OPTS_MIN_SIZE sizeof(size_t)
#define CU__OPTS_LOAD(dst, src, type, init)                                    \
  cu__opts_load((dst), sizeof(type), (src), #type, #init)

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

/* A new zeroed result with the library's private part (result.c); NULL
 * (with CU_ENOMEM recorded) when out of memory. */
cu_result *cu__result_new(void);

/* Stage i of a pipeline (pipeline.c). */
const cu_cmd *cu__pipeline_stage(const cu_pipeline *p, size_t i);

/* Catalogue reference counting (catalogue.c). */
cu_catalogue *cu__catalogue_ref(const cu_catalogue *cat);
void cu__catalogue_unref(cu_catalogue *cat);

#endif /* CUPRUM_INTERNAL_H */
