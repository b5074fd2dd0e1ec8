/* SPDX-License-Identifier: MIT */
/*
 * --contain, --limit, --cgroup-parent and --time, shared by `cuprum run`
 * and `cuprum parallel` (contain_opts.c). Kept apart from the confinement
 * options (Landlock, no_new_privs) so each can grow on its own.
 */
#ifndef CUPRUM_TOOLS_CONTAIN_OPTS_H
#define CUPRUM_TOOLS_CONTAIN_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "cuprum/cuprum.h"

enum {
  CLI_OPT_CONTAIN = 500,
  CLI_OPT_LIMIT,
  CLI_OPT_CGROUP_PARENT,
  CLI_OPT_TIME,
};

#define CLI_CONTAIN_LONG_OPTIONS                                               \
  {"contain", optional_argument, NULL, CLI_OPT_CONTAIN},                       \
      {"limit", required_argument, NULL, CLI_OPT_LIMIT},                       \
      {"cgroup-parent", required_argument, NULL, CLI_OPT_CGROUP_PARENT}

#define CLI_CONTAIN_HELP                                                       \
  "  --contain[=best-effort]  run in a cgroup of its own: on timeout,\n"       \
  "                     cancel and at the end every process it started is\n"  \
  "                     killed, daemons included (needs cgroup v2; without\n" \
  "                     it: exit 125, or the process group with\n"            \
  "                     =best-effort)\n"                                       \
  "  --limit K=V,...    resource limits (repeatable): cpu=SECONDS, as=,\n"    \
  "                     data=, fsize=, core=BYTES, nofile=, nproc=N (set\n"    \
  "                     in the child); mem=BYTES, pids=N, cpus=FRACTION\n"     \
  "                     (cgroup, imply --contain); BYTES take K, M, G;\n"      \
  "                     best-effort skips a cgroup limit this host lacks\n"    \
  "  --cgroup-parent DIR  create the cgroups under the cgroup v2 DIR\n"

typedef struct cli_contain_opts {
  cu_contain_mode contain;
  cu_limit limits[32];
  size_t n_limits;
  bool best_effort;           /* --limit ...,best-effort */
  const char *cgroup_parent;  /* --cgroup-parent */
  bool time;                  /* --time (cuprum run only) */
} cli_contain_opts;

/* Handle `opt` if it is one of the above: 0 handled, a usage error's exit
 * status for a bad value, or -1 when `opt` is not ours. */
int cli_contain_option(cli_contain_opts *o, const char *sub, int opt,
                       const char *arg);

/* Copy what was asked for into run options. */
void cli_contain_apply(const cli_contain_opts *o, cu_run_opts *ro);

/* --time: one line on `f` like GNU time's: "cuprum: 0.52s user 0.01s
 * system 0:00.54 elapsed 5120KiB maxrss" plus the cgroup's CPU time and
 * path for a contained run, or why it was not contained. */
void cli_print_time(FILE *f, const cu_result *r);

#endif /* CUPRUM_TOOLS_CONTAIN_OPTS_H */
