/* SPDX-License-Identifier: MIT */
/*
 * A project-specific builder, as shipped by examples/builder-template:
 * `grep` with typed options. Copy these three files, rename the prefix
 * (`app_`; `cu_` belongs to the library) and follow the checklist in
 * docs/users-guide.md, "A builder of your own".
 */
#ifndef APP_GREP_H
#define APP_GREP_H

#include <cuprum/cuprum.h>
#include <stdbool.h>
#include <stddef.h>

/* Checklist item 2: an options struct where zero means default, size
 * first, an INIT macro, fields only ever appended. */
typedef struct app_grep_opts {
  size_t size;                   /* sizeof(app_grep_opts) */
  const cu_catalogue *catalogue; /* NULL = cu_catalogue_default() */
  bool ignore_case;              /* -i */
  bool fixed_strings;            /* -F: the pattern is text, not a regex */
  bool invert_match;             /* -v */
  bool count;                    /* -c: print counts, not lines */
  bool quiet;                    /* -q: only the exit status; contradicts
                                    count */
  int max_count;                 /* -m N when > 0; negative is an error */
} app_grep_opts;

#define APP_GREP_OPTS_INIT {.size = sizeof(app_grep_opts)}

/*
 * Build `grep [options] -e PATTERN -- FILE...` (no FILE: grep reads stdin).
 * PATTERN: non-empty, no control bytes (a newline would make grep read two
 * patterns). Files are cu_safe_path values: validated by construction.
 * Errors: CU_EINVAL (message says which value or which contradiction),
 * CU_ENOMEM, cu_cmd_new()'s. On error *ret is untouched. Ownership: *ret
 * is the caller's (cu_cmd_free()).
 */
int app_grep(const char *pattern, const cu_safe_path *const *files,
             size_t n_files, const app_grep_opts *opts, cu_cmd **ret);

#endif /* APP_GREP_H */
