/* SPDX-License-Identifier: MIT */
/*
 * The Slurm executor of `cuprum parallel --executor slurm` (executor.h):
 * each item, checked against the catalogue here, runs as
 * `srun --job-name=NAME ... /abs/cuprum exec-item` with the item as JSON on
 * srun's stdin (no shell, no Slurm tokeniser sees argv); the result line
 * the node side prints is decoded into the local executor's fields, plus
 * "host" and "slurm_job_id". A batch stopped early ends with
 * `scancel --signal=TERM`, then KILL after the grace, of the batch's jobs,
 * and waits until Slurm lists none. docs/scale-out.md. Tool-internal.
 */
#ifndef CUPRUM_TOOLS_EXECUTOR_SLURM_H
#define CUPRUM_TOOLS_EXECUTOR_SLURM_H

#include <stdint.h>

#include "executor.h"

/* The --slurm-* options as given. Strings point into argv. */
typedef struct slurm_opts {
  const char *partition; /* --slurm-partition, or NULL */
  int64_t time_min;      /* --slurm-time, whole minutes; 0 = derived */
  const char **extra;    /* --slurm-opt values, in order */
  size_t n_extra;
  const char *cuprum;    /* --slurm-cuprum: the node's cuprum; NULL = this
                            executable's absolute path */
  int64_t grace_ms;      /* --grace; -1 = the default */
  size_t max_output;     /* --max-output; 0 = unlimited */
  char **node_args;      /* the containment and confinement options as
                            given ("--limit=nofile=64", ...), in order:
                            passed to `cuprum exec-item`, which applies
                            them to the item on the node (owned) */
  size_t n_node_args;
} slurm_opts;

/* Append one --slurm-opt. Returns 0 or CLI_EXIT_FAILURE (out of memory). */
int slurm_opts_extra(slurm_opts *so, const char *value);

/* Append one containment or confinement option for the node, as
 * "--NAME" (arg NULL) or "--NAME=ARG". Returns 0 or CLI_EXIT_FAILURE (out
 * of memory). */
int slurm_opts_node_arg(slurm_opts *so, const char *name, const char *arg);
void slurm_opts_free(slurm_opts *so);

/* Create the executor: resolves srun, scancel and squeue (a catalogue of
 * the executor's own) and cuprum's path, names the batch. `so` must outlive
 * it. Returns 0 with *ret, or the exit status after printing why. */
int cli_executor_slurm_new(const slurm_opts *so, cli_executor **ret);

/* NULL-safe. Returns NULL. */
cli_executor *cli_executor_slurm_free(cli_executor *ex);

#endif /* CUPRUM_TOOLS_EXECUTOR_SLURM_H */
