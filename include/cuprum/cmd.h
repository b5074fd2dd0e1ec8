/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/cmd.h
 * @brief Typed command builder: a program from a catalogue plus its argv.
 *
 * A cu_cmd is built from a catalogued program and arguments appended one at a
 * time. There is no shell anywhere: every argument reaches the child's argv
 * exactly as given.
 *
 * Errors are sticky: the first failing builder call records its code in the
 * command, later builder calls return it without doing anything, and cu_run()
 * refuses to run the command with that code. So a chain of builder calls may
 * be checked once, at the end, with cu_cmd_status() or the run's return.
 *
 * The chain starts at the constructor: when cu_cmd_new() (or
 * cu_unsafe_cmd_new()/cu_unsafe_cmd_from_argv()) fails, `cmd` stays NULL
 * and the calling thread remembers that failure. A NULL command given to a
 * builder call, cu_run(), cu_loop_spawn() or cu_pipeline_add() then returns
 * the constructor's code (e.g. CU_EUNKNOWN_PROGRAM) with a message giving
 * its reason, not a bare "command is NULL" (CU_EINVAL). The next successful
 * constructor call on the thread forgets it.
 *
 * Thread-safety: a cu_cmd may be used by one thread at a time while it is
 * being built; once built it may be run from many threads at once (runs only
 * read it).
 */
#ifndef CUPRUM_CMD_H
#define CUPRUM_CMD_H

#include "attrs.h"

#include <stdarg.h>
#include <stddef.h>

#include "catalogue.h"
#include "program.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_cmd cu_cmd;

/**
 * Start a command for `program`, checked against `cat` (NULL = default
 * catalogue) at build time, and resolved to an absolute path.
 * Errors: CU_EUNKNOWN_PROGRAM (message names the program), CU_ENOTFOUND,
 * CU_EINVAL, CU_ENOMEM. On error *ret is untouched.
 */
int cu_cmd_new(const cu_catalogue *cat, cu_program program, cu_cmd **ret)
    CU_NONNULL(3);

/*
 * Every builder call below appends to `cmd` and returns 0 or a sticky
 * error (recorded in cmd; see above): CU_EINVAL (a NULL argument or
 * format, a bad flag name), CU_ENULARG (cu_cmd_argn: a NUL byte),
 * CU_ENOMEM; an earlier call's code once one failed; for a NULL cmd, the
 * thread's last constructor failure, else CU_EINVAL. Arguments are copied.
 */

/** Append one argument (copied). NULL → CU_EINVAL. */
int cu_cmd_arg(cu_cmd *cmd, const char *arg) CU_NONNULL(2);

/** Append a length-delimited argument; a NUL byte in it → CU_ENULARG. */
int cu_cmd_argn(cu_cmd *cmd, const char *arg, size_t len) CU_ACCESS_RO(2, 3);

/** Append several arguments; the list ends with NULL. */
int cu_cmd_args(cu_cmd *cmd, ...) CU_SENTINEL;

/** va_list form of cu_cmd_args(). */
int cu_cmd_vargs(cu_cmd *cmd, va_list ap);

/** Append one argument made with printf-style formatting. */
int cu_cmd_argf(cu_cmd *cmd, const char *fmt, ...)
    CU_NONNULL(2) CU_FORMAT_PRINTF(2, 3);

/**
 * Append a long option: cu_cmd_flag(c, "max_count", "3") → "--max-count=3";
 * value NULL → "--max-count". Underscores in the name become hyphens; a name
 * that is empty, starts with '-', or contains '=' or whitespace is CU_EINVAL.
 */
int cu_cmd_flag(cu_cmd *cmd, const char *name, const char *value) CU_NONNULL(2);

/** Append a decimal integer argument. */
int cu_cmd_arg_int(cu_cmd *cmd, long long value);

/** cu_cmd_flag() with a decimal integer value. */
int cu_cmd_flag_int(cu_cmd *cmd, const char *name, long long value)
    CU_NONNULL(2);

/** The command's sticky error: 0 if every builder call succeeded. For a
 * NULL cmd, the thread's last constructor failure (its code and message),
 * else CU_EINVAL: so a chain can be checked once, here. */
int cu_cmd_status(const cu_cmd *cmd) CU_NODISCARD;

/** The program this command runs. */
cu_program cu_cmd_program(const cu_cmd *cmd);

/** The resolved absolute path that the child will execve(). */
const char *cu_cmd_path(const cu_cmd *cmd);

/** The project owning the program (NULL for unsafe commands). */
const cu_project *cu_cmd_project(const cu_cmd *cmd);

/** Number of argv entries, argv[0] (the program name) included. */
size_t cu_cmd_argv_count(const cu_cmd *cmd);

/** NULL-terminated argv, argv[0] = program name. Owned by the command. */
const char *const *cu_cmd_argv(const cu_cmd *cmd);

/**
 * Render the command as one shell-quoted line for logs (`set -x` style)
 * that pastes back into a POSIX shell as the same argv. Words made only of
 * [A-Za-z0-9_@%+=:,./-] stay bare, except a first word holding '=' (a shell
 * would read `X=1` as an assignment) or a reserved word (`if`); other
 * printable words are single-quoted; a word holding a byte that must not
 * print raw (control characters, bytes that are not UTF-8, C1 and
 * bidirectional controls) is written as $'...' with \ooo octal escapes
 * ($'...' is POSIX.1-2024 and bash/zsh/ksh/mksh/busybox; not dash 0.5.12).
 * The line is valid UTF-8 without control characters. Writes a malloc'd
 * string the caller frees. Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_cmd_render(const cu_cmd *cmd, char **ret) CU_NODISCARD CU_NONNULL(2);

/** Release a command (NULL is ignored). Returns NULL. */
cu_cmd *cu_cmd_free(cu_cmd *cmd);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_CMD_H */
