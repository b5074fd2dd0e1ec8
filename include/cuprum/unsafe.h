/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/unsafe.h
 * @brief The unsafe namespace: commands from an arbitrary program and argv.
 *
 * For the cases the catalogue cannot cover (a program named by user input, a
 * legacy integration handing over a ready argv), cu_unsafe_* builds a cu_cmd
 * without any catalogue. The result is an ordinary command (cu_cmd_arg() and
 * friends work on it, cu_run() runs it) with three differences that keep it
 * visible:
 *
 *  - it has no project and no catalogue (cu_cmd_project() is NULL);
 *  - every run is checked against the unsafe policy (cuprum/policy.h):
 *    allow runs it, warn (the default) runs it and sends one warning line
 *    naming the command to the scope's warning sink (stderr by default),
 *    deny refuses it with CU_EPOLICY before anything is spawned;
 *  - every event it produces has `unsafe` set, and restricted scopes still
 *    apply to it by program name.
 *
 * There is still no shell: the argv reaches the child exactly as given.
 *
 * Thread-safety: as for cu_cmd_new().
 */
#ifndef CUPRUM_UNSAFE_H
#define CUPRUM_UNSAFE_H

#include "attrs.h"

#include <stdbool.h>

#include "cmd.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * A command for `program`: an absolute path (must be an executable regular
 * file), or a bare name searched once on the parent's PATH the way the
 * catalogue does (absolute PATH entries only, so a writable current
 * directory cannot hijack it). A relative path containing '/' is CU_EINVAL.
 * argv[0] is `program` as given. Errors: CU_EINVAL, CU_ENOTFOUND (message
 * names the program), CU_EACCES (not executable), CU_ENOMEM. On error *ret
 * is untouched. Free with cu_cmd_free().
 */
int cu_unsafe_cmd_new(const char *program, cu_cmd **ret)
    CU_NONNULL(2);

/**
 * A command from a NULL-terminated argv: argv[0] is resolved as by
 * cu_unsafe_cmd_new() and the rest are appended as arguments. Errors as for
 * cu_unsafe_cmd_new(), plus CU_EINVAL for a NULL or empty argv.
 */
int cu_unsafe_cmd_from_argv(const char *const *argv, cu_cmd **ret)
    CU_NONNULL(2);

/** Whether the command was built by the unsafe namespace. */
bool cu_cmd_is_unsafe(const cu_cmd *cmd);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_UNSAFE_H */
