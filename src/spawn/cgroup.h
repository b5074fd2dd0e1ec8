/* SPDX-License-Identifier: MIT */
/*
 * Per-run cgroups (cgroup v2) for containment: create, limit, kill, watch,
 * account, remove. docs/design.md, "Containment", says why each step is
 * done the way it is. All fds O_CLOEXEC and above 2; no blocking call but
 * small reads and writes of cgroupfs files (which never block).
 */
#ifndef CUPRUM_CGROUP_H
#define CUPRUM_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cuprum/run.h"

typedef struct cu__cgroup {
  char *path;      /* absolute path of the run's cgroup directory */
  int dir_fd;      /* O_DIRECTORY: CLONE_INTO_CGROUP target */
  int events_fd;   /* cgroup.events: POLLPRI/EPOLLPRI when it changes */
  bool killed;     /* cgroup.kill written */
  bool reused;     /* handed out again from the pool */
  bool poolable;   /* default parent, no cgroup limits: reusable */
  int64_t cpu_base; /* cpu.stat usage_usec when handed out (reused) */
  int peak_fd;     /* reused: memory.peak, reset when handed out, or -1 */
} cu__cgroup;

/*
 * Create a new empty cgroup for one run (or pipeline) beneath `parent`
 * (a cgroup v2 directory; NULL = "cuprum" beneath this process's own v2
 * cgroup, created when missing) and write the cgroup limits among
 * `limits` (memory.max, pids.max, cpu.max) into it. A limit whose
 * controller is not available fails with CU_EUNSUPPORTED unless
 * `best_effort`; then it is skipped and named in `note` (which is always
 * NUL-terminated, "" when nothing was skipped).
 * Errors (message set): CU_EUNSUPPORTED (no cgroup2 mount, no cgroup.kill,
 * cannot create: the message says why), CU_EINVAL (parent not a cgroup v2
 * directory), CU_ENOMEM.
 */
int cu__cgroup_create(const char *parent, const cu_limit *limits,
                      size_t n_limits, bool best_effort, cu__cgroup **ret,
                      char *note, size_t note_len);

/* Is any process left in it? 1 yes, 0 no, -1 on error (treated as empty
 * by callers: it is never waited for forever). Reads cgroup.events. */
int cu__cgroup_populated(const cu__cgroup *cg);

/* SIGKILL every process in it, descendants that left the process group
 * or session included (cgroup.kill, Linux >= 5.14). Idempotent. */
void cu__cgroup_kill(cu__cgroup *cg);

/* The whole cgroup's CPU time (cpu.stat usage_usec, in µs) and memory peak
 * (memory.peak, in bytes; -1 where the memory controller is missing). */
void cu__cgroup_stats(const cu__cgroup *cg, int64_t *ret_cpu_us,
                      int64_t *ret_mem_peak);

/* Close its fds and remove it (rmdir; it must be empty: kill and wait
 * first), or keep an empty one without limits for the next run of this
 * process (see cgroup.c, "Reuse"). NULL is ignored. */
void cu__cgroup_free(cu__cgroup *cg);

/* Is the rlimit kind a cgroup limit (memory.max, pids.max, cpu.max)? */
bool cu__limit_is_cgroup(cu_limit_kind kind);

#endif /* CUPRUM_CGROUP_H */
