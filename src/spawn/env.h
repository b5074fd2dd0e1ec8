/* SPDX-License-Identifier: MIT */
/* Child environment construction and the execve size budget. */
#ifndef CUPRUM_ENV_H
#define CUPRUM_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "cuprum/run.h"

typedef struct cu__envp {
  char **envp;        /* NULL-terminated */
  bool owned;         /* false: envp is the parent's environ */
  size_t first_owned; /* entries from here on are malloc'd by us */
} cu__envp;

/* POSIX portable variable name? */
bool cu__env_name_valid(const char *name);

/* Copies of two overlays, concatenated (`a` then `b`); values may be NULL
 * (unset). On failure nothing is allocated. Errors: CU_ENOMEM. */
int cu__env_copy(const cu_env_var *a, size_t na, const cu_env_var *b,
                 size_t nb, cu_env_var **ret, size_t *ret_n);
void cu__env_vars_free(cu_env_var *vars, size_t n);

/* Validate an overlay: names, lengths. CU_EBADENV naming the variable. */
int cu__env_validate(const cu_env_var *vars, size_t n);

/* The parent's environment (or none when `clear`), minus every overlaid
 * name, plus the overlays' final values (`second` wins over `first`; a NULL
 * value unsets). Overlays must be validated first. */
int cu__env_build(const cu_env_var *first, size_t n_first,
                  const cu_env_var *second, size_t n_second, bool clear,
                  cu__envp *ret);
void cu__env_free(cu__envp *env);

/* CU_E2BIG when argv + envp exceed ARG_MAX or one string exceeds the
 * kernel's per-string limit. */
int cu__argv_budget(char *const *argv, char *const *envp);

#endif /* CUPRUM_ENV_H */
