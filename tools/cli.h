/* SPDX-License-Identifier: MIT */
/*
 * Shared declarations of the `cuprum` command-line tool: exit statuses,
 * diagnostics, the options every subcommand that needs a catalogue accepts,
 * and the subcommand entry points. The tool uses only the public libcuprum
 * API (include/cuprum/); nothing here is installed.
 */
#ifndef CUPRUM_TOOLS_CLI_H
#define CUPRUM_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cuprum/cuprum.h>

/* Exit statuses, as GNU timeout(1) and env(1) use them, so scripts that
 * already understand those tools understand cuprum. */
enum {
  CLI_EXIT_OK = 0,
  CLI_EXIT_TIMEOUT = 124,   /* the command ran out of time */
  CLI_EXIT_FAILURE = 125,   /* cuprum's own error: usage, catalogue, policy */
  CLI_EXIT_CANNOT_RUN = 126, /* found, but execve() refused it */
  CLI_EXIT_NOT_FOUND = 127, /* no executable for an allowed program */
  CLI_EXIT_SIGNAL_BASE = 128, /* 128 + N: killed by signal N */
};

/* Print "cuprum: MESSAGE\n" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Print a usage error and a pointer to --help; returns CLI_EXIT_FAILURE. */
int cli_usage_error(const char *subcommand, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The exit status for a libcuprum error code that stopped a command from
 * running: 127 not found, 126 not executable, else 125. */
int cli_exit_for_error(int err);

/* Parse a strictly decimal number of seconds ("2", "0.25", ".5") into
 * milliseconds, rounding a non-zero value up to at least 1 ms. Rejects signs,
 * exponents, "inf"/"nan", junk and anything above CU_TIMEOUT_MAX_MS.
 * Returns 0, or -1 with *ret_reason saying why (to follow the value). */
int cli_parse_seconds(const char *text, int64_t *ret_ms,
                      const char **ret_reason);

struct option;

/* Called for each option of a subcommand; returns 0 or the exit status to
 * stop with. */
typedef int (*cli_option_fn)(void *ctx, int opt, const char *arg);

/* Parse a subcommand's options with getopt_long in "+" mode (options end
 * at "--" or the first operand, so a command's own options are never taken
 * for ours); 'h' prints help. `shortopts` must start with "+:" and contain
 * "h". Returns 0 with optind at the first operand, -1 after --help, or the
 * exit status of a usage error (unknown option, missing value, or what
 * on_option returned). */
int cli_parse_options(int argc, char **argv, const char *sub,
                      const char *shortopts, const struct option *longopts,
                      cli_option_fn on_option, void *ctx, void (*help)(void));

/* cli_parse_seconds() for option `option` of `sub`: 0, or a usage error's
 * exit status naming the option and the value. */
int cli_option_seconds(const char *sub, const char *option, const char *text,
                       int64_t *ret_ms);

/* --catalogue FILE and --allow PROG, shared by every subcommand that runs or
 * lists programs. */
typedef struct cli_catalogue_opts {
  const char *file;    /* NULL = the default catalogue */
  const char **allow;  /* --allow values, in order */
  size_t n_allow;
} cli_catalogue_opts;

/* Record one --allow value. Returns 0 or CLI_EXIT_FAILURE (out of memory). */
int cli_catalogue_opts_allow(cli_catalogue_opts *opts, const char *prog);

/* Build the active catalogue: the file (or a clone of the default), widened
 * with every --allow, which the widening policy must permit (cuprum turns
 * the widen switch on at its root scope; CUPRUM_POLICY=widen=deny refuses).
 * On failure prints why and returns CLI_EXIT_FAILURE. */
int cli_catalogue_build(const cli_catalogue_opts *opts, cu_catalogue **ret);

/* Release what the options own (not the strings: they are argv's). */
void cli_catalogue_opts_free(cli_catalogue_opts *opts);

/* Subcommands: argv[0] is the subcommand's name. They return the exit
 * status. */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_parallel(int argc, char **argv);
int cli_cmd_catalogue(int argc, char **argv);
int cli_cmd_exec_item(int argc, char **argv);
int cli_cmd_doctor(int argc, char **argv);

#endif /* CUPRUM_TOOLS_CLI_H */
