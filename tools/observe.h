/* SPDX-License-Identifier: MIT */
/*
 * --events FILE, --log FORMAT, -x and the telemetry options (--metrics,
 * --trace-endpoint, --trace-file, --trace-args, --redact), shared by `run`
 * and `parallel`: they attach libcuprum's own machinery (an observer
 * writing cu_event_format() JSON Lines, the logging hook, the `cmd` echo
 * setting, metrics, a tracer) to the thread's root scope for the
 * life of the subcommand. Tool-internal.
 */
#ifndef CUPRUM_TOOLS_OBSERVE_H
#define CUPRUM_TOOLS_OBSERVE_H

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"

/* Long-option values; each subcommand's option table lists them. */
enum {
  CLI_OPT_EVENTS = 400,
  CLI_OPT_LOG,
  CLI_OPT_METRICS,
  CLI_OPT_TRACE_ENDPOINT,
  CLI_OPT_TRACE_FILE,
  CLI_OPT_TRACE_ARGS,
  CLI_OPT_REDACT,
};

#define CLI_OBSERVE_LONG_OPTIONS                                               \
  {"events", required_argument, NULL, CLI_OPT_EVENTS},                         \
      {"log", required_argument, NULL, CLI_OPT_LOG},                           \
      {"xtrace", no_argument, NULL, 'x'},                                      \
      {"metrics", required_argument, NULL, CLI_OPT_METRICS},                   \
      {"trace-endpoint", required_argument, NULL, CLI_OPT_TRACE_ENDPOINT},     \
      {"trace-file", required_argument, NULL, CLI_OPT_TRACE_FILE},             \
      {"trace-args", no_argument, NULL, CLI_OPT_TRACE_ARGS},                   \
      {"redact", required_argument, NULL, CLI_OPT_REDACT}

#define CLI_OBSERVE_HELP                                                       \
  "  --events FILE      write every event as a JSON line to FILE (- for\n"    \
  "                     stderr); schema: docs/users-guide.md\n"                \
  "  --log FORMAT       log each command's start and exit to stderr, as\n"    \
  "                     human, logfmt or json\n"                               \
  "  -x, --xtrace       print '+ COMMAND' to stderr before running it\n"    \
  "  --metrics FILE     write Prometheus metrics to FILE at exit (textfile\n" \
  "                     collector format, replaced atomically)\n"            \
  "  --trace-endpoint URL  send OpenTelemetry spans to the OTLP/HTTP\n"       \
  "                     endpoint URL (e.g. http://127.0.0.1:4318/v1/traces)\n" \
  "  --trace-file FILE  append OpenTelemetry spans to FILE (OTLP JSON lines)\n" \
  "  --trace-args       record each command's argv in its span (redacted)\n" \
  "  --redact PATTERN   show argv elements and env values matching the glob\n" \
  "                     PATTERN as *** in logs, events, metrics and spans\n" \
  "                     (repeatable; names like *TOKEN* *SECRET* *PASSWORD*\n" \
  "                     *KEY* are always hidden)\n"

/* What was asked for. Strings point into argv. */
typedef struct cli_observe_opts {
  const char *events;  /* NULL = none */
  bool log;
  cu_log_format log_format;
  bool xtrace;
  const char *metrics;        /* --metrics FILE */
  const char *trace_endpoint; /* --trace-endpoint URL */
  const char *trace_file;     /* --trace-file FILE */
  bool trace_args;
  const char **redact;        /* --redact patterns (malloc'd array) */
  size_t n_redact;
} cli_observe_opts;

/* Free what option parsing allocated. */
void cli_observe_opts_free(cli_observe_opts *o);

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
  cu_redact *redact;
  cu_metrics *metrics;
  const char *metrics_path;
  cu_hook *metrics_hook;
  cu_tracer *tracer;
  cu_hook *tracer_hook;
  void *transport; /* cu_otel_http, when built with libcuprum-otel */
} cli_observer;

/* Attach everything `o` asks for. Returns 0, or the exit status after
 * printing why (unwritable FILE, a policy refusing the switch). */
int cli_observe_begin(const cli_observe_opts *o, cli_observer *ret);

/* Detach and close. Returns `status`, or 125 if it was 0 and some events
 * could not be written (after saying so). */
int cli_observe_end(cli_observer *s, int status);

#endif /* CUPRUM_TOOLS_OBSERVE_H */
