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
#include <sys/types.h>

#include "cuprum/run.h"

typedef struct cu__spawn_req {
  const char *path;         /* absolute */
  char *const *argv;        /* NULL-terminated */
  char *const *envp;        /* NULL-terminated */
  int cwd_fd;               /* O_PATH directory fd, or -1 to inherit */
  int fd_in, fd_out, fd_err; /* >= 3 to dup2 onto 0/1/2, or -1 to inherit */
  pid_t pgid;               /* 0 = new group led by the child */
  bool setsid;              /* new session (and group) led by the child;
                               pgid is then ignored */
} cu__spawn_req;

/*
 * Spawn. On success writes the pid. On failure returns a CU_E* code with
 * the errno in *ret_errno and the stage in *ret_stage (EXEC or SPAWN).
 */
int cu__spawn(const cu__spawn_req *req, pid_t *ret_pid, int *ret_errno,
              cu_spawn_step *ret_stage);

/* The fork + exec fallback (proc_fork.c); same contract as cu__spawn. */
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
 */
int cu__peek_exit(pid_t pid, int pidfd, int *ret_status);

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
