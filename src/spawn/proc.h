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

/* Whether posix_spawn reports exec failures synchronously here (probed
 * once; false under valgrind or when CUPRUM_SPAWN_FORK forces the fork
 * path). cu__spawn() uses the fork path when it does not. */
bool cu__posix_spawn_reliable(void);

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

/* Reap an exited process (blocking wait for that pid only). */
void cu__reap(pid_t pid, int pidfd);

/* Map a spawn errno to a CU_E* code (spawn_errno.c). */
int cu__spawn_errno_code(int err);

#endif /* CUPRUM_PROC_H */
