/* SPDX-License-Identifier: MIT */
/*
 * --events FILE, --log FORMAT and -x, shared by `run` and `parallel`: they
 * attach libcuprum's own machinery (an observer writing cu_event_format()
 * JSON Lines, the logging hook, the echo_cmd policy switch) to the thread's
 * root scope for the life of the subcommand. Tool-internal.
 */
#ifndef CUPRUM_TOOLS_OBSERVE_H
#define CUPRUM_TOOLS_OBSERVE_H

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"

/* Long-option values; each subcommand's option table lists them. */
enum { CLI_OPT_EVENTS = 400, CLI_OPT_LOG };

#define CLI_OBSERVE_LONG_OPTIONS                                               \
  {"events", required_argument, NULL, CLI_OPT_EVENTS},                         \
      {"log", required_argument, NULL, CLI_OPT_LOG},                           \
      {"xtrace", no_argument, NULL, 'x'}

#define CLI_OBSERVE_HELP                                                       \
  "  --events FILE      write every event as a JSON line to FILE (- for\n"    \
  "                     stderr); schema: docs/users-guide.md\n"                \
  "  --log FORMAT       log each command's start and exit to stderr, as\n"    \
  "                     human, logfmt or json\n"                               \
  "  -x, --xtrace       print '+ COMMAND' to stderr before running it\n"

/* What was asked for. Strings point into argv. */
typedef struct cli_observe_opts {
  const char *events;  /* NULL = none */
  bool log;
  cu_log_format log_format;
  bool xtrace;
} cli_observe_opts;

/* Handle option `opt` if it is one of the above: returns 0 when handled,
 * a usage error's exit status when the value is bad, or -1 when `opt` is
 * not an observe option. */
int cli_observe_option(cli_observe_opts *o, const char *sub, int opt,
                       const char *arg);

/* What is attached while the subcommand runs. */
typedef struct cli_observer {
  const char *events_path;
  FILE *events;      /* the events file (or stderr) */
  cu_hook *events_hook, *log_hook;
} cli_observer;

/* Attach everything `o` asks for. Returns 0, or the exit status after
 * printing why (unwritable FILE, a policy refusing the switch). */
int cli_observe_begin(const cli_observe_opts *o, cli_observer *ret);

/* Detach and close. Returns `status`, or 125 if it was 0 and some events
 * could not be written (after saying so). */
int cli_observe_end(cli_observer *s, int status);

#endif /* CUPRUM_TOOLS_OBSERVE_H */
