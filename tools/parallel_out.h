/* SPDX-License-Identifier: MIT */
/* `cuprum parallel`: the batch read from FILE, and its results as JSON
 * lines and as an exit status. Tool-internal. */
#ifndef CUPRUM_TOOLS_PARALLEL_OUT_H
#define CUPRUM_TOOLS_PARALLEL_OUT_H

#include <jansson.h>

#include "cli.h"

/* One command of the batch: its argv as read, and the command built. */
typedef struct batch_line {
  json_t *argv;  /* JSON array of strings (owned reference) */
  unsigned line; /* 1-based line number in FILE */
  cu_cmd *cmd;
} batch_line;

typedef struct batch {
  const char *name; /* FILE, or "<stdin>", for messages */
  batch_line *lines;
  size_t n, cap;
  cu_batch_item *items; /* one per line, in order */
  cu_run_opts opts;     /* shared by every item */
} batch;

/* Print one JSON object per item on stdout, in submission order. Returns 0,
 * or the exit status after printing why (out of memory, stdout closed). */
int cli_parallel_print(const batch *b, const cu_parallel_result *r);

/* Exit status of a finished batch: 0 when all ok, else the first failure's
 * status as for `cuprum run`, 124 when the deadline expired, 128+N when a
 * forwarded signal N cancelled it. Prints a summary line on stderr when
 * not all ok, naming the first failure. `deadline_text` is --deadline as given (or NULL). */
int cli_parallel_status(const batch *b, const char *deadline_text,
                        const cu_parallel_result *r);

#endif /* CUPRUM_TOOLS_PARALLEL_OUT_H */
