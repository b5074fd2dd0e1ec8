/* SPDX-License-Identifier: MIT */
/*
 * Process creation and exit observation, below the job state machine.
 *
 * cu__spawn() starts one process with posix_spawn (glibc uses clone(VM|VFORK),
 * so the cost does not grow with the parent's memory): its own process group
 * (or an existing group), default signal dispositions and an empty mask,
 * exactly fds 0-2 inherited, an absolute path execve'd. Exec failures come
 * back synchronously from posix_spawn as an errno, never as a fake 127.
 */
#ifndef CUPRUM_PROC_H
#define CUPRUM_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "cuprum/run.h"

/* One resource limit the child sets on itself (setrlimit) before execve. */
typedef struct cu__rlimit_req {
  int resource;     /* RLIMIT_* */
  struct rlimit lim;
} cu__rlimit_req;

/*
 * A child-side step of confinement (spawn/confine.c): runs in the child
 * created by the clone3/fork path, after the fchdir and before the fds
 * are closed (see the order under cu__spawn_req). It runs either in the
 * parent's own memory (vfork-style clone3, CLONE_VM: the parent waits) or
 * in a copy made by clone3/fork from a possibly multi-threaded process:
 * only raw system calls, no malloc, no locks, no stdio, no writes to
 * memory but its own stack; mark it (and what it calls) CU__CHILD_FN. Returns 0, or a
 * positive errno value: the spawn then fails with step CU_STEP_CONFINE and
 * that errno, reported to the parent through the error pipe.
 */
typedef int (*cu__child_hook_fn)(const void *arg);

/*
 * Mark every function that runs in the child with this: on the
 * vfork-style path (clone3 with CLONE_VM) the child runs in the parent's
 * memory, so sanitizer instrumentation must not run there. Such functions
 * make raw system calls (syscall(2)) rather than libc wrappers that a
 * sanitizer intercepts, and write no memory but their own stack.
 */
#define CU__CHILD_FN __attribute__((no_sanitize("address", "undefined")))

typedef struct cu__spawn_req {
  const char *path;         /* absolute */
  char *const *argv;        /* NULL-terminated */
  char *const *envp;        /* NULL-terminated */
  int cwd_fd;               /* O_PATH directory fd, or -1 to inherit */
  int fd_in, fd_out, fd_err; /* >= 3 to dup2 onto 0/1/2, or -1 to inherit */
  pid_t pgid;               /* 0 = new group led by the child */
  bool setsid;              /* new session (and group) led by the child;
                               pgid is then ignored */
  /*
   * Child-side set-up that posix_spawn cannot do. When any of these is set
   * cu__spawn() takes the clone3 path (fork where clone3 is missing), whose
   * child does, in this fixed order (proc_fork.c, child()):
   *   1. enter the cgroup: CLONE_INTO_CGROUP puts it there at birth; on
   *      the fork fallback the child writes "0" to the cgroup's
   *      cgroup.procs first thing, before it runs anything of the
   *      caller's;
   *   2. default signal dispositions; setsid or setpgid;
   *   3. dup2 of fd_in/fd_out/fd_err onto 0-2; fchdir(cwd_fd);
   *   4. confine(confine_arg) (step CU_STEP_CONFINE): before the close,
   *      as it uses the Landlock ruleset fds the parent prepared;
   *   5. close every fd >= 3 (but the error pipe);
   *   6. rlimits, in array order (step CU_STEP_LIMITS);
   *   7. empty signal mask; execve (step CU_STEP_EXEC).
   * Unset fields are zero: the library's own fds are always > 2, so 0
   * means "none" for cgroup_fd.
   */
  const cu__rlimit_req *rlimits; /* n_rlimits entries */
  size_t n_rlimits;
  int cgroup_fd;            /* > 2: the cgroup directory to start in */
  cu__child_hook_fn confine; /* NULL: no confinement step */
  const void *confine_arg;
  bool child_path;          /* take the clone3 path even with nothing of
                               the above (tests, benchmarks) */
} cu__spawn_req;

