/* SPDX-License-Identifier: MIT */
/* posix_spawn with the library's rules, and pidfd-or-polling exit checks. */
#include "spawn/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/internal.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

int cu__check_sigchld(void) {
  struct sigaction sa;
  /* A read only (no new action): the library never changes a disposition. */
  if (sigaction(SIGCHLD, NULL, &sa) < 0)
    return cu__fail_errno(CU_ESYS, errno, "reading the SIGCHLD disposition");
  if (sa.sa_handler == SIG_IGN)
    return cu__fail(CU_ESYS,
                    "SIGCHLD is ignored (SIG_IGN) in this process, so the "
                    "kernel reaps children at once and no exit status can "
                    "be observed; restore the default action (SIG_DFL) for "
                    "SIGCHLD before running commands "
                    "(an ignored SIGCHLD is inherited across execve)");
  if (sa.sa_flags & SA_NOCLDWAIT)
    return cu__fail(CU_ESYS,
                    "SIGCHLD has SA_NOCLDWAIT in this process, so the kernel "
                    "reaps children at once and no exit status can be "
                    "observed; install the SIGCHLD action without "
                    "SA_NOCLDWAIT (or SIG_DFL)");
  return 0;
}

#ifdef CUPRUM_NO_CLOSEFROM
/*
 * Portable fallback for posix_spawn_file_actions_addclosefrom_np: close in
 * the child every fd >= 3 that would survive exec (no FD_CLOEXEC). The
 * library's own fds are all close-on-exec already; this catches fds other
 * code opened without it. A fd opened by another thread between this scan
 * and the spawn can still leak: that race is why the closefrom path is the
 * default.
 */
static int add_close_inheritable(posix_spawn_file_actions_t *fa) {
  /* Opened above 2 like every fd of ours, then wrapped. */
  int dfd = cu__fd_above2(
      open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
  if (!d) {
    cu__close(dfd);
    return 0; /* no /proc: nothing more we can do cheaply */
  }
  int self = dirfd(d);
  int rc = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9')
      continue;
    int fd = atoi(e->d_name);
    if (fd < 3 || fd == self)
      continue;
    int flags = fcntl(fd, F_GETFD);
    if (flags >= 0 && !(flags & FD_CLOEXEC)) {
      rc = posix_spawn_file_actions_addclose(fa, fd);
      if (rc != 0)
        break;
    }
  }
  closedir(d);
  return rc;
}
#endif

static int build_actions(const cu__spawn_req *req,
                         posix_spawn_file_actions_t *fa) {
  int rc = 0;
  if (req->fd_in >= 0)
    rc = posix_spawn_file_actions_adddup2(fa, req->fd_in, 0);
  if (rc == 0 && req->fd_out >= 0)
    rc = posix_spawn_file_actions_adddup2(fa, req->fd_out, 1);
  if (rc == 0 && req->fd_err >= 0)
    rc = posix_spawn_file_actions_adddup2(fa, req->fd_err, 2);
  if (rc == 0 && req->cwd_fd >= 0)
    rc = posix_spawn_file_actions_addfchdir_np(fa, req->cwd_fd);
#ifdef CUPRUM_NO_CLOSEFROM
  if (rc == 0)
    rc = add_close_inheritable(fa);
#else
  /* File actions run in order: after the dup2s, close everything >= 3. */
  if (rc == 0)
    rc = posix_spawn_file_actions_addclosefrom_np(fa, 3);
#endif
  return rc;
}

static int build_attr(const cu__spawn_req *req, posix_spawnattr_t *attr) {
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  /* setsid makes the child its own group leader; a session leader may not
   * then change its group (EPERM), so SETPGROUP is for the other case. */
#ifdef POSIX_SPAWN_SETSID
  if (req->setsid)
    flags |= POSIX_SPAWN_SETSID;
  else
#endif
    flags |= POSIX_SPAWN_SETPGROUP;
  int rc = posix_spawnattr_setflags(attr, flags);
  if (rc == 0 && !req->setsid)
    rc = posix_spawnattr_setpgroup(attr, req->pgid);
  if (rc == 0)
    rc = posix_spawnattr_setsigmask(attr, &none);
  /* Every signal back to its default: a parent ignoring SIGPIPE must not
   * make `yes | head -n1` run forever. */
  if (rc == 0)
    rc = posix_spawnattr_setsigdefault(attr, &all);
  return rc;
}

