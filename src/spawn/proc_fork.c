/* SPDX-License-Identifier: MIT */
/*
 * The child path: clone3 (or fork) + execve with a close-on-exec error pipe.
 *
 * Used for runs that need code in the child before execve, which
 * posix_spawn cannot run: resource limits, a cgroup to start in,
 * confinement (the hook of spawn/confine.c). Also the fallback where
 * posix_spawn cannot report exec failures synchronously (under valgrind its
 * vfork child is emulated as a fork, so glibc's error report is lost and
 * the child exits 127), and when forced with CUPRUM_SPAWN_FORK.
 *
 * The child is made by a raw clone3 system call with fork semantics (a
 * copy-on-write address space, SIGCHLD at exit) and CLONE_INTO_CGROUP when
 * the run has a cgroup, so the child is in that cgroup from its first
 * instruction: nothing it starts can be outside. glibc has no clone3
 * wrapper; the raw call returns 0 in the child like fork, on the same
 * (copied) stack, so it needs no assembly. Where clone3 answers ENOSYS
 * (valgrind, Linux < 5.3) or CUPRUM_NO_CLONE3 is set, fork() is used and
 * the child enters its cgroup by writing "0" to cgroup.procs before it
 * does anything else.
 *
 * The child only makes async-signal-safe system calls (it is a copy of a
 * possibly multi-threaded process); if anything fails it writes {stage,
 * errno} to the pipe and _exits; the parent reads EOF on success (the pipe
 * closed at exec). Copying page tables makes this path slower than
 * posix_spawn's vfork for large parents: it is only taken when needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/internal.h"
#include "spawn/proc.h"

typedef struct child_error {
  int32_t stage;
  int32_t err_no;
} child_error;

/* Close every fd >= 3 except `keep`, without allocating. */
static void close_above_stdio(int keep) {
#ifdef SYS_close_range
  if (keep < 0 || keep == 3) {
    if (syscall(SYS_close_range, keep == 3 ? 4 : 3, ~0U, 0) == 0)
      return;
  } else if (syscall(SYS_close_range, 3, (unsigned)keep - 1, 0) == 0 &&
             syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0) == 0) {
    return;
  }
#endif
  /* No close_range: walk /proc/self/fd with raw getdents64. */
  int dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return;
  char buf[4096];
  long n;
  while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      unsigned short reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);
      const char *name = buf + off + 19;
      int fd = 0;
      for (const char *p = name; *p >= '0' && *p <= '9'; p++)
        fd = fd * 10 + (*p - '0');
      if (name[0] >= '0' && name[0] <= '9' && fd >= 3 && fd != dir &&
          fd != keep)
        close(fd);
      off += reclen;
    }
  }
  close(dir);
}

static _Noreturn void child_fail(int pipe_w, int stage, int err_no) {
  child_error e = {stage, err_no};
  ssize_t w = write(pipe_w, &e, sizeof e);
  (void)w;
  _exit(127);
}

static _Noreturn void child(const cu__spawn_req *req, int pipe_w,
                            bool join_cgroup) {
  /* 1. Into the cgroup before anything else (fork fallback only:
   * CLONE_INTO_CGROUP did it at birth). */
  if (join_cgroup && write(req->cgroup_procs_fd, "0", 1) != 1)
    child_fail(pipe_w, CU_STEP_CGROUP, errno);
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    sigaction(sig, &dfl, NULL); /* EINVAL for KILL/STOP is fine */
  if (req->setsid ? setsid() < 0 : setpgid(0, req->pgid) < 0)
    child_fail(pipe_w, CU_STEP_SPAWN, errno);
  const int targets[3] = {req->fd_in, req->fd_out, req->fd_err};
  for (int i = 0; i < 3; i++)
    if (targets[i] >= 0 && dup2(targets[i], i) < 0)
      child_fail(pipe_w, CU_STEP_SPAWN, errno);
  if (req->cwd_fd >= 0 && fchdir(req->cwd_fd) < 0)
    child_fail(pipe_w, CU_STEP_CWD, errno);
  close_above_stdio(pipe_w);
  for (size_t i = 0; i < req->n_rlimits; i++)
    if (setrlimit(req->rlimits[i].resource,
                  &req->rlimits[i].lim) < 0)
      child_fail(pipe_w, CU_STEP_LIMITS, errno);
  if (req->confine) {
    int err = req->confine(req->confine_arg);
    if (err != 0)
      child_fail(pipe_w, CU_STEP_CONFINE, err);
  }
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(req->path, req->argv, req->envp);
  child_fail(pipe_w, CU_STEP_EXEC, errno);
}

bool cu__spawn_needs_child(const cu__spawn_req *req) {
  return req->n_rlimits > 0 || req->cgroup_fd > 2 || req->confine ||
         req->child_path;
}

static _Thread_local const char *last_method = "";

