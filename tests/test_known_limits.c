/* SPDX-License-Identifier: MIT */
/*
 * The known limits of docs/reliability.md, each shown with its remedy:
 *
 *   - a setuid program that becomes root for real cannot be signalled by
 *     an unprivileged caller, so a timeout cannot end it; no_new_privs
 *     (cu_confine) makes execve ignore the bit, and the timeout works;
 *   - a SIGKILLed parent leaves its running children behind (the library
 *     gets no chance to stop them); PR_SET_PDEATHSIG set in the child
 *     (`setpriv --pdeathsig KILL` as a wrapper) ends them, and a contained
 *     run's cgroup, named after the dead process, keeps them findable and
 *     killable with one write to its cgroup.kill.
 *
 * The third limit, descendants that leave the process group, and its
 * remedy (containment) are shown by tests/test_contain.c:
 * test_uncontained_daemon_survives, test_contain_daemon_gone_*.
 *
 * The "parent" is a forked copy of this test process; this process makes
 * itself a child subreaper (PR_SET_CHILD_SUBREAPER) so the orphans are
 * reparented to it, can be checked and are reaped here, never left behind.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define SETPRIV "/usr/bin/setpriv"

/* Read one line ("ready PID ...") from fd into buf; false on EOF. */
static bool read_line(int fd, char *buf, size_t cap) {
  size_t n = 0;
  while (n + 1 < cap) {
    ssize_t k = read(fd, buf + n, 1);
    if (k < 0 && errno == EINTR)
      continue;
    if (k <= 0)
      break;
    if (buf[n++] == '\n')
      break;
  }
  buf[n] = '\0';
  return n > 0;
}

/* The parent of `pid` as /proc says (0 when it cannot be read). */
static pid_t ppid_of(pid_t pid) {
  char state;
  pid_t ppid = 0;
  return cut_proc_stat(pid, &state, &ppid) == 0 ? ppid : 0;
}

/* ------------------------------------------------ a SIGKILLed parent */

typedef enum { PLAIN, PDEATHSIG, CONTAINED } parent_kind;

/* In the forked "parent": run sleeper (60 s) with its stdout echoed into
 * `out`, so the test learns its pid from the "ready PID" line. Never
 * returns: the test SIGKILLs this process while the run is going on. */
static void parent_main(parent_kind kind, int out) {
  cu_catalogue *cat = NULL;
  const char *sleeper = cut_helper("sleeper");
  if (cu_catalogue_new(&cat) < 0 ||
      cu_catalogue_allow(cat, CU_PROGRAM("sleeper"), sleeper) < 0 ||
      cu_catalogue_allow(cat, CU_PROGRAM("setpriv"), SETPRIV) < 0)
    _exit(10);
  cu_cmd *cmd = NULL;
  int rc;
  if (kind == PDEATHSIG) {
    /* setpriv sets PR_SET_PDEATHSIG on itself, then execs the sleeper;
     * the setting survives execve (not for setuid programs). */
    rc = cu_cmd_new(cat, CU_PROGRAM("setpriv"), &cmd);
    if (rc == 0)
      rc = cu_cmd_args(cmd, "--pdeathsig", "KILL", "--", sleeper, "60000",
                       "--print-pid", (char *)NULL);
  } else {
    rc = cu_cmd_new(cat, CU_PROGRAM("sleeper"), &cmd);
    if (rc == 0)
      rc = cu_cmd_args(cmd, "60000", "--print-pid", (char *)NULL);
  }
  if (rc < 0)
    _exit(11);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.out.mode = CU_STREAM_ECHO;
  o.out.echo_fd = out;
  if (kind == CONTAINED)
    o.contain = CU_CONTAIN_REQUIRE;
  cu_result *r = NULL;
  int unused = cu_run(cmd, &o, &r);
  _exit(12 + (unused != 0)); /* not reached: killed first */
}

/* Fork the parent, learn the sleeper's pid, SIGKILL the parent and reap
 * it. Returns the orphaned sleeper's pid. */
static pid_t orphan_a_child(parent_kind kind, pid_t *ret_parent) {
  /* qemu-user (7.2) refuses PR_SET_CHILD_SUBREAPER with EINVAL, to keep
   * the guest from changing what the emulator relies on. */
  if (cut_emulator()) {
    print_message("under %s, prctl(PR_SET_CHILD_SUBREAPER) is refused: "
                  "skipped\n", cut_emulator());
    skip();
  }
  assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t parent = fork();
  assert_true(parent >= 0);
  if (parent == 0) {
    close(p[0]);
    parent_main(kind, p[1]);
  }
  close(p[1]);
  char line[128];
  int pid = 0;
  bool got = read_line(p[0], line, sizeof line);
  close(p[0]);
  if (!got || sscanf(line, "ready %d", &pid) != 1) {
    kill(parent, SIGKILL);
    int st;
    waitpid(parent, &st, 0);
    fail_msg("the parent's run did not start (parent status %d)", st);
  }
  assert_int_equal(kill(parent, SIGKILL), 0);
  int st = 0;
  assert_int_equal(waitpid(parent, &st, 0), parent);
  assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  *ret_parent = parent;
  return (pid_t)pid;
}