static bool spawn_reliable;
static pthread_once_t spawn_once = PTHREAD_ONCE_INIT;
static atomic_int spawn_probes;
static _Atomic int spawn_fork_forced; /* tests: take the fork path */
static _Atomic int pidfd_failures;    /* tests: pidfd_open calls to fail */

void cu__spawn_force_fork_for_tests(bool on) { spawn_fork_forced = on; }

void cu__pidfd_fail_for_tests(int n) { pidfd_failures = n; }

/*
 * Is there a reason to doubt that posix_spawn reports a failing exec? glibc
 * >= 2.24 does (its clone(CLONE_VM | CLONE_VFORK) child writes the errno
 * where the parent reads it). Valgrind runs that clone as a plain fork, so
 * the error is lost and the child exits 127; valgrind always puts its
 * vgpreload libraries in the client's LD_PRELOAD, which is how we know it
 * is there without its headers. CUPRUM_SPAWN_PROBE=1 asks for the probe
 * under any other emulator that forks instead of vforking (qemu-user).
 * Without a doubt no probe runs: a process pays for one spawn, not two.
 */
/* __GLIBC_PREREQ is a function-like macro other libcs (musl) lack, so it
 * may appear only under #ifdef __GLIBC__. */
#ifdef __GLIBC__
#define CU__GLIBC_BEFORE_2_24 (!__GLIBC_PREREQ(2, 24))
#else
#define CU__GLIBC_BEFORE_2_24 0
#endif
#ifndef CUPRUM_SPAWN_FORK /* the forced fork spawner never asks */
static bool spawn_doubtful(void) {
#if CU__GLIBC_BEFORE_2_24
  return true;
#else
  const char *pre = getenv("LD_PRELOAD");
  const char *ask = getenv("CUPRUM_SPAWN_PROBE");
  return (pre && strstr(pre, "vgpreload")) ||
         (ask && *ask && strcmp(ask, "0") != 0);
#endif
}
#endif

/* Probe once, where in doubt: a spawn of a path that cannot exist must
 * fail in posix_spawn itself. */
static void probe_spawn(void) {
#ifdef CUPRUM_SPAWN_FORK
  spawn_reliable = false;
#else
  spawn_reliable = true;
  if (!spawn_doubtful())
    return;
  atomic_fetch_add(&spawn_probes, 1);
  char *const argv[] = {(char *)"cuprum-probe", NULL};
  char *const envp[] = {NULL};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/nonexistent/cuprum-exec-probe", NULL, NULL,
                       argv, envp);
  spawn_reliable = rc != 0;
  if (rc == 0)
    cu__reap(pid, -1);
#endif
}

int cu__spawn_probe_runs(void) { return atomic_load(&spawn_probes); }

bool cu__posix_spawn_reliable(void) {
  if (spawn_fork_forced)
    return false;
  pthread_once(&spawn_once, probe_spawn);
  return spawn_reliable;
}

