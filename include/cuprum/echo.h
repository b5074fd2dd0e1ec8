/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/echo.h
 * @brief Echo settings: what a person sees, not what may run.
 *
 * Two convenience switches, both off by default:
 *
 * | switch | meaning                                                   |
 * |--------|-----------------------------------------------------------|
 * | cmd    | print "+ <command>" to the echo sink before each run (`set -x`) |
 * | output | captured stdout/stderr is also echoed (capture becomes tee) |
 *
 * They are kept apart from the security policy (cuprum/policy.h): they have
 * no floor and no "only tighten" rule. Any scope may turn them on or off
 * for itself and the scopes nested in it; the thread's root scope starts
 * with them off.
 *
 * The operator: the environment variable CUPRUM_ECHO, read once per
 * process, e.g. `CUPRUM_ECHO=cmd=on`. Syntax as for CUPRUM_POLICY
 * (comma-separated `key=value`, each key at most once): `cmd=on|off`,
 * `output=on|off` (on/allow/yes/true/1, off/deny/no/false/0). The operator's
 * value wins outright over the program's (it is about what a person sees).
 * An invalid CUPRUM_ECHO fails closed like an invalid CUPRUM_POLICY: runs
 * fail with CU_EINVAL and a message listing the valid keys.
 *
 * Thread-safety: every function acts on the calling thread's scope stack.
 */
#ifndef CUPRUM_ECHO_H
#define CUPRUM_ECHO_H

#include "attrs.h"

#include "policy.h" /* cu_switch */

#ifdef __cplusplus
extern "C" {
#endif

/** The echo switches. Zero fields mean "inherit". Frozen: embedded by
 * value at the end of cu_scope_config, it never grows (docs/design.md, "The
 * ABI rule"). */
typedef struct cu_echo {
  cu_switch cmd;    /**< `set -x` echo of commands (default off) */
  cu_switch output; /**< tee captured output (default off) */
} cu_echo;

/** Name of the operator's environment variable. */
#define CU_ECHO_ENV "CUPRUM_ECHO"

/**
 * Change the current scope's echo settings (the thread's root scope when
 * no scope is pushed). Non-zero fields replace the scope's own settings.
 * Errors: CU_EINVAL (NULL, out-of-range value, invalid CUPRUM_ECHO),
 * CU_EPOLICY (invalid CUPRUM_POLICY, read the first time a thread uses its
 * scopes), CU_ENOMEM.
 */
int cu_echo_set(const cu_echo *changes) CU_NODISCARD CU_NONNULL(1);

/**
 * The effective echo settings of the calling thread's current scope, the
 * operator's applied, every field concrete. Errors: CU_EINVAL.
 */
int cu_echo_get(cu_echo *ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Parse a string in the CUPRUM_ECHO syntax. Fields not named stay zero.
 * NULL or "" gives all zero. Errors: CU_EINVAL naming the bad item.
 */
int cu_echo_parse(const char *spec, cu_echo *ret) CU_NODISCARD CU_NONNULL(2);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_ECHO_H */
