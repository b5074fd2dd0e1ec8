/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/confine.h
 * @brief Confinement of a run: no_new_privs and Landlock rules.
 *
 * A cu_confine says what the programs of a run may do once running:
 * whether they may gain privileges through execve (PR_SET_NO_NEW_PRIVS,
 * prctl(2)), which paths they may read, write or execute, and which TCP
 * ports they may bind or connect to (Landlock, Linux >= 5.13, network
 * rules ABI >= 4 / Linux >= 6.7; Documentation/userspace-api/landlock.rst).
 * The library builds the Landlock ruleset in the parent; the child only
 * calls prctl() and landlock_restrict_self() before execve.
 *
 * Two places ask for it: per run (cu_run_opts.confine) and per catalogue
 * project (cu_project_spec.confine). When both apply, both rulesets are
 * enforced one on top of the other (Landlock layers), so a run's rules can
 * only narrow what the project allows (docs/design.md, "Confinement").
 *
 * Where this host lacks Landlock, or lacks the ABI a rule needs, the run
 * fails with CU_EUNSUPPORTED before anything is spawned, unless
 * `best_effort` is set: then what cannot be enforced is skipped and the
 * result says what was applied (cu_result.confined,
 * cu_result_confine_note()).
 *
 * ABI (docs/design.md, "The ABI rule"): cu_confine starts with `size_t
 * size` and is set with CU_CONFINE_INIT; fields are only appended.
 * cu_confine_path is frozen (passed as an array).
 */
#ifndef CUPRUM_CONFINE_H
#define CUPRUM_CONFINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Access to a path (bits of cu_confine_path.access). */
enum {
  CU_ACCESS_READ = 1 << 0,  /**< read files, list directories */
  CU_ACCESS_WRITE = 1 << 1, /**< write, truncate, create, remove, rename */
  CU_ACCESS_EXEC = 1 << 2,  /**< execve files (reading them for an
                                 interpreter needs CU_ACCESS_READ too) */
};

/** One path rule: `access` to the file or to everything beneath the
 * directory `path` (absolute, must exist when the run starts). Frozen. */
typedef struct cu_confine_path {
  const char *path;
  unsigned access; /**< CU_ACCESS_* bits, at least one */
} cu_confine_path;

/** What cu_result.confined reports as enforced (bits). */
enum {
  CU_CONFINED_NO_NEW_PRIVS = 1 << 0, /**< PR_SET_NO_NEW_PRIVS set */
  CU_CONFINED_FS = 1 << 1,           /**< Landlock filesystem rules */
  CU_CONFINED_NET = 1 << 2,          /**< Landlock TCP port rules */
};

/**
 * Confinement rules. Every field's zero is "not asked for".
 *
 *  - Filesystem: restricted when `restrict_fs` is set or `n_paths` > 0.
 *    Then only the listed paths are reachable (plus, unless
 *    `no_system_paths`, read and execute access to /usr, /bin, /sbin,
 *    /lib*, read access to /etc, /proc, /dev/zero and /dev/urandom, read
 *    and write to /dev/null, and read and execute access to the program
 *    itself, which the dynamic loader and
 *    most programs need).
 *  - Network: connecting to TCP ports is restricted when
 *    `restrict_connect` is set or `n_connect` > 0 (only the listed ports
 *    stay allowed); binding likewise. UDP and UNIX sockets are not covered
 *    by Landlock.
 *  - Any Landlock rule implies `no_new_privs`.
 */
typedef struct cu_confine {
  size_t size;                  /**< sizeof(cu_confine); CU_CONFINE_INIT */
  bool no_new_privs;            /**< PR_SET_NO_NEW_PRIVS: setuid/setgid
                                     bits and file capabilities are ignored
                                     by execve */
  bool restrict_fs;             /**< Landlock filesystem rules even with
                                     no path listed */
  const cu_confine_path *paths; /**< n_paths path rules (copied) */
  size_t n_paths;
  bool no_system_paths;         /**< no implicit system paths */
  bool restrict_connect;        /**< TCP connect restricted to `connect` */
  const uint16_t *connect;      /**< n_connect TCP ports (copied) */
  size_t n_connect;
  bool restrict_bind;           /**< TCP bind restricted to `bind` */
  const uint16_t *bind;         /**< n_bind TCP ports (copied) */
  size_t n_bind;
  bool best_effort;             /**< skip what this host cannot enforce
                                     (reported in the result) instead of
                                     failing the run with CU_EUNSUPPORTED */
} cu_confine;

/** Initialiser of a cu_confine that asks for nothing. */
#define CU_CONFINE_INIT {.size = sizeof(cu_confine)}

/**
 * The Landlock ABI version this kernel offers (1 = Linux 5.13 filesystem
 * rules, 4 = TCP port rules, ...), or 0 when Landlock is not available
 * (kernel without it, disabled at boot, or a system call filter such as
 * valgrind's refusing it). Probed once with landlock_create_ruleset(NULL,
 * 0, LANDLOCK_CREATE_RULESET_VERSION). Never fails. Thread-safe.
 */
int cu_landlock_abi(void);

#ifdef __cplusplus
}
#endif

#endif /* CUPRUM_CONFINE_H */
