/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/sh.h
 * @brief Opt-in registration sugar: `cu_sh("ls", "-l", NULL)` for scripts.
 *
 * A script may register short names for catalogued programs once, then call
 * them by name. The name is only a key into this process's registry: a name
 * nobody registered is refused (CU_EUNKNOWN_PROGRAM) and nothing runs;
 * there is no PATH lookup of the name and no shell. A registered name runs
 * exactly like cu_cmd_new() + cu_run(): the program was checked against its
 * catalogue at registration and is resolved from it, and the run goes
 * through the current scope's allowlist, hooks and policy.
 *
 * When to avoid it: in libraries (the registry is process-wide, so two
 * components can disagree about a name), and wherever the arguments come
 * from outside (use a builder with typed values, cuprum/builders.h).
 * Despite the name, cu_sh() runs no shell.
 *
 * Thread-safety: all functions may be called from any thread; the registry
 * is guarded by a mutex (held only to look a name up, never during a run).
 */
#ifndef CUPRUM_SH_H
#define CUPRUM_SH_H

#include "attrs.h"

#include "catalogue.h"
#include "program.h"
#include "run.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Register `name` (1..64 bytes of [A-Za-z0-9._+-], not starting with '-')
 * for `program` of `cat` (NULL = the default catalogue). The program must be
 * in the catalogue now (CU_EUNKNOWN_PROGRAM otherwise); the registry keeps a
 * reference to the catalogue. Registering a name again replaces it.
 * Errors: CU_EINVAL (bad name), CU_EUNKNOWN_PROGRAM, CU_ENOTFOUND,
 * CU_ENOMEM. Thread-safe.
 */
int cu_sh_register(const cu_catalogue *cat, const char *name,
                   cu_program program) CU_NODISCARD CU_NONNULL(2);

/**
 * Run the program registered as `name` with the arguments that follow
 * (NULL-terminated), stdin from /dev/null, stdout and stderr inherited.
 * Returns the exit status (0..255), 128 + N when killed by signal N, or a
 * negative CU_E* code when it did not run: CU_EUNKNOWN_PROGRAM for an
 * unregistered name (nothing ran), or any error of cu_run() (CU_EFORBIDDEN
 * from the scope, CU_EPOLICY, ...). Thread-safe. Standard: the exit status
 * convention of POSIX.1-2017 XCU 2.8.2.
 */
int cu_sh(const char *name, ...) CU_NODISCARD CU_SENTINEL;

/**
 * cu_sh() that captures: runs with `opts` (NULL = defaults: capture both
 * streams) and hands back the result as cu_run() does (*ret set also on
 * a run error; release with cu_result_free()). Returns cu_run()'s code,
 * or CU_EUNKNOWN_PROGRAM with *ret NULL for an unregistered name.
 */
int cu_sh_run(const char *name, const char *const *args,
              const cu_run_opts *opts, cu_result **ret)
    CU_NODISCARD CU_NONNULL(4);

/** Forget every registered name (releases the catalogue references). */
void cu_sh_reset(void);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_SH_H */
