/* SPDX-License-Identifier: MIT */
/* `cuprum parallel`: result lines written by a thread of their own (the
 * loop never waits for stdout), the job log and its resume, and the
 * progress line. Tool-internal. */
#ifndef CUPRUM_TOOLS_PARALLEL_OUT_H
#define CUPRUM_TOOLS_PARALLEL_OUT_H

#include <jansson.h>
#include <stdio.h>

#include "cli.h"
#include "executor.h"

/* ------------------------------------------------------------ results */

/* Result lines go to fd 1 from a writer thread: the batch's loop only
 * queues them. The queue holds at most CLI_OUT_QUEUE_MAX bytes: past that
 * (stdout's reader stopped reading), queueing waits; see docs/design.md. */
#define CLI_OUT_QUEUE_MAX (16u * 1024u * 1024u)

typedef struct cli_out cli_out;

/* Start the writer. Returns 0 or the exit status after printing why. */
int cli_out_begin(cli_out **ret);

typedef struct cli_joblog cli_joblog;

/* One result line: index, line, argv, retries, the executor's fields and
 * streams; with a job log (`log` open), its line for the item too, which
 * the output thread appends to the log only after the result line is on
 * stdout. Returns 0, or -1 out of memory. `fields` and `log` are
 * borrowed; `log` must stay open until cli_out_end(). */
int cli_out_item(cli_out *o, const cli_item *item, unsigned retries,
                 const json_t *fields, const cli_streams *streams,
                 const cli_joblog *log);

/* Wait for the queue to drain, stop the writer, free it. Returns 0 or the
 * exit status of a write error (after printing it). NULL-safe. */
int cli_out_end(cli_out *o);

/* ------------------------------------------------------------ job log */

struct cli_joblog {
  int fd, started_fd; /* the log and FILE.started, O_APPEND; -1 = none */
  char *path;
  unsigned char *logged, *ok, *started; /* resume: bitmaps by Seq */
  size_t n_bits;
  bool has_header;     /* the resumed log had GNU parallel's header line */
  bool retries_column; /* lines end with a tenth column, Retries */
};

/* The largest Seq a resume remembers: the bitmaps are sized by the largest
 * Seq read (3 x 32 MiB here), so a corrupt or hostile line must not claim
 * one that makes them take all memory (fuzz_joblog checks it). A line
 * beyond it is ignored, as are lines that are not ours. */
#define CLI_JOBLOG_MAX_SEQ (1ull << 28)

/* Open FILE for the job log. Without resume it is truncated and gets GNU
 * parallel's header line; with it, its lines (and FILE.started) are read
 * first. `retries` (--retries given) adds the Retries column to a new log;
 * a resumed log keeps the columns its header names. Returns 0 or the exit
 * status after printing why. */
int cli_joblog_open(cli_joblog *j, const char *path, bool resume,
                    bool retries);

/* Whether the resumed log already holds item `seq` (1-based) as done (or,
 * only_ok, as done with exit value 0 and no signal). */
bool cli_joblog_done(const cli_joblog *j, size_t seq, bool only_ok);

/* Whether item `seq` was started (FILE.started) but left no log line: a
 * SIGKILLed batch's item whose outcome cannot be known. */
bool cli_joblog_unknown(const cli_joblog *j, size_t seq);

/* Record that `seq` starts (FILE.started). When it has ended,
 * cli_out_item() queues its line: Seq Host Starttime JobRuntime Send
 * Receive Exitval Signal Command, and Retries (how many times it was run
 * again) when the log has that column. The line describes the last
 * attempt, as GNU parallel's does. */
void cli_joblog_started(cli_joblog *j, size_t seq);

/* fsync and close; forget the resume state. Returns 0 or -errno. */
int cli_joblog_close(cli_joblog *j);

/* ------------------------------------------------------------ progress */

typedef struct cli_progress {
  bool on;
  size_t total, done, failed, running;
  int64_t start_ns, drawn_ns;
} cli_progress;

/* Redraw the progress line on stderr (at most 10 times a second unless
 * `final`, which also ends the line). */
void cli_progress_draw(cli_progress *p, bool final);

#endif /* CUPRUM_TOOLS_PARALLEL_OUT_H */
