/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/args.h
 * @brief Typed argument values: cu_safe_path and cu_git_ref.
 *
 * A typed argument is made only by its validating constructor and is a
 * distinct, opaque C type: a builder that takes a `const cu_safe_path *`
 * does not accept a `const char *` (the compiler reports an incompatible
 * pointer type, an error under -Werror and in C23 compilers by default).
 * So a string from the outside world reaches a builder's argv only after
 * a validator has looked at it.
 *
 * Both types are immutable once made; one value may be read by many threads
 * at once. Each is freed with its own _free() function (NULL is ignored;
 * it returns NULL so `p = cu_safe_path_free(p);` leaves no dangling pointer).
 *
 * Errors are negative CU_E* codes (cuprum/error.h); the message of
 * cu_last_error() names the rule that failed and shows the input with
 * control characters and non-UTF-8 bytes escaped (\n, \t, \xHH).
 * On error *ret is untouched.
 */
#ifndef CUPRUM_ARGS_H
#define CUPRUM_ARGS_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ paths */

/** A validated, normalised filesystem path (opaque). */
typedef struct cu_safe_path cu_safe_path;

/**
 * Options of cu_safe_path_new(). Zero means default (the strictest form).
 * Size-versioned (docs/design.md, "The ABI rule"): start from
 * CU_SAFE_PATH_OPTS_INIT.
 */
typedef struct cu_safe_path_opts {
  size_t size;         /**< sizeof(cu_safe_path_opts) */
  bool allow_relative; /**< accept a path not starting with '/' */
} cu_safe_path_opts;

#define CU_SAFE_PATH_OPTS_INIT {.size = sizeof(cu_safe_path_opts)}

/** Longest path accepted, in bytes, terminating NUL excluded (PATH_MAX-1). */
#define CU_SAFE_PATH_MAX 4095

/**
 * Validate and normalise `path` (NUL-terminated) into a new cu_safe_path.
 * `opts` NULL = defaults (absolute paths only).
 *
 * Rules, each named in the error message (all CU_EINVAL unless noted):
 *  - "empty": the empty string;
 *  - "nul": a NUL byte inside (only cu_safe_path_newn() can see one;
 *    CU_ENULARG);
 *  - "control": a byte below 0x20 or 0x7f (newlines in paths break every
 *    line-based log and listing);
 *  - "dotdot": a `..` segment anywhere;
 *  - "relative": a path not starting with '/' unless opts->allow_relative;
 *  - "length": longer than CU_SAFE_PATH_MAX after normalisation.
 * Normalisation: runs of '/' become one, `.` segments are dropped (a path
 * of only `.` segments is `.`), and a trailing '/' is KEPT (one), because
 * rsync and others give it meaning ("the contents of").
 * The leading-dash rule: a relative path whose first byte would be '-'
 * gets a `./` prefix, so no program can read it as an option even where
 * the builder cannot put `--` before it.
 * Errors: the rules above, CU_EINVAL for NULL arguments or bad opts,
 * CU_ENOMEM. Thread-safe. Ownership: *ret is the caller's; free with
 * cu_safe_path_free(). Standard: POSIX.1-2017 XBD 3.271 (pathname),
 * 4.13 (pathname resolution).
 */
int cu_safe_path_new(const char *path, const cu_safe_path_opts *opts,
                     cu_safe_path **ret) CU_NODISCARD CU_NONNULL(3);

/** cu_safe_path_new() for `len` bytes that need not be NUL-terminated; a
 * NUL byte among them is CU_ENULARG (rule "nul"). */
int cu_safe_path_newn(const char *path, size_t len,
                      const cu_safe_path_opts *opts, cu_safe_path **ret)
    CU_NODISCARD CU_NONNULL(4) CU_ACCESS_RO(1, 2);

/** The normalised path (NUL-terminated), owned by `p`; valid until it is
 * freed. NULL if p is NULL. Thread-safe. */
const char *cu_safe_path_str(const cu_safe_path *p);

/** Whether the path is absolute (starts with '/'). */
bool cu_safe_path_is_absolute(const cu_safe_path *p);

/** Whether the path ends with '/' (kept from the input; "/" itself too). */
bool cu_safe_path_has_trailing_slash(const cu_safe_path *p);

/** Release a path (NULL is ignored). Returns NULL. */
cu_safe_path *cu_safe_path_free(cu_safe_path *p);

/* ------------------------------------------------------------- git refs */

/** A validated git reference name, optionally with a revision suffix. */
typedef struct cu_git_ref cu_git_ref;

/**
 * Options of cu_git_ref_new(). Zero means default: a refname accepted by
 * `git check-ref-format --allow-onelevel` (so "main", "HEAD", "v1.0",
 * "refs/heads/topic", a hex object id), nothing else.
 */
typedef struct cu_git_ref_opts {
  size_t size;             /**< sizeof(cu_git_ref_opts) */
  bool require_multilevel; /**< refuse one-level names, like plain
                                `git check-ref-format` (no --allow-onelevel) */
  bool allow_suffix;       /**< accept a trailing ancestry suffix: any
                                sequence of `~`, `~N`, `^`, `^N` (N decimal,
                                at most 9 digits), e.g. "HEAD~2", "v1^2~3" */
} cu_git_ref_opts;

#define CU_GIT_REF_OPTS_INIT {.size = sizeof(cu_git_ref_opts)}

/** Longest ref accepted, in bytes (git itself has no limit; argv has). */
#define CU_GIT_REF_MAX 1024

/**
 * Validate `ref` into a new cu_git_ref. The rules are those of
 * git-check-ref-format(1) (git 2.39), each named in the error message:
 *  "empty", "length", "control" (bytes < 0x20 or 0x7f), "forbidden-char"
 *  (space ~ ^ : ? * [ \), "dotdot" (`..`), "at-brace" (`@{`), "at" (the
 *  name `@`), "slash" (leading, trailing or double '/'), "dot-component"
 *  (a component starting with '.'), "lock" (a component ending with
 *  ".lock"), "trailing-dot", "empty-component", "onelevel" (only with
 *  require_multilevel), "dash" (a leading '-', which git accepts without
 *  --branch but which would read as an option: refused always),
 *  "suffix" (a malformed ~N/^N suffix).
 * Errors: CU_EINVAL for a rule or bad arguments, CU_ENOMEM. Thread-safe.
 * Ownership: *ret is the caller's; free with cu_git_ref_free().
 * Standard: git-check-ref-format(1); gitrevisions(7) for the suffix.
 */
int cu_git_ref_new(const char *ref, const cu_git_ref_opts *opts,
                   cu_git_ref **ret) CU_NODISCARD CU_NONNULL(3);

/** The validated ref text, owned by `r`. NULL if r is NULL. */
const char *cu_git_ref_str(const cu_git_ref *r);

/** Release a ref (NULL is ignored). Returns NULL. */
cu_git_ref *cu_git_ref_free(cu_git_ref *r);

/**
 * Check `ref` by the rules of cu_git_ref_new() without allocating. Unlike
 * cu_git_ref_new(), an `opts` from a newer header with fields this library
 * does not know is checked as if those fields were zero.
 * Returns 0 or the negative code; on failure writes the rule name to
 * *ret_rule (a static string) when ret_rule is not NULL. Does not touch
 * cu_last_error(). Thread-safe.
 */
int cu_git_ref_check(const char *ref, const cu_git_ref_opts *opts,
                     const char **ret_rule) CU_NODISCARD;

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_ARGS_H */
