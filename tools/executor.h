/* SPDX-License-Identifier: MIT */
/*
 * `cuprum parallel`'s executors: where one validated batch item runs.
 * Tool-internal. The per-item pipeline is
 *
 *   input line -> validated item (cli_item: argv checked against the
 *   catalogue, the shared run options) -> make_cmd: the cu_cmd to run ->
 *   the library runs it -> result_fields: the result's JSON fields and
 *   captured streams -> output line and job log line.
 *
 * The local executor runs the item's own command. Another executor (Slurm)
 * wraps the item in a command of its own (`srun ... cuprum <node-side
 * subcommand>` with the item on stdin) and decodes what that command
 * printed into the same fields, adding its own (such as "node").
 */
#ifndef CUPRUM_TOOLS_EXECUTOR_H
#define CUPRUM_TOOLS_EXECUTOR_H

#include <jansson.h>

#include "cli.h"

/* One validated batch item. */
typedef struct cli_item {
  size_t index;            /* 0-based position in the batch */
  unsigned line;           /* 1-based line number in the input */
  json_t *argv;            /* JSON array of strings, as read (borrowed) */
  const cu_run_opts *opts; /* stdin, capture limit, grace, session (shared) */
  int64_t timeout_ms;      /* per item; 0 = none */
} cli_item;

/* Captured output to print: borrowed, valid until the next call on the
 * same executor or until the item's result is freed. Bytes, not text: the
 * printer writes them as JSON strings (invalid UTF-8 becomes U+FFFD). */
typedef struct cli_streams {
  const char *out, *err;
  size_t out_len, err_len;
} cli_streams;

typedef struct cli_executor cli_executor;
struct cli_executor {
  const char *name; /* "local", ... (for messages) */
  /* The command that runs `item`, built against `cat` (the allowlist: an
   * executor that runs the item elsewhere still checks it here first).
   * `where` prefixes messages ("FILE:LINE: "). Returns 0 with *ret owned by
   * the caller, or the exit status after printing why. */
  int (*make_cmd)(cli_executor *ex, const cu_catalogue *cat,
                  const cli_item *item, const char *where, cu_cmd **ret);
  /* Fill `fields` (a JSON object, owned by the caller) with the result's
   * fields: state, exit_code, signal, ok, timed_out, duration_ms,
   * start_time (Unix seconds, real), status (the exit status `cuprum run`
   * would give: 0, the code, 128+N, 124, 125-127; 125 when skipped),
   * stdout_truncated, stderr_truncated, stdout_total, stderr_total, error
   * (failed to start), plus the executor's own; and `streams` with the
   * captured output. The caller adds index, line, argv and retries.
   * Returns 0, or -1 out of memory. */
  int (*result_fields)(cli_executor *ex, const cli_item *item,
                       const cu_item_result *ir, json_t *fields,
                       cli_streams *streams);
  void *state; /* the executor's own */
  /* Optional (NULL = item->opts): the run options of the command make_cmd
   * built for `item`, when they differ per item (the Slurm executor hands
   * each item to srun on stdin). Valid until result_fields for the item. */
  const cu_run_opts *(*run_opts)(cli_executor *ex, const cli_item *item);
  /* Optional: called once after the batch, `stopped` when it ended early
   * (signal, halt, deadline): the Slurm executor then cancels what is left
   * on the cluster (scancel TERM, KILL after the grace) and waits for it. */
  void (*finish)(cli_executor *ex, bool stopped);
  /* The executor enforces each item's timeout itself (Slurm: cuprum on the
   * node does): the runner must then set no local per-item timeout. */
  bool remote_timeout;
  /* The command's own stdout and stderr are not the item's (Slurm: srun
   * prints the node's result line): --results then writes the streams
   * result_fields lends, the item's capture as the node sent it, instead
   * of teeing the command's output. */
  bool remote_streams;
};

/* The executor that runs items on this machine (static; nothing to free). */
cli_executor *cli_executor_local(void);

#endif /* CUPRUM_TOOLS_EXECUTOR_H */
