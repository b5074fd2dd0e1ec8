/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/builders.h
 * @brief Builders for git, rsync and tar: typed values in, a cu_cmd out.
 *
 * A builder only builds: it validates every value, assembles the argv in
 * one reviewed place and returns a cu_cmd for cu_run() (or a pipeline, a
 * loop, ...). It never spawns. Paths are cu_safe_path, refs cu_git_ref
 * (cuprum/args.h); free text (a commit message, a log format, a pattern)
 * is checked for NUL and control bytes.
 *
 * Common rules:
 *  - Options structs are size-versioned (start from the _INIT macro); zero
 *    means default; `opts` NULL means all defaults.
 *  - `catalogue` in every options struct: NULL = the default catalogue,
 *    which holds git (project "vcs"), tar (project "archive") and rsync
 *    (project "sync").
 *  - `--` is emitted before positionals wherever the program accepts it.
 *  - Contradictory options are CU_EINVAL with a message naming both.
 *  - Errors: CU_EINVAL (bad or contradictory input, rule named in
 *    cu_last_error()), CU_ENOMEM, and cu_cmd_new()'s (CU_EUNKNOWN_PROGRAM,
 *    CU_ENOTFOUND). On error *ret is untouched and nothing is left behind.
 *  - Ownership: *ret is the caller's, freed with cu_cmd_free(). The typed
 *    values are copied into the argv; free them whenever convenient.
 *  - Thread-safe: builders share no state.
 * Every flag is documented in docs/users-guide.md, "The builder set".
 * Standards: the programs' own manuals, as shipped in Debian 12:
 * git(1) and its subcommand pages (git 2.39), rsync(1) (3.2), GNU tar
 * manual (1.34); `--` ends options per POSIX.1-2017 XBD 12.2 guideline 10.
 */
#ifndef CUPRUM_BUILDERS_H
#define CUPRUM_BUILDERS_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>

#include "args.h"
#include "catalogue.h"
#include "cmd.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------- git */

/* Every git builder's options start with size, then `catalogue` (NULL =
 * default) and `repo` (`git -C repo`; NULL = the run's cwd). */

/** git status: `--short` and/or `--branch`; `porcelain` = --porcelain=v1
 * (stable for parsing; contradicts `short_format`). */
typedef struct cu_git_status_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool short_format;
  bool branch;
  bool porcelain;
} cu_git_status_opts;
#define CU_GIT_STATUS_OPTS_INIT {.size = sizeof(cu_git_status_opts)}
int cu_git_status(const cu_git_status_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(2);

/** git checkout REF: `create` = -b REF [start], `detach` = --detach,
 * `force` = --force, or with `create` -B (create, or reset an existing
 * branch of that name). create+detach is CU_EINVAL; start without create
 * is CU_EINVAL; REF is never read as a path (`--` follows it). */
typedef struct cu_git_checkout_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool create;
  bool detach;
  bool force;
  const cu_git_ref *start; /**< with create: the start point */
} cu_git_checkout_opts;
#define CU_GIT_CHECKOUT_OPTS_INIT {.size = sizeof(cu_git_checkout_opts)}
int cu_git_checkout(const cu_git_ref *ref, const cu_git_checkout_opts *opts,
                    cu_cmd **ret) CU_NODISCARD CU_NONNULL(3);

/** git rev-parse --verify [--quiet] [--short[=N] | --abbrev-ref]
 * --end-of-options REF. short_len 0 = full; 4..64 = --short=N;
 * abbrev_ref with short_len is CU_EINVAL. */
typedef struct cu_git_rev_parse_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool quiet;
  unsigned short_len;
  bool abbrev_ref;
} cu_git_rev_parse_opts;
#define CU_GIT_REV_PARSE_OPTS_INIT {.size = sizeof(cu_git_rev_parse_opts)}
int cu_git_rev_parse(const cu_git_ref *ref, const cu_git_rev_parse_opts *opts,
                     cu_cmd **ret) CU_NODISCARD CU_NONNULL(3);

/** git clone [--depth N] [--branch B] [--bare] -- URL DEST.
 * `url`: a URL or a path; control bytes, a leading '-' and the `ext::`
 * and `fd::` transports (which run commands) are refused. depth 0 = full;
 * depth < 0 is CU_EINVAL. */
typedef struct cu_git_clone_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  int depth;
  const cu_git_ref *branch;
  bool bare;
} cu_git_clone_opts;
#define CU_GIT_CLONE_OPTS_INIT {.size = sizeof(cu_git_clone_opts)}
int cu_git_clone(const char *url, const cu_safe_path *dest,
                 const cu_git_clone_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(4);

/** git fetch [--prune] [--tags] [--depth=N] [REMOTE [REF]]. `remote` is a
 * one-level name checked by the ref rules ("origin"); REF needs remote. */
typedef struct cu_git_fetch_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  const cu_git_ref *remote;
  const cu_git_ref *ref;
  bool prune;
  bool tags;
  int depth;
} cu_git_fetch_opts;
#define CU_GIT_FETCH_OPTS_INIT {.size = sizeof(cu_git_fetch_opts)}
int cu_git_fetch(const cu_git_fetch_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(2);

/** git log --no-color [--format=F] [-n N] [REF] --. max_count 0 = all. */
typedef struct cu_git_log_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  const char *format; /**< pretty format ("%H %s"); NULL = git's default */
  int max_count;
  const cu_git_ref *ref;
} cu_git_log_opts;
#define CU_GIT_LOG_OPTS_INIT {.size = sizeof(cu_git_log_opts)}
int cu_git_log(const cu_git_log_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(2);

/** git diff --stat --no-color [--cached] [FROM [TO]] --. TO needs FROM. */
typedef struct cu_git_diff_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool cached;
  const cu_git_ref *from;
  const cu_git_ref *to;
} cu_git_diff_opts;
#define CU_GIT_DIFF_OPTS_INIT {.size = sizeof(cu_git_diff_opts)}
int cu_git_diff_stat(const cu_git_diff_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(2);

/** git init [--bare] [--initial-branch=B] [--quiet] -- DIR. */
typedef struct cu_git_init_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool bare;
  bool quiet;
  const cu_git_ref *initial_branch;
} cu_git_init_opts;
#define CU_GIT_INIT_OPTS_INIT {.size = sizeof(cu_git_init_opts)}
int cu_git_init(const cu_safe_path *dir, const cu_git_init_opts *opts,
                cu_cmd **ret) CU_NODISCARD CU_NONNULL(3);