int cu__spawn(const cu__spawn_req *req, pid_t *ret_pid, int *ret_errno,
              cu_spawn_step *ret_stage) {
  bool fork_path = cu__spawn_needs_child(req) || !cu__posix_spawn_reliable();
#ifndef POSIX_SPAWN_SETSID
  fork_path |= req->setsid; /* glibc < 2.26: the fork path calls setsid */
#endif
  if (fork_path)
    return cu__spawn_fork(req, ret_pid, ret_errno, ret_stage);
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  *ret_stage = CU_STEP_SPAWN;
  int rc = posix_spawn_file_actions_init(&fa);
  if (rc != 0) {
    *ret_errno = rc;
    return cu__fail_errno(CU_ESPAWN, rc, "posix_spawn_file_actions_init");
  }
  rc = posix_spawnattr_init(&attr);
  if (rc != 0) {
    posix_spawn_file_actions_destroy(&fa);
    *ret_errno = rc;
    return cu__fail_errno(CU_ESPAWN, rc, "posix_spawnattr_init");
  }
  rc = build_actions(req, &fa);
#ifdef CUPRUM_NO_CLOSEFROM
  if (rc == EBADF) {
    /* An inheritable fd above RLIMIT_NOFILE (the limit was lowered after
     * it was opened): a file action cannot name it, the fork path's
     * close_range/getdents walk closes it. */
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return cu__spawn_fork(req, ret_pid, ret_errno, ret_stage);
  }
#endif
  if (rc == 0)
    rc = build_attr(req, &attr);
  if (rc != 0) {
    *ret_errno = rc;
    rc = cu__fail_errno(CU_ESPAWN, rc, "preparing posix_spawn for '%s'",
                        req->path);
  } else {
    pid_t pid = 0;
    rc = posix_spawn(&pid, req->path, &fa, &attr, req->argv, req->envp);
    if (rc == 0) {
      *ret_pid = pid;
    } else {
      *ret_errno = rc;
      *ret_stage = CU_STEP_EXEC;
      rc = cu__fail_errno(cu__spawn_errno_code(rc), rc, "cannot execute '%s'",
                          req->path);
    }
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  return rc;
}

/* ------------------------------------------------------------ pidfd */

static bool pidfd_ok;
static pthread_once_t pidfd_once = PTHREAD_ONCE_INIT;

int cu__pidfd_open(pid_t pid) {
#if defined(CUPRUM_NO_PIDFD) || !defined(SYS_pidfd_open)
  (void)pid;
  errno = ENOSYS;
  return -1;
#else
  if (pidfd_failures > 0 && atomic_fetch_sub(&pidfd_failures, 1) > 0) {
    errno = EMFILE;
    return -1;
  }
  return cu__fd_above2((int)syscall(SYS_pidfd_open, pid, 0));
#endif
}

/* Probe at run time rather than trusting kernel versions: valgrind and old
 * kernels answer ENOSYS. Set-once cache (see docs/design.md). */
static void probe_pidfd(void) {
  int fd = cu__pidfd_open(getpid());
  if (fd >= 0) {
    siginfo_t si;
    memset(&si, 0, sizeof si);
    /* waitid(P_PIDFD) must work too (Linux >= 5.4). Our own pid is not our
     * child, so ECHILD is the "works" answer; EINVAL means unsupported. */
    int rc = waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG);
    pidfd_ok = rc == 0 || errno == ECHILD;
    close(fd);
  }
}

bool cu__pidfd_supported(void) {
  pthread_once(&pidfd_once, probe_pidfd);
  return pidfd_ok;
}

static int status_from_siginfo(const siginfo_t *si) {
  if (si->si_code == CLD_EXITED)
    return (si->si_status & 0xff) << 8;
  return si->si_status & 0x7f; /* CLD_KILLED / CLD_DUMPED */
}

int cu__peek_exit(pid_t pid, int pidfd, int *ret_status,
                  struct rusage *ret_ru) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  long rc;
  /* The raw system call takes a fifth argument, the rusage of the exited
   * child, filled also with WNOWAIT (glibc's waitid() has no such
   * argument). */
  do {
    if (pidfd >= 0)
      rc = syscall(SYS_waitid, P_PIDFD, pidfd, &si,
                   WEXITED | WNOHANG | WNOWAIT, &ru);
    else
      rc = syscall(SYS_waitid, P_PID, pid, &si, WEXITED | WNOHANG | WNOWAIT,
                   &ru);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return -1;
  if (si.si_pid == 0)
    return 0;
  *ret_status = status_from_siginfo(&si);
  if (ret_ru)
    *ret_ru = ru;
  return 1;
}

int cu__peek_stop(pid_t pid, int pidfd, int *ret_sig) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc;
  do {
    if (pidfd >= 0)
      rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WSTOPPED | WNOHANG);
    else
      rc = waitid(P_PID, (id_t)pid, &si, WSTOPPED | WNOHANG);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return -1;
  if (si.si_pid == 0 || si.si_code != CLD_STOPPED)
    return 0;
  *ret_sig = si.si_status;
  return 1;
}

void cu__reap(pid_t pid, int pidfd) {
  siginfo_t si;
  int rc;
  do {
    if (pidfd >= 0)
      rc = waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
    else
      rc = waitid(P_PID, (id_t)pid, &si, WEXITED);
  } while (rc < 0 && errno == EINTR);
}
