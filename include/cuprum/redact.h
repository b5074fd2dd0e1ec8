/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/redact.h
 * @brief Redaction of secrets in everything the library writes about a run.
 *
 * A redactor decides which argv elements and environment values are shown
 * as `***` by the sinks that describe runs: the logging hook
 * (cuprum/log.h), cu_event_format(), metrics labels (cuprum/metrics.h) and
 * trace spans (cuprum/trace.h). The child always gets the real values;
 * only what is written about it changes.
 *
 * Rules, checked in this order for each argv element:
 *  1. the element matches a value pattern (fnmatch(3) glob, case-sensitive):
 *     the whole element becomes `***`;
 *  2. the element is `NAME=VALUE` or `--NAME=VALUE` and NAME matches a
 *     secret-name pattern (glob, case-insensitive): it becomes `NAME=***`;
 *  3. the previous element is an option (`-x`, `--name`) whose name matches
 *     a secret-name pattern, e.g. `--token abc`: it becomes `***`.
 * An environment overlay value is `***` when its value matches a value
 * pattern or its name matches a secret-name pattern.
 *
 * The default secret-name patterns are `*TOKEN*`, `*SECRET*`, `*PASSWORD*`
 * and `*KEY*`; they apply wherever no redactor is given (a NULL redactor
 * means "defaults only"), so secrets are hidden unless a caller opts out
 * with `no_default_names`.
 *
 * Thread-safety: a redactor is immutable after cu_redact_new(); any number
 * of threads may use it at once. It is borrowed by the sinks it is given
 * to and must outlive them.
 */
#ifndef CUPRUM_REDACT_H
#define CUPRUM_REDACT_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>

#include "events.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What replaces a redacted value. */
#define CU_REDACTED "***"

/** An immutable set of redaction rules. */
typedef struct cu_redact cu_redact;

/** Redaction options. Versioned by `size`: start from CU_REDACT_OPTS_INIT. */
typedef struct cu_redact_opts {
  size_t size;                    /**< sizeof(cu_redact_opts) */
  const char *const *patterns;    /**< value globs (argv elements, env
                                       values); copied */
  size_t n_patterns;
  const char *const *secret_names; /**< extra secret-name globs; copied */
  size_t n_secret_names;
  bool no_default_names;          /**< drop *TOKEN* *SECRET* *PASSWORD*
                                       *KEY* */
} cu_redact_opts;

#define CU_REDACT_OPTS_INIT {.size = sizeof(cu_redact_opts)}

/**
 * Make a redactor from `opts` (NULL = defaults only). Everything is copied.
 * Errors: CU_EINVAL (bad size, NULL or empty pattern: the message names
 * it), CU_ENOMEM. `*ret` is written only on success.
 */
int cu_redact_new(const cu_redact_opts *opts, cu_redact **ret)
    CU_NODISCARD CU_NONNULL(2);

/** Free a redactor; returns NULL. NULL is ignored. */
cu_redact *cu_redact_free(cu_redact *r);

/**
 * Whether argv element `i` of `argv` (`argc` elements) is to be hidden,
 * and how: 0 = shown, 1 = whole element hidden, 2 = the part after the
 * first '=' hidden. `r` NULL = the default rules.
 */
int cu_redact_argv_elem(const cu_redact *r, const char *const *argv,
                        size_t argc, size_t i);

/** Whether an environment value is hidden (`r` NULL = defaults). */
bool cu_redact_env(const cu_redact *r, const char *name, const char *value);

/**
 * A redacted copy of `argv`: one malloc'd block (free it with free()),
 * NULL-terminated, hidden parts replaced by CU_REDACTED.
 * Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_redact_argv(const cu_redact *r, const char *const *argv, size_t argc,
                   char ***ret) CU_NODISCARD CU_NONNULL(4);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_REDACT_H */
