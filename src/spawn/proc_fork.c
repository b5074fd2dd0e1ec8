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
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/internal.h"
#include "spawn/proc.h"

/* The vfork-style clone3 (below): not under ThreadSanitizer, whose
 * per-thread state would be shared with the parent; x86-64 and arm64. */
#if defined(__SANITIZE_THREAD__)
#define CU__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CU__TSAN 1
#endif
#endif
#if defined(SYS_clone3) && !defined(CU__TSAN) && \
    !defined(CUPRUM_NO_CLONE3) && !defined(CUPRUM_SPAWN_FORK) && \
    (defined(__x86_64__) || defined(__aarch64__))
#define CU__VM_CHILD 1
#define CU__CHILD_STACK (64 * 1024)
#endif

typedef struct child_error {
  int32_t stage;
  int32_t err_no;
} child_error;

/*
 * Everything below up to the parent's side runs in the child. With the
 * vfork-style clone3 (CLONE_VM) it runs in the parent's memory on a stack
 * of its own while the parent waits: so it makes raw system calls only
 * (syscall(2), which no sanitizer intercepts), writes no memory but its
 * own stack (and errno), and is never instrumented (CU__CHILD_FN): a
 * sanitizer's bookkeeping would land in the parent's memory.
 */

/* Close every fd >= 3 except `keep`, without allocating. */
CU__CHILD_FN static void close_above_stdio(int keep) {
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
  int dir = (int)syscall(SYS_openat, AT_FDCWD, "/proc/self/fd",
                         O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir < 0)
    return;
  char buf[4096];
  long n;
  while ((n = syscall(SYS_getdents64, dir, buf, sizeof buf)) > 0) {
    for (long off = 0; off < n;) {
      /* d_reclen, a native-endian u16 at offset 16 (no memcpy call). */
      unsigned char lo = (unsigned char)buf[off + 16];
      unsigned char hi = (unsigned char)buf[off + 17];
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
      unsigned reclen = (unsigned)lo << 8 | hi;
#else
      unsigned reclen = (unsigned)hi << 8 | lo;
#endif
      const char *name = buf + off + 19;
      int fd = 0;
      for (const char *p = name; *p >= '0' && *p <= '9'; p++)
        fd = fd * 10 + (*p - '0');
      if (name[0] >= '0' && name[0] <= '9' && fd >= 3 && fd != dir &&
          fd != keep)
        syscall(SYS_close, fd);
      off += reclen;
    }
  }
  syscall(SYS_close, dir);
}

/* Where a child without an error pipe (spawn_fork_nofd) reports: a page
 * shared with the parent, set by the spawning thread before the clone (the
 * child's copy of the thread's TLS names the same shared page). */
static _Thread_local child_error *nofd_report;

CU__CHILD_FN static _Noreturn void child_fail(int pipe_w, int stage,
                                              int err_no) {
  child_error e = {stage, err_no};
  if (pipe_w >= 0) {
    syscall(SYS_write, pipe_w, &e, sizeof e);
  } else if (nofd_report) {
    nofd_report->err_no = err_no;
    __atomic_store_n(&nofd_report->stage, stage, __ATOMIC_RELEASE);
  }
  for (;;)
    syscall(SYS_exit_group, 127);
}

/* The kernel's struct sigaction all zero: SIG_DFL, no flags, empty mask. */
typedef struct k_sigaction {
  unsigned long handler, flags, restorer, mask;
} k_sigaction;

