/* SPDX-License-Identifier: MIT */
/* The fields of one batch item's result line that every writer of such a
 * line shares: `cuprum parallel`'s local executor and `cuprum exec-item`
 * on a Slurm node (which the Slurm executor decodes into the same line).
 * Tool-internal. */
#ifndef CUPRUM_TOOLS_RESULT_FIELDS_H
#define CUPRUM_TOOLS_RESULT_FIELDS_H

#include <jansson.h>
#include <stdbool.h>

#include "cli.h"

/* Set the outcome: exit_code, signal, ok, timed_out, duration_ms (real,
 * milliseconds to the microsecond) and start_time (real, Unix seconds to
 * the microsecond). `res` NULL = nothing ran; `ran` says whether the
 * command ran (else exit_code, signal, duration_ms and start_time are
 * null); `ok` is the caller's verdict. Returns 0, or -1 out of memory. */
int cli_outcome_fields(json_t *o, const cu_result *res, bool ran, bool ok);

/* Set the output and accounting figures: stdout_truncated,
 * stderr_truncated, stdout_total, stderr_total (bytes), user_cpu_us,
 * sys_cpu_us, max_rss_kb, contained, cgroup_cpu_us (null unless
 * contained). `res` NULL = all zero. Returns 0, or -1 out of memory. */
int cli_usage_fields(json_t *o, const cu_result *res);

#endif /* CUPRUM_TOOLS_RESULT_FIELDS_H */
