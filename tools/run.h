/* SPDX-License-Identifier: MIT */
/*
 * What `cuprum run` and `cuprum parallel` share: the parsed `run` options,
 * building a command from a catalogue name, echoing output through cuprum,
 * turning SIGINT/SIGTERM/SIGHUP into a cancel, and the exit status of a
 * finished command. Tool-internal; nothing here is installed.
 */
#ifndef CUPRUM_TOOLS_RUN_H
#define CUPRUM_TOOLS_RUN_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli.h"
#include "confine_opts.h"
#include "contain_opts.h"
#include "observe.h"

/* Everything `cuprum run` was asked for. Strings point into argv. */
typedef struct run_args {
  cli_catalogue_opts cat;
  cu_env_var *env;          /* --env / --unset overlay, in given order */
  size_t n_env;
  int64_t timeout_ms;       /* 0 = none */
  const char *timeout_text; /* as given, for the timeout message */
  int64_t grace_ms;         /* -1 = not given (library default) */
  const char *cwd;
  const char *stdin_path;
  bool quiet;
  bool foreground;          /* --foreground: keep the session and terminal */
  const char *pipe_token;   /* separates pipeline stages ("|") */
  bool wait_all;            /* pipelines: CU_FAIL_WAIT_ALL */
  bool sigpipe_fails;       /* pipelines: SIGPIPE deaths are failures */
  cli_observe_opts observe; /* --events, --log, -x */
  cli_contain_opts contain; /* --contain, --limit, --time */
  cli_confine_opts confine; /* --landlock-*, --connect, --no-new-privs */
  const char *const *command; /* PROGRAM [ARG...], with pipe tokens */
  int n_command;
} run_args;

/* --foreground: the terminal handed to the command's process group while
 * it runs (foreground.c). */
typedef struct cli_terminal {
  int fd;          /* a terminal among fds 0-2 that is ours to hand, or -1 */
  cu_hook *hook;   /* observer of the first stage's start */
  bool handed;     /* the command's group owns the terminal now */
} cli_terminal;

/* If cuprum is in its terminal's foreground process group, arrange for the
 * command's process group to get the terminal when it starts (and to be
 * continued, should it have stopped on SIGTTIN first). Returns 0, or the
 * exit status after printing why. */
int cli_terminal_begin(cli_terminal *t);

/* Take the terminal back (if it was handed) and detach. NULL-safe state. */
void cli_terminal_end(cli_terminal *t);

/* Build the command PROGRAM ARGS (argv[0..argc-1]): the catalogue decides,
 * before anything runs. `where` prefixes messages ("FILE:LINE: ") or is
 * NULL. Returns 0, or the exit status after printing why. */
int cli_build_command(const cu_catalogue *cat, const char *const *argv,
                      int argc, const char *where, cu_cmd **ret);

/* The library's grace_ms for --grace: -1 (not given) = 0 (its default),
 * 0 = CU_GRACE_NONE, else as given. */
int64_t cli_grace(int64_t grace_ms);

/* The run options for `a`: output straight to cuprum's own stdout and
 * stderr (inherited), or relayed by the library's stream engine when an
 * observer needs its lines, or discarded with --quiet; environment, cwd,
 * timeout, grace, stdin. */
cu_run_opts cli_make_run_opts(const run_args *a);

/* Create the cancel token and make SIGINT, SIGTERM and SIGHUP trigger it
 * (signals ignored at start-up stay ignored). Returns 0 or the exit status
 * after printing why. cli_cancel_end() restores the handlers and frees it. */
int cli_cancel_begin(cu_cancel **ret);
void cli_cancel_end(void);

/* The signals cli_cancel_begin() handles, as a set: a thread of the CLI
 * other than the main one is created with them blocked, so the handler
 * only ever runs on the main thread. */
void cli_cancel_sigset(sigset_t *set);

/* The forwarded signal that triggered the cancel, or 0. */
int cli_caught_signal(void);

/* Status of a finished process: 124 timed out, 128+N killed by signal N,
 * else its exit code (125 if it has none). */
int cli_status_of(const cu_result *r);

/* Status when the run was stopped from outside: 128+N when a forwarded
 * signal N cancelled it; else -1. (A closed stdout needs no case of its
 * own: the command dies of SIGPIPE, which cli_status_of() reports as 141.)
 */
int cli_status_stopped(bool cancelled);

/* Whether fd 0, 1 or 2 was closed when cuprum started (main.c fills it
 * with /dev/null, opened so that writes fail). */
bool cli_stdio_was_closed(int fd);

/* Output the command wrote to a stdout or stderr that was closed when we
 * started (those streams are captured, see cli_make_run_opts): a write
 * error, reported, with CLI_EXIT_FAILURE; -1 when nothing was lost. Either
 * argument may be NULL. */
int cli_status_lost(const cu_bytes *out, const cu_bytes *err);

/* Status when cu_run() or cu_pipeline_run() returned `err` (nothing ran, or
 * a spawn failed): prints the library's message unless a forwarded signal
 * cancelled it; 125 for an unusable --cwd, else cli_exit_for_error(). */
int cli_status_not_run(int err, cu_spawn_step stage);

/* Run the pipeline in a->command (split at a->pipe_token) with the
 * catalogue. Returns the exit status. */
int cli_run_pipeline(const run_args *a, const cu_catalogue *cat);

/* Whether a->command contains the pipe token (it is then a pipeline). */
bool cli_is_pipeline(const run_args *a);

#endif /* CUPRUM_TOOLS_RUN_H */