CU__CHILD_FN static _Noreturn void child(const cu__spawn_req *req,
                                         int pipe_w, int procs_fd) {
  /* 1. Into the cgroup before anything else (fork fallback only, through
   * its cgroup.procs: CLONE_INTO_CGROUP did it at birth). */
  if (procs_fd >= 0 && syscall(SYS_write, procs_fd, "0", 1) != 1)
    child_fail(pipe_w, CU_STEP_CGROUP, errno);
  k_sigaction dfl = {0, 0, 0, 0};
  for (int sig = 1; sig < NSIG; sig++) /* EINVAL for KILL/STOP is fine */
    syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof dfl.mask);
  if (req->setsid ? syscall(SYS_setsid) < 0
                  : syscall(SYS_setpgid, 0, req->pgid) < 0)
    child_fail(pipe_w, CU_STEP_SPAWN, errno);
  const int targets[3] = {req->fd_in, req->fd_out, req->fd_err};
  for (int i = 0; i < 3; i++) /* targets are > 2: dup3 never sees i == fd */
    if (targets[i] >= 0 && syscall(SYS_dup3, targets[i], i, 0) < 0)
      child_fail(pipe_w, CU_STEP_SPAWN, errno);
  if (req->cwd_fd >= 0 && syscall(SYS_fchdir, req->cwd_fd) < 0)
    child_fail(pipe_w, CU_STEP_CWD, errno);
  /* Confinement before the fds are closed: it enforces Landlock rulesets
   * the parent prepared, whose fds are among those closed next. */
  if (req->confine) {
    int err = req->confine(req->confine_arg);
    if (err != 0)
      child_fail(pipe_w, CU_STEP_CONFINE, err);
  }
  close_above_stdio(pipe_w);
  for (size_t i = 0; i < req->n_rlimits; i++)
    if (syscall(SYS_prlimit64, 0, req->rlimits[i].resource,
                &req->rlimits[i].lim, NULL) < 0)
      child_fail(pipe_w, CU_STEP_LIMITS, errno);
  unsigned long none = 0;
  syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof none);
  syscall(SYS_execve, req->path, req->argv, req->envp);
  child_fail(pipe_w, CU_STEP_EXEC, errno);
}

#ifdef CU__VM_CHILD
typedef struct child_args {
  const cu__spawn_req *req;
  int pipe_w;
} child_args;

/* Entry of the vfork-style child, on its own stack. */
CU__CHILD_FN static void child_entry(void *arg) {
  const child_args *a = arg;
  child(a->req, a->pipe_w, -1);
}
#endif

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

/*
 * The vfork-style child: clone3 with CLONE_VM | CLONE_VFORK on a stack of
 * its own, as glibc's posix_spawn does with clone. glibc has no clone3
 * wrapper, and a CLONE_VM child cannot return through C code onto a stack
 * it does not own, so the system call and the jump to `fn` on the new
 * stack are a few lines of assembly per architecture. Not under
 * ThreadSanitizer (its per-thread state would be shared with the parent);
 * elsewhere the fork-style clone3 is used.
 */
#ifdef CU__VM_CHILD
static atomic_int clone3_vm_state; /* -1: CLONE_VM refused here */

static long clone3_vm_call(void *ca, size_t size, void (*fn)(void *),
                           void *arg) {
#if defined(__x86_64__)
  long ret;
  register void (*r10)(void *) __asm__("r10") = fn;
  register void *r8 __asm__("r8") = arg;
  __asm__ volatile("syscall\n\t"
                   "testq %%rax, %%rax\n\t"
                   "jnz 1f\n\t"
                   "xorl %%ebp, %%ebp\n\t"
                   "movq %%r8, %%rdi\n\t"
                   "callq *%%r10\n\t"
                   "movl $231, %%eax\n\t" /* exit_group(127) */
                   "movl $127, %%edi\n\t"
                   "syscall\n\t"
                   "hlt\n"
                   "1:"
                   : "=a"(ret)
                   : "0"((long)SYS_clone3), "D"(ca), "S"(size), "r"(r10),
                     "r"(r8)
                   : "rcx", "r11", "memory", "cc");
  return ret;
#else /* __aarch64__ */
  register long x0 __asm__("x0") = (long)ca;
  register long x1 __asm__("x1") = (long)size;
  register long x8 __asm__("x8") = SYS_clone3;
  register void (*x9)(void *) __asm__("x9") = fn;
  register void *x10 __asm__("x10") = arg;
  __asm__ volatile("svc #0\n\t"
                   "cbnz x0, 1f\n\t"
                   "mov x29, xzr\n\t"
                   "mov x0, x10\n\t"
                   "blr x9\n\t"
                   "mov x8, #94\n\t" /* exit_group(127) */
                   "mov x0, #127\n\t"
                   "svc #0\n"
                   "1:"
                   : "+r"(x0)
                   : "r"(x1), "r"(x8), "r"(x9), "r"(x10)
                   : "memory", "cc", "x30");
  return x0;
#endif
}
#endif

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