/* Does this request need the clone3/fork child path? */
bool cu__spawn_needs_child(const cu__spawn_req *req);

/* How the last child-path spawn on this thread created its child:
 * "clone3", "clone3+cgroup" or "fork" (tests, events). */
const char *cu__spawn_child_method(void);

/*
 * Spawn. On success writes the pid. On failure returns a CU_E* code with
 * the errno in *ret_errno and the stage in *ret_stage (EXEC or SPAWN).
 */
int cu__spawn(const cu__spawn_req *req, pid_t *ret_pid, int *ret_errno,
              cu_spawn_step *ret_stage);

/* The child path (proc_fork.c): clone3 (CLONE_INTO_CGROUP when cgroup_fd
 * is set), or fork + exec where clone3 answers ENOSYS (valgrind, old
 * kernels) or the build/env forces it (CUPRUM_SPAWN_FORK, CUPRUM_NO_CLONE3
 * build option, CUPRUM_NO_CLONE3=1 in the environment); also the fallback
 * where posix_spawn cannot report exec failures. Same contract as
 * cu__spawn. */
int cu__spawn_fork(const cu__spawn_req *req, pid_t *ret_pid, int *ret_errno,
                   cu_spawn_step *ret_stage);

/* Whether posix_spawn reports exec failures synchronously here: assumed
 * with glibc >= 2.24, probed once only where there is a doubt (valgrind's
 * preload in LD_PRELOAD, or CUPRUM_SPAWN_PROBE=1); false when
 * CUPRUM_SPAWN_FORK forces the fork path. cu__spawn() uses the fork path
 * when it does not. */
bool cu__posix_spawn_reliable(void);

/* Test hook: how many probe spawns this process ran (0 or 1). */
int cu__spawn_probe_runs(void);

/* Whether pidfds work here (probed once; false under CUPRUM_NO_PIDFD or
 * where pidfd_open answers ENOSYS, as under valgrind). */
bool cu__pidfd_supported(void);

/* pidfd_open(pid) with O_CLOEXEC semantics (pidfds are always CLOEXEC), or
 * -1 with errno. */
int cu__pidfd_open(pid_t pid);

/*
 * Has the process exited? Non-blocking, does NOT reap (WNOWAIT), so the pid
 * (and the process group it leads) stays reserved until cu__reap().
 * Returns 1 and the wait status when exited, 0 when still running, or -1.
 * On 1, *ret_ru (optional) is the kernel's rusage of the exited process
 * (its own CPU time and peak RSS plus those of the children it reaped).
 */
int cu__peek_exit(pid_t pid, int pidfd, int *ret_status,
                  struct rusage *ret_ru);

/*
 * Has the process been stopped by a signal since the last call? Consumes
 * the stop report (never an exit status: WEXITED is not asked for).
 * Returns 1 with the stopping signal in *ret_sig, 0, or -1.
 */
int cu__peek_stop(pid_t pid, int pidfd, int *ret_sig);

/* Reap an exited process (blocking wait for that pid only). */
void cu__reap(pid_t pid, int pidfd);

/*
 * Can this process observe its children's exit statuses? Not when SIGCHLD
 * is ignored (SIG_IGN, inherited across execve) or has SA_NOCLDWAIT: the
 * kernel then reaps children itself. The library never changes a
 * disposition (process-wide state), it only reads it: 0, or CU_ESYS with
 * a message naming SIGCHLD and the fix. One system call; thread-safe.
 */
int cu__check_sigchld(void);

/* Test-only hooks (not thread-safe with respect to runs in flight):
 * force the fork + exec path, and make the next n pidfd_open calls fail
 * with EMFILE as a process out of descriptors would. */
void cu__spawn_force_fork_for_tests(bool on);
void cu__pidfd_fail_for_tests(int n);

/* Map a spawn errno to a CU_E* code (spawn_errno.c). */
int cu__spawn_errno_code(int err);

#endif /* CUPRUM_PROC_H */
