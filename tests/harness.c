/* SPDX-License-Identifier: MIT */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Interned helper paths: kept reachable for the life of the process, so
 * leak checkers (ASan, valgrind) do not report them. */
static struct interned {
  struct interned *next;
  char path[];
} *interned;
static pthread_mutex_t interned_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *intern(const char *buf);

const char *cut_helper(const char *name) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s/%s", CU_TEST_HELPER_DIR, name);
  return intern(buf);
}

const char *cut_secs(int64_t ms) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.3f", (double)ms / 1000.0);
  return intern(buf);
}

static const char *intern(const char *buf) {
  pthread_mutex_lock(&interned_lock);
  struct interned *it = interned;
  while (it && strcmp(it->path, buf) != 0)
    it = it->next;
  if (!it && (it = malloc(sizeof *it + strlen(buf) + 1))) {
    strcpy(it->path, buf);
    it->next = interned;
    interned = it;
  }
  pthread_mutex_unlock(&interned_lock);
  assert_non_null(it);
  return it->path;
}

const char *cut_cli(void) { return CU_TEST_BINARY_DIR "/cuprum"; }

const char *cut_emulator(void) {
#ifdef CU_TEST_EMULATOR
  return CU_TEST_EMULATOR;
#else
  return NULL;
#endif
}

int cut_fd_count(void) {
  DIR *d = opendir("/proc/self/fd");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n - 1; /* the DIR's own fd */
}

void cut_assert_no_children(void) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int rc = waitid(P_ALL, 0, &si, WEXITED | WSTOPPED | WNOHANG | WNOWAIT);
  if (rc == 0 && si.si_pid != 0)
    fail_msg("a child is left behind: pid %d", (int)si.si_pid);
  if (rc == 0) {
    /* children exist but none has changed state: still running */
    fail_msg("a running child is left behind");
  }
  assert_int_equal(errno, ECHILD);
}

int cut_proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "re");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* The name in parentheses may hold spaces and parentheses itself. */
  const char *close_paren = strrchr(buf, ')');
  char state = 0;
  int ppid = 0;
  if (!close_paren || sscanf(close_paren + 1, " %c %d", &state, &ppid) != 2)
    return -1;
  *ret_state = state;
  *ret_ppid = (pid_t)ppid;
  return 0;
}

int cut_pid_alive(pid_t pid) {
  if (!(kill(pid, 0) == 0 || errno == EPERM))
    return 0;
  /* A zombie waiting for a (possibly absent) reaper is not running. */
  char state;
  pid_t ppid;
  if (cut_proc_stat(pid, &state, &ppid) < 0)
    return 0;
  return state != 'Z' && state != 'X';
}

int cut_under_valgrind(void) { return getenv("CU_VALGRIND") != NULL; }

#ifndef CU_TEST_SLACK_MS
#define CU_TEST_SLACK_MS 500
#endif

int64_t cut_slack_ms(void) {
  const char *env = getenv("CU_TEST_SLACK_MS");
  if (env && *env)
    return strtoll(env, NULL, 10);
  int64_t slack = CU_TEST_SLACK_MS;
  return cut_under_valgrind() && slack < 3000 ? 3000 : slack;
}

int64_t cut_after_start_ms(int64_t ms) { return ms + cut_slack_ms(); }

int cut_wait_exited(pid_t pid, int64_t timeout_ms) {
  int64_t deadline = cut_now_ms() + timeout_ms + cut_slack_ms();
  /* A pidfd becomes readable when the process exits, reaped or not. */
#ifdef SYS_pidfd_open
  int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0 && errno == ESRCH)
    return 1;
#else
  int pidfd = -1;
#endif
  while (cut_pid_alive(pid)) {
    int64_t left = deadline - cut_now_ms();
    if (left <= 0)
      break;
    if (pidfd >= 0) {
      struct pollfd p = {.fd = pidfd, .events = POLLIN};
      poll(&p, 1, (int)left);
    } else {
      usleep(5000); /* no pidfds here (valgrind): poll /proc */
    }
  }
  if (pidfd >= 0)
    close(pidfd);
  return !cut_pid_alive(pid);
}

int64_t cut_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cut_main(int argc, char **argv, const struct CMUnitTest *tests, size_t n,
             const char *group) {
  if (argc > 1)
    cmocka_set_test_filter(argv[1]);
  const char *slash = strrchr(group, '/');
  return _cmocka_run_group_tests(slash ? slash + 1 : group, tests, n, NULL,
                                 NULL);
}

int cut_rm_rf(const char *dir) {
  cu_cmd *cmd = NULL;
  if (cu_cmd_new(NULL, CU_RM, &cmd) != 0)
    return -1;
  cu_cmd_args(cmd, "-rf", "--", dir, (char *)NULL);
  cu_result *res = NULL;
  int rc = cu_run(cmd, NULL, &res);
  bool ok = rc == 0 && res && res->ok;
  cu_result_free(res);
  cu_cmd_free(cmd);
  return ok ? 0 : -1;
}