/* clone3: vfork-style where we can (*ret_vm set), else with fork
 * semantics (then the child runs child() itself, returning 0 here). -1
 * with errno (ENOSYS: no clone3 here). */
static pid_t clone3_spawn(const cu__spawn_req *req, int pipe_w,
                          bool *ret_vm) {
  *ret_vm = false;
#ifdef SYS_clone3
  cu__clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  if (req->cgroup_fd > 2) {
    ca.flags |= CLONE_INTO_CGROUP;
    ca.cgroup = (uint64_t)req->cgroup_fd;
  }
#ifdef CU__VM_CHILD
  const char *fk = getenv("CUPRUM_CLONE3_FORK");
  if (atomic_load(&clone3_vm_state) >= 0 && !(fk && *fk && *fk != '0')) {
    void *stack = mmap(NULL, CU__CHILD_STACK, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack != MAP_FAILED) {
      child_args a = {req, pipe_w};
      cu__clone_args vm = ca;
      vm.flags |= CLONE_VM | CLONE_VFORK;
      vm.stack = (uint64_t)(uintptr_t)stack;
      vm.stack_size = CU__CHILD_STACK;
      long rc = clone3_vm_call(&vm, sizeof vm, child_entry, &a);
      int err = rc < 0 ? (int)-rc : 0;
      munmap(stack, CU__CHILD_STACK);
      if (rc > 0) {
        *ret_vm = true;
        return (pid_t)rc;
      }
      if (err == ENOSYS) {
        atomic_store(&clone3_state, -1);
        errno = ENOSYS;
        return -1;
      }
      if (err != EINVAL) {
        errno = err;
        return -1;
      }
      /* EINVAL: CLONE_VM with a stack refused (an emulator): from now on
       * the fork-style clone3 below. */
      atomic_store(&clone3_vm_state, -1);
    }
  }
#else
  (void)pipe_w;
#endif
  long rc = syscall(SYS_clone3, &ca, sizeof ca);
  if (rc < 0 && errno == ENOSYS)
    atomic_store(&clone3_state, -1);
  return (pid_t)rc;
#else
  (void)req, (void)pipe_w;
  errno = ENOSYS;
  return -1;
#endif
}

/* A child reported {stage, errno} before its exec: reap it and say why. */
static int child_failed(const cu__spawn_req *req, pid_t pid,
                        const child_error *e, int *ret_errno,
                        cu_spawn_step *ret_stage) {
  while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
  }
  *ret_errno = e->err_no;
  *ret_stage = (cu_spawn_step)e->stage;
  if (e->stage == CU_STEP_CWD)
    return cu__fail_errno(CU_ECWD, e->err_no, "changing to the working "
                                              "directory");
  if (e->stage == CU_STEP_CGROUP)
    return cu__fail_errno(CU_ESPAWN, e->err_no, "entering the run's cgroup");
  if (e->stage == CU_STEP_LIMITS)
    return cu__fail_errno(CU_ESPAWN, e->err_no,
                          "setting a resource limit in the child");
  if (e->stage == CU_STEP_CONFINE)
    return cu__fail_errno(CU_ESPAWN, e->err_no,
                          "applying confinement in the child");
  return cu__fail_errno(e->stage == CU_STEP_EXEC
                            ? cu__spawn_errno_code(e->err_no)
                            : CU_ESPAWN,
                        e->err_no, "cannot execute '%s'", req->path);
}

