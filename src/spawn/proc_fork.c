/* SPDX-License-Identifier: MIT */
/*
 * Fallback spawner: fork + execve with a close-on-exec error pipe.
 *
 * Used where posix_spawn cannot report exec failures synchronously (under
 * valgrind its vfork child is emulated as a fork, so glibc's error report is
 * lost and the child exits 127), and when forced with CUPRUM_SPAWN_FORK. The
 * child only makes async-signal-safe system calls; if anything fails it
 * writes {stage, errno} to the pipe and _exits; the parent reads EOF on
 * success (the pipe closed at exec). fork() copies page tables, so this path
 * is slower for large parents: it is a fallback, not the default.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
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

static _Noreturn void child(const cu__spawn_req *req, int pipe_w) {
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; sig++)
    sigaction(sig, &dfl, NULL); /* EINVAL for KILL/STOP is fine */
  if (setpgid(0, req->pgid) < 0)
    child_fail(pipe_w, CU_STEP_SPAWN, errno);
  const int targets[3] = {req->fd_in, req->fd_out, req->fd_err};
  for (int i = 0; i < 3; i++)
    if (targets[i] >= 0 && dup2(targets[i], i) < 0)
      child_fail(pipe_w, CU_STEP_SPAWN, errno);
  if (req->cwd_fd >= 0 && fchdir(req->cwd_fd) < 0)
    child_fail(pipe_w, CU_STEP_CWD, errno);
  close_above_stdio(pipe_w);
  sigprocmask(SIG_SETMASK, &none, NULL);
  execve(req->path, req->argv, req->envp);
  child_fail(pipe_w, CU_STEP_EXEC, errno);
}

int cu__spawn_fork(const cu__spawn_req *req, pid_t *ret_pid, int *ret_errno,
                   cu_spawn_step *ret_stage) {
  int p[2];
  *ret_stage = CU_STEP_SPAWN;
  if (pipe2(p, O_CLOEXEC) < 0) {
    *ret_errno = errno;
    return cu__fail_errno(CU_ESPAWN, errno, "error pipe");
  }
  /* Block every signal across fork so no handler of the caller's runs in
   * the child before dispositions are reset. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    child(req, p[1]);
  }
  int fork_errno = errno;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  close(p[1]);
  if (pid < 0) {
    close(p[0]);
    *ret_errno = fork_errno;
    return cu__fail_errno(CU_ESPAWN, fork_errno, "fork");
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
  return cu__fail_errno(e.stage == CU_STEP_EXEC ? cu__spawn_errno_code(e.err_no)
                                                 : CU_ESPAWN,
                        e.err_no, "cannot execute '%s'", req->path);
}