/* Reap an orphan that has exited (it is ours: we are its subreaper). */
static void reap(pid_t pid) {
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
}

/* The limit: nothing stops the child when its parent is SIGKILLed. It
 * lives on, reparented (here to us, the subreaper; normally to init). */
static void test_parent_killed_child_survives(void **state) {
  (void)state;
  pid_t parent;
  pid_t pid = orphan_a_child(PLAIN, &parent);
  assert_true(cut_pid_alive(pid));
  assert_int_equal(ppid_of(pid), getpid());
  kill(pid, SIGKILL);
  reap(pid);
  cut_assert_no_children();
}

/* Remedy 1: PR_SET_PDEATHSIG (setpriv --pdeathsig KILL as a wrapper): the
 * kernel sends the signal when the parent dies. */
static void test_parent_killed_pdeathsig_remedy(void **state) {
  (void)state;
  if (access(SETPRIV, X_OK) != 0) {
    print_message("skipping: %s (util-linux) is not installed\n", SETPRIV);
    skip();
  }
  pid_t parent;
  pid_t pid = orphan_a_child(PDEATHSIG, &parent);
  assert_true(cut_wait_exited(pid, 5000));
  reap(pid);
  cut_assert_no_children();
}

/* The cgroup2 mount point (from /proc/self/mountinfo) into buf. */
static bool cgroup2_mount(char *buf, size_t cap) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  assert_non_null(f);
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    char *sep = strstr(line, " - cgroup2 ");
    char mnt[PATH_MAX];
    if (sep && sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
      snprintf(buf, cap, "%s", mnt);
      found = true;
    }
  }
  fclose(f);
  return found;
}

/* Remedy 2: a contained run's processes stay in its cgroup, named
 * run-PID-N after the process that made it. The cgroup does not end them
 * by itself when that process dies (nothing is left to write cgroup.kill),
 * but it finds every one of them, daemons included: one write ends them
 * all. */