/** git add [--all] -- PATH...; n_paths 0 needs `all`. */
typedef struct cu_git_add_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool all;
} cu_git_add_opts;
#define CU_GIT_ADD_OPTS_INIT {.size = sizeof(cu_git_add_opts)}
int cu_git_add(const cu_safe_path *const *paths, size_t n_paths,
               const cu_git_add_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(4);

/** git commit [--all] [--allow-empty] [--quiet] -m MESSAGE. The message
 * may hold newlines and tabs, no other control bytes, and not be empty. */
typedef struct cu_git_commit_opts {
  size_t size;
  const cu_catalogue *catalogue; /**< NULL = default */
  const cu_safe_path *repo;      /**< `-C repo`; NULL = the run's cwd */
  bool all;
  bool allow_empty;
  bool quiet;
} cu_git_commit_opts;
#define CU_GIT_COMMIT_OPTS_INIT {.size = sizeof(cu_git_commit_opts)}
int cu_git_commit(const char *message, const cu_git_commit_opts *opts,
                  cu_cmd **ret) CU_NODISCARD CU_NONNULL(3);

/* ----------------------------------------------------------------- rsync */

/**
 * rsync [-a] [-r] [--delete] [-n] [-v] [-z] [--include=P]... [--exclude=P]...
 * -- SRC... DEST. Sources keep their trailing slash ("a/" = the contents of
 * a); a relative path whose first component holds ':' gets `./` so rsync
 * never reads it as host:path. delete without archive or recursive is
 * CU_EINVAL (rsync refuses it). Includes are emitted before excludes
 * (rsync's first match wins: `--include='*.c' --exclude='*'`). Patterns:
 * non-empty, no control bytes.
 */
typedef struct cu_rsync_opts {
  size_t size;
  const cu_catalogue *catalogue;
  bool archive;
  bool recursive;
  bool delete_extraneous;
  bool dry_run;
  bool verbose;
  bool compress;
  const char *const *include;
  size_t n_include;
  const char *const *exclude;
  size_t n_exclude;
} cu_rsync_opts;
#define CU_RSYNC_OPTS_INIT {.size = sizeof(cu_rsync_opts)}
int cu_rsync(const cu_safe_path *const *sources, size_t n_sources,
             const cu_safe_path *dest, const cu_rsync_opts *opts,
             cu_cmd **ret) CU_NODISCARD CU_NONNULL(5);

/* ------------------------------------------------------------------- tar */

typedef enum cu_tar_compression {
  CU_TAR_AUTO = 0, /**< create: none; list/extract: tar detects it */
  CU_TAR_NONE,
  CU_TAR_GZIP,  /**< -z */
  CU_TAR_BZIP2, /**< -j */
  CU_TAR_XZ,    /**< -J */
} cu_tar_compression;

/** Options shared by the tar builders (GNU tar). */
typedef struct cu_tar_opts {
  size_t size;
  const cu_catalogue *catalogue;
  cu_tar_compression compression;
  const cu_safe_path *directory; /**< create: -C DIR before the members */
  bool verbose;                  /**< -v */
  bool allow_unsafe_members;     /**< extract: -P (absolute names and `..`
                                      kept): off by default */
} cu_tar_opts;
#define CU_TAR_OPTS_INIT {.size = sizeof(cu_tar_opts)}

/** tar -c [-z|-j|-J] -f ARCHIVE [-C DIR] -- MEMBER... (n_members >= 1). */
int cu_tar_create(const cu_safe_path *archive,
                  const cu_safe_path *const *members, size_t n_members,
                  const cu_tar_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(5);

/** tar -t [-z|-j|-J] -f ARCHIVE. */
int cu_tar_list(const cu_safe_path *archive, const cu_tar_opts *opts,
                cu_cmd **ret) CU_NODISCARD CU_NONNULL(3);

/**
 * tar -x [-z|-j|-J] -f ARCHIVE -C DEST --no-same-owner
 * --no-same-permissions --no-overwrite-dir. Containment (docs/design.md,
 * "tar extraction"): GNU tar without -P strips a leading '/' from member
 * names (so they land inside DEST), refuses members whose name holds a
 * `..` component (skipped, tar exits 2, the run is not ok), and creates
 * symlinks whose target is absolute or climbs with `..` only after every
 * other member, so no member is written through them.
 */
int cu_tar_extract(const cu_safe_path *archive, const cu_safe_path *dest,
                   const cu_tar_opts *opts, cu_cmd **ret)
    CU_NODISCARD CU_NONNULL(4);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_BUILDERS_H */
