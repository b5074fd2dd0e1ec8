/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/metrics.h
 * @brief Prometheus metrics: an observer that counts runs, rendered in the
 * text exposition format or written for node_exporter's textfile collector.
 *
 * Families (labels `program` and `project`; `project` is "" for unsafe
 * commands), all counters unless said:
 *  - cuprum_executions_total: commands spawned
 *  - cuprum_failures_total: commands that exited non-zero or by a signal
 *  - cuprum_duration_seconds (histogram): spawn to exit
 *  - cuprum_stdout_lines_total, cuprum_stderr_lines_total: output lines
 *  - cuprum_stdin_bytes_total, cuprum_stdin_errors_total
 *  - cuprum_timeouts_total, cuprum_cancellations_total
 *  - cuprum_signals_sent_total{signal="TERM"|"KILL"}
 *  - cuprum_spawn_failures_total{reason="<error name>"}: e.g. ENOTFOUND
 *  - cuprum_in_flight (gauge): commands spawned and not yet exited
 *  - cuprum_command_cpu_seconds_total{mode="user"|"system"}: CPU time of
 *    the reaped commands (getrusage(2)), in seconds
 *  - cuprum_series_dropped_total (no labels): events of a new (program,
 *    project) pair once `max_series` pairs exist (they are counted under
 *    program="_other").
 *
 * Label values never include the argv; a program name matching a value
 * pattern of the redactor is written as `***`. Label values are UTF-8, as
 * the exposition format requires: each byte of a program or project name
 * that starts no valid UTF-8 sequence is written as U+FFFD, and names
 * written alike share one series. A program named `_other` without a
 * project is counted in the overflow series (the same labels twice would
 * fail the scrape).
 *
 * Thread-safety: updates are lock-free atomics on a per-(program, project)
 * series found in a lock-free table; only the first event of a new pair
 * takes a mutex, to insert it. Rendering may run on any thread while runs
 * update the counters (each value is read atomically; a render is not a
 * snapshot across values). Output lines are counted only when the metrics
 * observer is attached with lines (the default), which makes every observed
 * run produce line events.
 */
#ifndef CUPRUM_METRICS_H
#define CUPRUM_METRICS_H

#include "attrs.h"

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "redact.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A set of metrics, shared by the observers attached for it. */
typedef struct cu_metrics cu_metrics;

/** Most histogram buckets accepted. */
#define CU_METRICS_MAX_BUCKETS 32

/** Metrics options. Versioned by `size`: start from CU_METRICS_OPTS_INIT. */
typedef struct cu_metrics_opts {
  size_t size;             /**< sizeof(cu_metrics_opts) */
  const double *buckets;   /**< upper bounds in seconds, strictly
                                increasing, finite, > 0; copied; NULL =
                                1 ms .. 1 h (see docs/users-guide.md) */
  size_t n_buckets;        /**< at most CU_METRICS_MAX_BUCKETS */
  size_t max_series;       /**< distinct (program, project) pairs; 0 = 256 */
  bool no_lines;           /**< do not count output lines (no line events) */
  const cu_redact *redact; /**< label redaction; borrowed, must outlive the
                                metrics; NULL = none needed (labels never
                                carry argv or environment) */
} cu_metrics_opts;

#define CU_METRICS_OPTS_INIT {.size = sizeof(cu_metrics_opts)}

/**
 * Make an empty set of metrics. Errors: CU_EINVAL (bad size or buckets:
 * the message says which), CU_ENOMEM. `*ret` is written only on success.
 */
int cu_metrics_new(const cu_metrics_opts *opts, cu_metrics **ret)
    CU_NODISCARD CU_NONNULL(2);

/**
 * Attach an observer updating `m` in the current scope (cuprum/context.h).
 * The observer holds its own reference to `m`, so cu_metrics_free() may
 * come first. `ret` may be NULL. Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_metrics_attach(cu_metrics *m, cu_hook **ret) CU_NODISCARD CU_NONNULL(1);

/**
 * Render every family in the Prometheus text exposition format (0.0.4):
 * HELP and TYPE lines, escaped label values, histograms with cumulative
 * `_bucket{le=...}` lines ending in `+Inf`, `_sum` and `_count`. `*ret` is
 * malloc'd and NUL-terminated (caller frees); `ret_len` may be NULL.
 * Errors: CU_EINVAL, CU_ENOMEM.
 */
int cu_metrics_render(const cu_metrics *m, char **ret, size_t *ret_len)
    CU_NODISCARD CU_NONNULL(1, 2);

/**
 * Write the rendering to `path` atomically for node_exporter's textfile
 * collector: a temporary file in the same directory (mode 0644), fsync,
 * then rename over `path`, so a scrape never reads half a file.
 * Errors: CU_EINVAL, CU_ENOMEM, CU_EIO (the message names the file and
 * the failing call; the temporary file is removed).
 */
int cu_metrics_write_textfile(const cu_metrics *m, const char *path)
    CU_NODISCARD CU_NONNULL(1, 2);

/** Release the caller's reference; returns NULL. NULL is ignored. */
cu_metrics *cu_metrics_free(cu_metrics *m);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_METRICS_H */