static void test_parent_killed_contained_cgroup_remedy(void **state) {
  (void)state;
  if (!cut_contain_available())
    skip();
  char mnt[PATH_MAX];
  assert_true(cgroup2_mount(mnt, sizeof mnt));
  pid_t parent;
  pid_t pid = orphan_a_child(CONTAINED, &parent);
  assert_true(cut_pid_alive(pid)); /* the limit: still running */
  char path[PATH_MAX], line[PATH_MAX];
  snprintf(path, sizeof path, "/proc/%d/cgroup", (int)pid);
  FILE *f = fopen(path, "re");
  assert_non_null(f);
  bool v2 = false;
  while (!v2 && fgets(line, sizeof line, f))
    v2 = strncmp(line, "0::", 3) == 0;
  fclose(f);
  assert_true(v2);
  line[strcspn(line, "\n")] = '\0';
  char want[64];
  snprintf(want, sizeof want, "/cuprum/run-%d-", (int)parent);
  assert_non_null(strstr(line, want));
  char dir[2 * PATH_MAX], kill_file[2 * PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s%s", mnt, line + 3);
  snprintf(kill_file, sizeof kill_file, "%s/cgroup.kill", dir);
  int fd = open(kill_file, O_WRONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  assert_int_equal(write(fd, "1", 1), 1);
  close(fd);
  assert_true(cut_wait_exited(pid, 5000));
  reap(pid);
  /* Empty now; the library would remove it at the next process's first
   * contained run (src/spawn/cgroup.c, remove_stale). */
  (void)rmdir(dir);
  cut_assert_no_children();
}

/* --------------------------------------------------- setuid programs */

/* A setuid-root copy of hog in a fresh directory everyone can reach:
 * path into buf. Skips unless we are root (to make a root-owned setuid
 * file and then run it as somebody else). */
static void make_setuid_hog(char *dir, char *path) {
  if (geteuid() != 0) {
    print_message("skipping: needs root, to make a setuid-root program and "
                  "run it from an unprivileged process\n");
    skip();
  }
  strcpy(dir, "/tmp/cu-suid-XXXXXX");
  assert_non_null(mkdtemp(dir));
  assert_int_equal(chmod(dir, 0755), 0);
  snprintf(path, PATH_MAX, "%s/hog", dir);
  int in = open(cut_helper("hog"), O_RDONLY | O_CLOEXEC);
  int out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
  assert_true(in >= 0 && out >= 0);
  char buf[65536];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    assert_int_equal(write(out, buf, (size_t)n), n);
  assert_int_equal(n, 0);
  close(in);
  close(out);
  assert_int_equal(chown(path, 0, 0), 0);
  assert_int_equal(chmod(path, 04755), 0);
}

typedef struct suid_outcome {
  int rc;           /* cu_run's return */
  bool timed_out;   /* the result's */
  int exit_code;    /* the result's */
  int term_signal;  /* the result's */
  int real_uid;     /* as the program reported it */
} suid_outcome;

/* In a forked child that has dropped to uid/gid 65534 ("nobody"): run the
 * setuid copy's `root-sleep 3000` under a 200 ms timeout, and report. */
static suid_outcome run_setuid_as_nobody(const char *path, bool nnp) {
  int p[2];
  assert_int_equal(pipe2(p, O_CLOEXEC), 0);
  pid_t kid = fork();
  assert_true(kid >= 0);
  if (kid == 0) {
    close(p[0]);
    suid_outcome o = {.rc = -1000, .real_uid = -1};
    cu_catalogue *cat = NULL;
    cu_cmd *cmd = NULL;
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0)
      _exit(20);
    if (cu_catalogue_new(&cat) < 0 ||
        cu_catalogue_allow(cat, CU_PROGRAM("suid-hog"), path) < 0 ||
        cu_cmd_new(cat, CU_PROGRAM("suid-hog"), &cmd) < 0 ||
        cu_cmd_args(cmd, "root-sleep", "3000", (char *)NULL) < 0)
      _exit(21);
    cu_confine cf = CU_CONFINE_INIT;
    cf.no_new_privs = true;
    cu_run_opts ro = CU_RUN_OPTS_INIT;
    ro.timeout_ms = 200;
    ro.grace_ms = 100;
    ro.confine = nnp ? &cf : NULL;
    cu_result *r = NULL;
    o.rc = cu_run(cmd, &ro, &r);
    if (r) {
      o.timed_out = r->timed_out;
      o.exit_code = r->exit_code;
      o.term_signal = r->term_signal;
      if (r->out.data)
        (void)sscanf(r->out.data, "ready %*d %d", &o.real_uid);
    }
    if (write(p[1], &o, sizeof o) != (ssize_t)sizeof o)
      _exit(22);
    _exit(0);
  }
  close(p[1]);
  suid_outcome o;
  ssize_t n = read(p[0], &o, sizeof o);
  close(p[0]);
  int st;
  assert_int_equal(waitpid(kid, &st, 0), kid);
  if (n != (ssize_t)sizeof o)
    fail_msg("the unprivileged caller failed (status %d)", st);
  return o;
}

/* Make the setuid copy, run it as nobody, remove it. */
static suid_outcome setuid_case(bool nnp) {
  char dir[64], path[PATH_MAX];
  make_setuid_hog(dir, path);
  suid_outcome o = run_setuid_as_nobody(path, nnp);
  unlink(path);
  rmdir(dir);
  assert_int_equal(o.rc, 0);
  return o;
}

/* The limit: the program made itself root for real, so the caller (uid
 * 65534) may not signal it (kill(2): EPERM). The timeout fires, but the
 * run ends only when the program exits by itself, with status 0. */
static void test_setuid_root_program_outlives_timeout(void **state) {
  (void)state;
  /* binfmt_misc hands the setuid copy to qemu with the caller's
   * credentials (the qemu-aarch64 entry has no C flag): it never becomes
   * root, so the limit shown here cannot arise. */
  if (cut_emulator()) {
    print_message("under %s (binfmt_misc without the C flag), a setuid "
                  "program runs as its caller: skipped\n", cut_emulator());
    skip();
  }
  suid_outcome o = setuid_case(false);
  assert_int_equal(o.real_uid, 0); /* it did become root */
  assert_true(o.timed_out);
  assert_int_equal(o.term_signal, 0); /* no signal could reach it */
  assert_int_equal(o.exit_code, 0);
  cut_assert_no_children();
}

/* The remedy: no_new_privs. execve ignores the setuid bit, the program
 * stays the caller's (its setuid(0) fails), and the timeout ends it. */
static void test_setuid_no_new_privs_remedy(void **state) {
  (void)state;
  suid_outcome o = setuid_case(true);
  assert_true(o.timed_out);
  assert_true(o.term_signal == SIGTERM || o.term_signal == SIGKILL);
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_parent_killed_child_survives),
    cmocka_unit_test(test_parent_killed_pdeathsig_remedy),
    cmocka_unit_test(test_parent_killed_contained_cgroup_remedy),
    cmocka_unit_test(test_setuid_root_program_outlives_timeout),
    cmocka_unit_test(test_setuid_no_new_privs_remedy),
};

CU_TEST_MAIN(tests)