/*
 * The fork path when no descriptor is left for the error pipe (EMFILE,
 * ENFILE). posix_spawn needs no descriptor to start a child, so neither
 * may this path: a pipeline whose first stages already run cannot give
 * them back and retry, and an "out of descriptors" there would kill them
 * (docs/design.md, "Fork spawner without descriptors"). The child is a
 * fork-style clone with CLONE_VFORK: the parent sleeps until it has
 * exec'd or exited, and a failing child writes {stage, errno} to an
 * anonymous MAP_SHARED page instead of the pipe. Runs with a cgroup are
 * not taken here (the fork fallback into a cgroup opens cgroup.procs).
 */
static int spawn_fork_nofd(const cu__spawn_req *req, int pipe_errno,
                           pid_t *ret_pid, int *ret_errno,
                           cu_spawn_step *ret_stage) {
  child_error *page = mmap(NULL, sizeof *page, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) {
    *ret_errno = pipe_errno;
    return cu__fail_errno(CU_ESPAWN, pipe_errno, "error pipe");
  }
  page->stage = CU_STEP_NONE;
  page->err_no = 0;
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  nofd_report = page;
  /* Raw clone with fork semantics plus CLONE_VFORK (no CLONE_VM: the
   * child has its own copy of memory and returns here like fork). The
   * stack, tid and tls arguments are all 0, so their per-architecture
   * order does not matter. */
  pid_t pid = (pid_t)syscall(SYS_clone, CLONE_VFORK | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0)
    child(req, -1, -1);
  int err = errno;
  nofd_report = NULL;
  last_method = "fork-vfork";
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (pid < 0) {
    munmap(page, sizeof *page);
    *ret_errno = err;
    return cu__fail_errno(CU_ESPAWN, err, "clone");
  }
  child_error e = {__atomic_load_n(&page->stage, __ATOMIC_ACQUIRE),
                   page->err_no};
  munmap(page, sizeof *page);
  if (e.stage == CU_STEP_NONE) {
    *ret_pid = pid; /* the parent woke at the child's exec */
    return 0;
  }
  return child_failed(req, pid, &e, ret_errno, ret_stage);
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
    if ((err == EMFILE || err == ENFILE) && req->cgroup_fd <= 2)
      return spawn_fork_nofd(req, err, ret_pid, ret_errno, ret_stage);
    *ret_errno = err;
    return cu__fail_errno(CU_ESPAWN, err, "error pipe");
  }
  /* Block every signal across fork so no handler of the caller's runs in
   * the child before dispositions are reset. */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  pid_t pid = -1;
  bool use_clone3 = clone3_wanted(), vm = false;
  if (use_clone3) {
    pid = clone3_spawn(req, p[1], &vm);
    if (pid < 0 && errno == ENOSYS)
      use_clone3 = false;
  }
  int procs = -1; /* fork fallback into a cgroup: its cgroup.procs */
  if (!use_clone3) {
    if (req->cgroup_fd > 2 &&
        (procs = cu__fd_above2(openat(req->cgroup_fd, "cgroup.procs",
                                      O_WRONLY | O_CLOEXEC))) < 0) {
      int err = errno;
      pthread_sigmask(SIG_SETMASK, &old, NULL);
      close(p[0]);
      close(p[1]);
      *ret_errno = err;
      *ret_stage = CU_STEP_CGROUP;
      return cu__fail_errno(CU_ESPAWN, err, "opening the run's "
                                            "cgroup.procs");
    }
    pid = fork();
  }
  if (pid == 0) {
    close(p[0]);
    child(req, p[1], procs);
  }
  int fork_errno = errno;
  cu__close(procs);
  last_method = !use_clone3 ? "fork"
                : vm ? (req->cgroup_fd > 2 ? "clone3-vfork+cgroup"
                                           : "clone3-vfork")
                     : (req->cgroup_fd > 2 ? "clone3+cgroup" : "clone3");
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
  return child_failed(req, pid, &e, ret_errno, ret_stage);
}