const char *cu__spawn_child_method(void) { return last_method; }

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* struct clone_args as of Linux 5.7 (CLONE_INTO_CGROUP); the kernel takes
 * its size, so older kernels reject only what they do not know. */
typedef struct cu__clone_args {
  uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack,
      stack_size, tls, set_tid, set_tid_size, cgroup;
} cu__clone_args;

static atomic_int clone3_state; /* 0 unknown, 1 works, -1 ENOSYS */

static bool clone3_wanted(void) {
#if defined(CUPRUM_NO_CLONE3) || defined(CUPRUM_SPAWN_FORK) || \
    !defined(SYS_clone3)
  return false;
#else
  if (atomic_load(&clone3_state) < 0)
    return false;
  const char *no = getenv("CUPRUM_NO_CLONE3");
  return !(no && *no && strcmp(no, "0") != 0);
#endif
}

/* clone3 with fork semantics, or -1 with errno (ENOSYS: not here). */
static pid_t clone3_fork(const cu__spawn_req *req) {
#ifdef SYS_clone3
  cu__clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  if (req->cgroup_fd > 2) {
    ca.flags |= CLONE_INTO_CGROUP;
    ca.cgroup = (uint64_t)req->cgroup_fd;
  }
  long rc = syscall(SYS_clone3, &ca, sizeof ca);
  if (rc < 0 && errno == ENOSYS)
    atomic_store(&clone3_state, -1);
  return (pid_t)rc;
#else
  (void)req;
  errno = ENOSYS;
  return -1;
#endif
}

int cu__spawn_fork(const cu__spawn_req *req, pid_t *ret_pid, int *ret_errno,
                   cu_spawn_step *ret_stage) {
  int p[2] = {-1, -1};
  *ret_stage = CU_STEP_SPAWN;
  /* Both ends above 2: an end on a closed 0-2 would be replaced by the
   * child's dup2 onto its standard fds, losing the exec error. */
  if (pipe2(p, O_CLOEXEC) < 0 || (p[0] = cu__fd_above2(p[0])) < 0 ||
      (p[1] = cu__fd_above2(p[1])) < 0) {
    int err = errno;
    cu__close(p[0]);
    cu__close(p[1]);
    *ret_errno = err;
    return cu__fail_errno(CU_ESPAWN, err, "error pipe");
  }
  /* Block every signal across fork so no handler of the caller's runs in
   * the child before dispositions are reset. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = -1;
  bool use_clone3 = clone3_wanted();
  if (use_clone3) {
    pid = clone3_fork(req);
    if (pid < 0 && errno == ENOSYS)
      use_clone3 = false;
  }
  if (!use_clone3) {
    if (req->cgroup_fd > 2 && req->cgroup_procs_fd <= 2) {
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      close(p[0]);
      close(p[1]);
      *ret_errno = ENOSYS;
      return cu__fail_errno(CU_ESPAWN, ENOSYS, "no clone3 and no "
                                               "cgroup.procs to enter the "
                                               "run's cgroup with");
    }
    pid = fork();
  }
  if (pid == 0) {
    close(p[0]);
    child(req, p[1], !use_clone3 && req->cgroup_fd > 2);
  }
  int fork_errno = errno;
  last_method = !use_clone3           ? "fork"
                : req->cgroup_fd > 2 ? "clone3+cgroup"
                                      : "clone3";
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    *ret_errno = fork_errno;
    if (req->cgroup_fd > 2 && use_clone3) {
      *ret_stage = CU_STEP_CGROUP;
      return cu__fail_errno(CU_ESPAWN, fork_errno,
                            "clone3 into the run's cgroup");
    }
    return cu__fail_errno(CU_ESPAWN, fork_errno,
                          use_clone3 ? "clone3" : "fork");
  }
  child_error e;
  ssize_t n;
  do
    n = read(p[0], &e, sizeof e);
  while (n < 0 && errno == EINTR);
  close(p[0]);
  if (n != (ssize_t)sizeof e) {
    *ret_pid = pid; /* EOF: exec succeeded */
    return 0;
  }
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  *ret_errno = e.err_no;
  *ret_stage = (cu_spawn_step)e.stage;
  if (e.stage == CU_STEP_CWD)
    return cu__fail_errno(CU_ECWD, e.err_no, "changing to the working "
                                             "directory");
  if (e.stage == CU_STEP_CGROUP)
    return cu__fail_errno(CU_ESPAWN, e.err_no, "entering the run's cgroup");
  if (e.stage == CU_STEP_LIMITS)
    return cu__fail_errno(CU_ESPAWN, e.err_no,
                          "setting a resource limit in the child");
  if (e.stage == CU_STEP_CONFINE)
    return cu__fail_errno(CU_ESPAWN, e.err_no,
                          "applying confinement in the child");
  return cu__fail_errno(e.stage == CU_STEP_EXEC ? cu__spawn_errno_code(e.err_no)
                                                 : CU_ESPAWN,
                        e.err_no, "cannot execute '%s'", req->path);
}
