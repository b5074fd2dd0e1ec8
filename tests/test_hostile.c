/* SPDX-License-Identifier: MIT */
/*
 * Hostile conditions (docs/design.md, "Hostile conditions"): caller memory
 * handed to a child, fds 0-2 closed in the parent, stopped children and
 * sessions, an ignored SIGCHLD, running out of descriptors.
 *
 * Tests that change process-wide state (closing 0-2, RLIMIT_NOFILE,
 * SIGCHLD) do it in a forked child that reports through its exit status
 * and a diagnostic fd, so the test process itself stays sane.
 * ctest-labels: threads
 */
#include "harness.h"
#include "stream_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn/proc.h"

/* ------------------------------------------------------------ plumbing */

static int diag_fd = 2;

/* In a forked child: report a failed check on the diagnostic fd and exit. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    if (!(cond)) {                                                             \
      dprintf(diag_fd, "%s:%d: check failed: %s (last error: %s)\n",          \
              __FILE__, __LINE__, #cond, cu_last_error());                     \
      _exit(1);                                                                \
    }                                                                          \
  } while (0)

/* Run fn(arg) in a forked child; it must return 0. */
static void in_child(int (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    diag_fd = fcntl(2, F_DUPFD_CLOEXEC, 10);
    _exit(fn(arg));
  }
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    fail_msg("child test failed (status 0x%x)", status);
}

/* Lower the soft RLIMIT_NOFILE (valgrind refuses to change the hard one). */
static void lower_nofile(rlim_t n) {
  struct rlimit rl;
  CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
  rl.rlim_cur = n;
  CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
}

static void make_tmpdir(char *dir, size_t n) {
  snprintf(dir, n, "/tmp/cu-hostile-XXXXXX");
  assert_non_null(mkdtemp(dir));
}

static void rm_tree(const char *dir) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

static void touch_file(const char *path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  close(fd);
}

/* Wait (for an event, bounded) until `path` exists; read it whole. */
static char *wait_and_read(const char *path, size_t *ret_len) {
  for (int i = 0; i < 30000 && access(path, F_OK) != 0; i++)
    usleep(1000);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  assert_true(fd >= 0);
  struct stat st;
  assert_int_equal(fstat(fd, &st), 0);
  char *buf = malloc((size_t)st.st_size + 1);
  assert_non_null(buf);
  size_t got = 0;
  ssize_t n;
  while ((n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
    got += (size_t)n;
  close(fd);
  *ret_len = got;
  return buf;
}

static bool all_bytes(const char *p, size_t n, char c) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != c)
      return false;
  return true;
}

/* -------------------------------------- 1. caller memory handed to a child */

/*
 * A grandchild reads its stdin only after the run has returned and the
 * caller has overwritten its buffer with a "secret": it must read the bytes
 * as they were when the run started.
 */
typedef enum { VIA_RUN, VIA_TASK, VIA_PIPELINE } stdin_path;

static void late_reader_sees_snapshot(cu_stream_backend b, stdin_path via,
                                      size_t len) {
  char dir[64], out[128], go[128];
  make_tmpdir(dir, sizeof dir);
  snprintf(out, sizeof out, "%s/out", dir);
  snprintf(go, sizeof go, "%s/go", dir);
  /* Page-aligned, as vmsplice likes it best. */
  char *buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(buf != MAP_FAILED);
  memset(buf, 'A', len);
  cu_cmd *cmd = cut_cmd("hostile", "latecopy", out, go, NULL);
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .in = {.mode = CU_STDIN_BYTES, .data = buf, .len = len},
                   .backend = b};
  if (via == VIA_RUN) {
    cu_result *r = NULL;
    assert_int_equal(cu_run(cmd, &o, &r), 0);
    assert_true(r->ok);
    cu_result_free(r);
    memset(buf, 'S', len); /* the secret, written after the run */
    touch_file(go);
  } else if (via == VIA_TASK) {
    /* More than a pipe holds: the rest is fed while the task runs, after
     * the caller has already changed the buffer. */
    cu_loop *loop = NULL;
    cu_task *task = NULL;
    assert_int_equal(cu_loop_new(&loop), 0);
    assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
    memset(buf, 'S', len);
    touch_file(go); /* the grandchild drains the pipe from now on */
    const cu_result *r = NULL;
    assert_int_equal(cu_task_wait(task, &r), 0);
    assert_true(r->ok);
    cu_task_free(task);
    cu_loop_free(loop);
  } else {
    cu_cmd *sink = cut_cmd("exitcode", "0", NULL);
    cu_pipeline *p = NULL;
    assert_int_equal(cu_pipeline_of(&p, cmd, sink, NULL), 0);
    cu_pipeline_opts po = {.size = sizeof(cu_pipeline_opts), .run = &o};
    cu_pipeline_result *pr = NULL;
    assert_int_equal(cu_pipeline_run(p, &po, &pr), 0);
    assert_true(pr->ok);
    cu_pipeline_result_free(pr);
    cu_pipeline_free(p);
    cu_cmd_free(sink);
    memset(buf, 'S', len);
    touch_file(go);
  }
  size_t got = 0;
  char *data = wait_and_read(out, &got);
  assert_int_equal(got, len);
  assert_true(all_bytes(data, got, 'A'));
  free(data);
  munmap(buf, len);
  cu_cmd_free(cmd);
  rm_tree(dir);
}

ST_BOTH(stdin_snapshot_run) {
  late_reader_sees_snapshot(b, VIA_RUN, 64 * 1024);
}

ST_BOTH(stdin_snapshot_task_large) {
  late_reader_sees_snapshot(b, VIA_TASK, 4 * 1024 * 1024);
}

ST_BOTH(stdin_snapshot_pipeline_stage0) {
  late_reader_sees_snapshot(b, VIA_PIPELINE, 64 * 1024);
}

/* ------------------------------------------- 2. fds 0-2 closed in the parent */

typedef struct closed_case {
  const char *close; /* digits of the fds to close */
  bool fork_spawner;
  bool exec_fails; /* run a program whose exec fails instead */
} closed_case;

static bool low_fds_closed(const char *which) {
  for (const char *p = which; *p; p++)
    if (fcntl(*p - '0', F_GETFD) >= 0 || errno != EBADF)
      return false;
  return true;
}

typedef struct start_probe {
  const char *which;
  int starts, bad;
} start_probe;

/* At START every fd of the run exists (epoll, timerfd, pidfd, pipes, the
 * cancel dup): none may sit on a closed standard fd. */
static int probe_fds(void *data, const cu_event *ev) {
  start_probe *p = data;
  if (ev->phase == CU_EV_START) {
    p->starts++;
    if (!low_fds_closed(p->which))
      p->bad++;
  }
  return 0;
}

static int closed_stdio_body(void *arg) {
  const closed_case *c = arg;
  cu__spawn_force_fork_for_tests(c->fork_spawner);
  cu_cmd *cmd = cut_cmd("argvdump", "hello", NULL);
  cut_tool tool;
  if (c->exec_fails) {
    /* A program that is gone by the time it runs: ENOENT from execve
     * (valgrind can report that one; a missing interpreter kills it). */
    cut_tool_make(&tool, "#!/bin/sh\n");
    CHECK(unlink(tool.path) == 0);
  }
  cu_stream_backend be;
  CHECK(cu_stream_backend_resolve(CU_BACKEND_AUTO, &be) == 0); /* probes */
  (void)cu__pidfd_supported();
  for (const char *p = c->close; *p; p++)
    close(*p - '0');
  cu_cancel *cancel = NULL;
  CHECK(cu_cancel_new(&cancel) == 0);
  CHECK(low_fds_closed(c->close));
  start_probe probe = {.which = c->close};
  cu_hook *hook = NULL;
  CHECK(cu_observe(probe_fds, &probe, 0, &hook) == 0);
  /* stdout echoed to "our fd 1", a cancel token, a timeout. With fd 1
   * closed the echo target is refused before anything spawns: had one of
   * the library's own fds (the token's eventfd) landed on 1, the check
   * would pass and the echo would write into it. */
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .out = {.mode = CU_STREAM_ECHO},
                   .cancel = cancel,
                   .timeout_ms = 30000};
  cu_result *r = NULL;
  if (strchr(c->close, '1')) {
    CHECK(cu_run(cmd, &o, &r) == CU_EINVAL);
    CHECK(r->pid == 0);
    CHECK(probe.starts == 0);
    r = cu_result_free(r);
    o.out.mode = CU_STREAM_CAPTURE; /* the rest of the checks capture */
  }
  int rc = cu_run(c->exec_fails ? tool.cmd : cmd, &o, &r);
  if (c->exec_fails) {
    /* The exec error travels back (the fork path's error pipe survived). */
    CHECK(rc == CU_ENOTFOUND);
    CHECK(r->spawn_step == CU_STEP_EXEC);
    CHECK(r->pid == 0);
  } else {
    CHECK(rc == 0);
    CHECK(r->exit_code == 0);
    CHECK(!r->cancelled); /* an echo to "stdout" never hits the token */
    CHECK(r->ok);
    CHECK(probe.starts == 1 && probe.bad == 0);
  }
  CHECK(low_fds_closed(c->close));
  cu_result_free(r);
  /* The loop-task path with its wake eventfd, too. */
  cu_loop *loop = NULL;
  cu_task *task = NULL;
  CHECK(cu_loop_new(&loop) == 0);
  CHECK(low_fds_closed(c->close));
  CHECK(cu_loop_spawn(loop, cmd, &o, &task) == 0);
  const cu_result *tr = NULL;
  CHECK(cu_task_wait(task, &tr) == 0);
  CHECK(tr->ok && !tr->cancelled);
  CHECK(low_fds_closed(c->close));
  cu_task_free(task);
  cu_loop_free(loop);
  cu_hook_detach(hook);
  cu_hook_unref(hook);
  cu_cancel_free(cancel);
  if (c->exec_fails)
    cut_tool_free(&tool);
  cu_cmd_free(cmd);
  CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD);
  return 0;
}

static void test_closed_stdout(void **state) {
  (void)state;
  in_child(closed_stdio_body, &(closed_case){.close = "1"});
}

static void test_closed_stdio_all(void **state) {
  (void)state;
  in_child(closed_stdio_body, &(closed_case){.close = "012"});
}

static void test_closed_stdio_all_fork_spawner(void **state) {
  (void)state;
  in_child(closed_stdio_body,
           &(closed_case){.close = "012", .fork_spawner = true});
}

static void test_closed_stdio_fork_spawner_exec_error(void **state) {
  (void)state;
  in_child(closed_stdio_body, &(closed_case){.close = "012",
                                             .fork_spawner = true,
                                             .exec_fails = true});
}

static void test_closed_stdio_posix_spawn_exec_error(void **state) {
  (void)state;
  in_child(closed_stdio_body,
           &(closed_case){.close = "012", .exec_fails = true});
}

/* --------------------------------------------- 5. stopped children, sessions */

static void test_stopped_child_handles_timeout_term(void **state) {
  (void)state;
  char dir[64], marker[128];
  make_tmpdir(dir, sizeof dir);
  snprintf(marker, sizeof marker, "%s/term", dir);
  cu_cmd *cmd = cut_cmd("hostile", "stopself", marker, NULL);
  int64_t t0 = cut_now_ms();
  cu_result *r = NULL;
  /* A grace far longer than the test may take: only a SIGCONT after the
   * SIGTERM lets the stopped child run its handler in time. */
  assert_int_equal(cu_run(cmd,
                          &(cu_run_opts){.size = sizeof(cu_run_opts),
                                         /* the handler is set up first */
                                         .timeout_ms = cut_after_start_ms(200),
                                         .grace_ms = 60000},
                          &r),
                   0);
  int64_t took = cut_now_ms() - t0;
  assert_true(r->timed_out);
  assert_true(r->sent_term);
  assert_false(r->sent_kill);
  assert_int_equal(r->exit_code, 0); /* its TERM handler's _exit(0) */
  assert_int_equal(access(marker, F_OK), 0);
  assert_true(took < 30000);
  cu_result_free(r);
  cu_cmd_free(cmd);
  rm_tree(dir);
  cut_assert_no_children();
}

typedef struct stop_watch {
  int stopped;
  int sig;
  cu_cancel *cancel;
} stop_watch;

static int on_stopped(void *data, const cu_event *ev) {
  stop_watch *w = data;
  if (ev->phase == CU_EV_STOPPED) {
    w->stopped++;
    w->sig = ev->term_signal;
    cu_cancel_trigger(w->cancel); /* now we know why nothing happens */
  }
  return 0;
}

static void stopped_event(bool pipeline) {
  char dir[64], marker[128];
  make_tmpdir(dir, sizeof dir);
  snprintf(marker, sizeof marker, "%s/term", dir);
  stop_watch w = {0};
  assert_int_equal(cu_cancel_new(&w.cancel), 0);
  cu_hook *hook = NULL;
  assert_int_equal(cu_observe(on_stopped, &w, 0, &hook), 0);
  cu_cmd *cmd = cut_cmd("hostile", "stopself", marker, NULL);
  cu_cmd *sink = cut_cmd("echoer", NULL);
  /* The timeout only bounds a failing test; the stop event cancels. */
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .cancel = w.cancel, .timeout_ms = 20000,
                   .grace_ms = 60000};
  if (pipeline) {
    cu_pipeline *p = NULL;
    assert_int_equal(cu_pipeline_of(&p, cmd, sink, NULL), 0);
    cu_pipeline_result *pr = NULL;
    assert_int_equal(
        cu_pipeline_run(p,
                        &(cu_pipeline_opts){.size = sizeof(cu_pipeline_opts),
                                            .run = &o},
                        &pr),
        0);
    assert_true(pr->cancelled);
    assert_false(pr->timed_out);
    cu_pipeline_result_free(pr);
    cu_pipeline_free(p);
  } else {
    cu_result *r = NULL;
    assert_int_equal(cu_run(cmd, &o, &r), 0);
    assert_true(r->cancelled);
    assert_false(r->timed_out);
    assert_false(r->sent_kill);
    cu_result_free(r);
  }
  assert_int_equal(w.stopped, 1);
  assert_int_equal(w.sig, SIGSTOP);
  assert_int_equal(access(marker, F_OK), 0);
  cu_hook_detach(hook);
  cu_hook_unref(hook);
  cu_cancel_free(w.cancel);
  cu_cmd_free(sink);
  cu_cmd_free(cmd);
  rm_tree(dir);
  cut_assert_no_children();
}

static void test_stopped_event_fires(void **state) {
  (void)state;
  stopped_event(false);
}

static void test_stopped_event_fires_in_pipeline(void **state) {
  (void)state;
  stopped_event(true);
}

/* "pid PGID SID" of the child, from its own view. */
static void ids_of(const char *out, long *pid, long *pgid, long *sid) {
  assert_int_equal(sscanf(out, "%ld %ld %ld", pid, pgid, sid), 3);
}

static void new_session_single(bool fork_spawner) {
  cu__spawn_force_fork_for_tests(fork_spawner);
  cu_cmd *cmd = cut_cmd("hostile", "ids", NULL);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd,
                          &(cu_run_opts){.size = sizeof(cu_run_opts),
                                         .new_session = true},
                          &r),
                   0);
  assert_true(r->ok);
  long pid, pgid, sid;
  ids_of(r->out.data, &pid, &pgid, &sid);
  assert_int_equal(pid, r->pid);
  assert_int_equal(sid, pid);  /* it leads a session of its own */
  assert_int_equal(pgid, pid); /* and its group */
  assert_int_not_equal(sid, getsid(0));
  r = cu_result_free(r);
  /* Without the option: our session, a group of its own. */
  assert_int_equal(cu_run(cmd, NULL, &r), 0);
  ids_of(r->out.data, &pid, &pgid, &sid);
  assert_int_equal(sid, getsid(0));
  assert_int_equal(pgid, pid);
  cu_result_free(r);
  cu_cmd_free(cmd);
  cu__spawn_force_fork_for_tests(false);
  cut_assert_no_children();
}

static void test_new_session_posix_spawn(void **state) {
  (void)state;
  new_session_single(false);
}

static void test_new_session_fork_spawner(void **state) {
  (void)state;
  new_session_single(true);
}

/* Every stage in a session (and group) of its own; a timeout still ends
 * every one of them, grandchildren included. */
static void test_new_session_pipeline_timeout(void **state) {
  (void)state;
  cu_cmd *a = cut_cmd("forker", "--wait", "0", NULL);
  cu_cmd *b = cut_cmd("sleeper", "60000", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_of(&p, a, b, NULL), 0);
  cu_run_opts ro = {.size = sizeof(cu_run_opts), .timeout_ms = 200,
                    .new_session = true};
  cu_pipeline_opts po = {.size = sizeof(cu_pipeline_opts), .run = &ro};
  int64_t t0 = cut_now_ms();
  cu_pipeline_result *pr = NULL;
  assert_int_equal(cu_pipeline_run(p, &po, &pr), 0);
  assert_true(pr->timed_out);
  assert_true(cut_now_ms() - t0 < 20000);
  for (size_t i = 0; i < 2; i++)
    assert_true(pr->stages[i]->terminated);
  assert_int_equal(pr->stages[0]->term_signal, SIGTERM);
  assert_int_equal(pr->stages[1]->term_signal, SIGTERM);
  cu_pipeline_result_free(pr);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
  cut_assert_no_children();
}

/* -------------------------------------------- 6. a host that ignores SIGCHLD */

static int sigchld_body(void *arg) {
  bool nocldwait = arg != NULL;
  char dir[64], path[128];
  snprintf(dir, sizeof dir, "/tmp/cu-hostile-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  snprintf(path, sizeof path, "%s/ran", dir);
  struct sigaction sa = {.sa_handler = nocldwait ? SIG_DFL : SIG_IGN,
                         .sa_flags = nocldwait ? SA_NOCLDWAIT : 0};
  sigemptyset(&sa.sa_mask);
  CHECK(sigaction(SIGCHLD, &sa, NULL) == 0);
  cu_cmd *cmd = cut_cmd("hostile", "touch", path, NULL);
  cu_result *r = NULL;
  CHECK(cu_run(cmd, NULL, &r) == CU_ESYS);
  CHECK(strstr(cu_last_error(), "SIGCHLD") != NULL);
  CHECK(strstr(cu_last_error(), "SIG_DFL") != NULL);
  CHECK(r->pid == 0);
  CHECK(r->spawn_step == CU_STEP_VALIDATE);
  CHECK(access(path, F_OK) != 0); /* nothing ran */
  r = cu_result_free(r);
  /* The library never changed the disposition. */
  struct sigaction now;
  CHECK(sigaction(SIGCHLD, NULL, &now) == 0);
  CHECK(now.sa_handler == sa.sa_handler);
  CHECK((now.sa_flags & SA_NOCLDWAIT) == (sa.sa_flags & SA_NOCLDWAIT));
  /* Restored by the caller, as the message says: runs again. */
  signal(SIGCHLD, SIG_DFL);
  CHECK(cu_run(cmd, NULL, &r) == 0);
  CHECK(r->ok);
  CHECK(access(path, F_OK) == 0);
  cu_result_free(r);
  cu_cmd_free(cmd);
  unlink(path);
  rmdir(dir);
  return 0;
}

static void test_sigchld_ignored_fails_before_spawn(void **state) {
  (void)state;
  in_child(sigchld_body, NULL);
}

static void test_sigchld_nocldwait_fails_before_spawn(void **state) {
  (void)state;
  in_child(sigchld_body, (void *)1);
}

/* ---------------------------------------------- 7. running out of descriptors */

/* pidfd_open fails (EMFILE) after a successful spawn: the child is watched
 * by polling and its real exit reported. */
static void test_pidfd_emfile_after_spawn_is_polled(void **state) {
  (void)state;
  if (!cu__pidfd_supported())
    skip(); /* every run polls here already */
  cu_cmd *cmd = cut_cmd("argvdump", "ran", NULL);
  cu__pidfd_fail_for_tests(1);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), 0);
  assert_true(r->ok);
  assert_non_null(strstr(r->out.data, "ran"));
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  /* And a timeout still terminates a polled child. */
  cmd = cut_cmd("sleeper", "60000", "--ignore-term", NULL);
  cu__pidfd_fail_for_tests(1);
  assert_int_equal(
      cu_run(cmd,
             &(cu_run_opts){.size = sizeof(cu_run_opts),
                            /* SIGTERM is ignored first */
                            .timeout_ms = cut_after_start_ms(100),
                            .grace_ms = 100},
             &r),
      0);
  assert_true(r->timed_out);
  assert_true(r->sent_kill);
  assert_int_equal(r->term_signal, SIGKILL);
  cu_result_free(r);
  cu_cmd_free(cmd);
  cu__pidfd_fail_for_tests(0);
  cut_assert_no_children();
}

/* Every descriptor is used up while a run is in flight: the cancel's
 * SIGTERM must still be followed by SIGKILL. */
typedef struct hogger {
  cu_task *task;
  int base, n, hog[512];
} hogger;

/* Once the child ignores SIGTERM (it says "ready"), use up every fd and
 * cancel. An echo sink, not an observer: an observed run has other reasons
 * to make its timer early (docs/design.md, stopped children). */
static int hog_on_ready(void *data, const void *bytes, size_t len) {
  hogger *h = data;
  (void)bytes, (void)len;
  if (h->n > 0)
    return 0;
  while (h->n < 512 && (h->hog[h->n] = dup(h->base)) >= 0)
    h->n++;
  CHECK(h->n < 512 && errno == EMFILE);
  cu_task_cancel(h->task);
  return 0;
}

static int exhausted_body(void *arg) {
  (void)arg;
  lower_nofile(256); /* a hog of finite size */
  alarm(30); /* a run that never escalates fails the test, not ctest */
  hogger h = {.base = open("/dev/null", O_RDONLY | O_CLOEXEC)};
  CHECK(h.base >= 0);
  cu_cmd *cmd = cut_cmd("sleeper", "60000", "--ignore-term", NULL);
  cu_loop *loop = NULL;
  CHECK(cu_loop_new(&loop) == 0);
  cu_run_opts o = {
      .size = sizeof(cu_run_opts),
      .out = {.mode = CU_STREAM_ECHO, .sink = hog_on_ready, .sink_data = &h},
      .grace_ms = 100};
  CHECK(cu_loop_spawn(loop, cmd, &o, &h.task) == 0);
  const cu_result *r = NULL;
  CHECK(cu_task_wait(h.task, &r) == 0);
  CHECK(h.n > 0);
  CHECK(r->cancelled);
  CHECK(r->sent_term);
  CHECK(r->sent_kill);
  CHECK(r->term_signal == SIGKILL);
  while (h.n > 0)
    close(h.hog[--h.n]);
  close(h.base);
  cu_task_free(h.task);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  return 0;
}

static void test_fds_exhausted_mid_run_still_kills(void **state) {
  (void)state;
  in_child(exhausted_body, NULL);
}

#define N_ITEMS 200

/* 200 `touch DIR/fN` at unlimited concurrency under RLIMIT_NOFILE 64:
 * items wait for descriptors instead of failing; every one runs. */
static int low_nofile_body(void *arg) {
  bool pipelines = arg != NULL;
  char dir[64];
  snprintf(dir, sizeof dir, "/tmp/cu-hostile-XXXXXX");
  CHECK(mkdtemp(dir) != NULL);
  cu_stream_backend be;
  CHECK(cu_stream_backend_resolve(CU_BACKEND_AUTO, &be) == 0);
  (void)cu__pidfd_supported();
  cu_cmd *cmds[N_ITEMS], *tails[N_ITEMS];
  cu_pipeline *pipes[N_ITEMS];
  cu_batch_item items[N_ITEMS];
  memset(items, 0, sizeof items);
  for (int i = 0; i < N_ITEMS; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/f%d", dir, i);
    cmds[i] = cut_cmd("hostile", "touch", path, NULL);
    tails[i] = pipelines ? cut_cmd("echoer", NULL) : NULL;
    pipes[i] = NULL;
    if (pipelines) {
      CHECK(cu_pipeline_of(&pipes[i], cmds[i], tails[i], NULL) == 0);
      items[i].pipeline = pipes[i];
    } else {
      items[i].cmd = cmds[i];
    }
  }
  lower_nofile(64);
  cu_parallel_result *pr = NULL;
  CHECK(cu_parallel_run(items, N_ITEMS,
                        &(cu_parallel_opts){.size = sizeof(cu_parallel_opts),
                                            .limit = 0},
                        &pr) == 0);
  for (int i = 0; i < N_ITEMS; i++) {
    char path[128];
    snprintf(path, sizeof path, "%s/f%d", dir, i);
    const cu_item_result *ir = pr->items[i];
    if (ir->state != CU_ITEM_DONE || !ir->ok) {
      dprintf(diag_fd, "item %d: state %d error %d: %s\n", i,
              (int)ir->state, ir->error, ir->message ? ir->message : "");
      const cu_pipeline_result *p = ir->pipeline;
      for (size_t k = 0; p && k < p->n_stages; k++)
        dprintf(diag_fd, "  stage %zu: exit %d signal %d stderr '%s'\n", k,
                p->stages[k]->exit_code, p->stages[k]->term_signal,
                p->stages[k]->err.data ? p->stages[k]->err.data : "");
      if (p)
        dprintf(diag_fd, "  pipeline: fail %d error %d spawn %d/%d/%d\n",
                p->fail_index, p->error, (int)p->spawn_step, p->spawn_errno,
                p->spawn_index);
    }
    CHECK(ir->state == CU_ITEM_DONE);
    CHECK(ir->ok);
    CHECK(access(path, F_OK) == 0);
    unlink(path);
  }
  CHECK(pr->ok && pr->n_ok == N_ITEMS);
  cu_parallel_result_free(pr);
  for (int i = 0; i < N_ITEMS; i++) {
    cu_pipeline_free(pipes[i]);
    cu_cmd_free(cmds[i]);
    cu_cmd_free(tails[i]);
  }
  rmdir(dir);
  return 0;
}

static void test_parallel_unlimited_low_nofile(void **state) {
  (void)state;
  in_child(low_nofile_body, NULL);
}

static void test_parallel_unlimited_low_nofile_pipelines(void **state) {
  (void)state;
  /* Out of descriptors the fork spawner (which the probe picks under the
   * emulator) starts a child with CLONE_VFORK and learns of a failure in
   * it through a shared page; qemu-user drops CLONE_VFORK, so the parent
   * reads the page before the child writes it, and a stage that failed in
   * the child before its exec exits 127 as if it had run, instead of
   * waiting for descriptors (seen: stage 1 exit 127, no spawn error). */
  if (cut_emulator()) {
    print_message("under %s, CLONE_VFORK is a fork: a stage's start failure "
                  "is not reported: skipped\n", cut_emulator());
    skip();
  }
  in_child(low_nofile_body, (void *)1);
}

/* With nothing running, an item that cannot get descriptors fails (there
 * is nothing to wait for), with the reason. */
static int nothing_running_body(void *arg) {
  (void)arg;
  lower_nofile(256); /* a hog of finite size */
  cu_stream_backend be;
  CHECK(cu_stream_backend_resolve(CU_BACKEND_AUTO, &be) == 0);
  (void)cu__pidfd_supported();
  cu_cmd *cmd = cut_cmd("argvdump", "x", NULL);
  cu_batch_item items[2] = {{.cmd = cmd}, {.cmd = cmd}};
  int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(base >= 0);
  int hog[4096], n = 0;
  while (n < 4096 && (hog[n] = dup(base)) >= 0)
    n++;
  CHECK(n < 4096 && n >= 3);
  /* Room for the loop (epoll, wake eventfd) and one more: not enough for
   * an item (timer, two pipes). */
  for (int i = 0; i < 3; i++)
    close(hog[--n]);
  cu_parallel_result *pr = NULL;
  CHECK(cu_parallel_run(items, 2, NULL, &pr) == 0);
  CHECK(pr->items[0]->state == CU_ITEM_FAILED_TO_START);
  CHECK(pr->items[1]->state == CU_ITEM_FAILED_TO_START);
  CHECK(strstr(pr->items[0]->message, strerror(EMFILE)) != NULL);
  cu_parallel_result_free(pr);
  while (n > 0)
    close(hog[--n]);
  close(base);
  cu_cmd_free(cmd);
  return 0;
}

static void test_parallel_no_fds_nothing_running_fails(void **state) {
  (void)state;
  in_child(nothing_running_body, NULL);
}

/* The fork spawner with no descriptor left for its error pipe (all fds up
 * to RLIMIT_NOFILE taken): it still starts a child, as posix_spawn would,
 * and still reports an exec failure with its step and errno. */
static int fork_no_fds_body(void *arg) {
  (void)arg;
  lower_nofile(256);
  int base = open("/dev/null", O_RDONLY | O_CLOEXEC);
  CHECK(base >= 0);
  int hog[4096], n = 0;
  while (n < 4096 && (hog[n] = fcntl(base, F_DUPFD_CLOEXEC, 3)) >= 0)
    n++;
  CHECK(n < 4096 && errno == EMFILE);
  const char *paths[3] = {"/usr/bin/true", "/usr/bin/false",
                          "/nonexistent/cuprum-no-such-program"};
  for (int i = 0; i < 3; i++) {
    char *argv[] = {(char *)"x", NULL};
    char *envp[] = {NULL};
    cu__spawn_req req = {.path = paths[i], .argv = argv, .envp = envp,
                         .cwd_fd = -1, .fd_in = -1, .fd_out = -1,
                         .fd_err = -1};
    pid_t pid = -1;
    int err_no = 0;
    cu_spawn_step step = CU_STEP_NONE;
    int rc = cu__spawn_fork(&req, &pid, &err_no, &step);
    CHECK(strcmp(cu__spawn_child_method(), "fork-vfork") == 0);
    if (i == 2) {
      CHECK(rc == CU_ENOTFOUND);
      CHECK(step == CU_STEP_EXEC && err_no == ENOENT);
      CHECK(waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD); /* reaped */
      continue;
    }
    CHECK(rc == 0 && pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == i); /* true, false */
  }
  while (n > 0)
    close(hog[--n]);
  close(base);
  return 0;
}

static void test_fork_spawner_no_fds_left(void **state) {
  (void)state;
  /* With no descriptor for the error pipe the fork spawner reports the
   * exec error through vfork's shared memory; qemu-user runs vfork as a
   * plain fork (no shared memory), so the error cannot reach the parent. */
  if (cut_emulator()) {
    print_message("under %s, vfork is a fork: the exec error written by the "
                  "child is not seen: skipped\n", cut_emulator());
    skip();
  }
  in_child(fork_no_fds_body, NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(stdin_snapshot_run_splice),
    cmocka_unit_test(stdin_snapshot_run_readwrite),
    cmocka_unit_test(stdin_snapshot_task_large_splice),
    cmocka_unit_test(stdin_snapshot_task_large_readwrite),
    cmocka_unit_test(stdin_snapshot_pipeline_stage0_splice),
    cmocka_unit_test(stdin_snapshot_pipeline_stage0_readwrite),
    cmocka_unit_test(test_closed_stdout),
    cmocka_unit_test(test_closed_stdio_all),
    cmocka_unit_test(test_closed_stdio_all_fork_spawner),
    cmocka_unit_test(test_closed_stdio_fork_spawner_exec_error),
    cmocka_unit_test(test_closed_stdio_posix_spawn_exec_error),
    cmocka_unit_test(test_stopped_child_handles_timeout_term),
    cmocka_unit_test(test_stopped_event_fires),
    cmocka_unit_test(test_stopped_event_fires_in_pipeline),
    cmocka_unit_test(test_new_session_posix_spawn),
    cmocka_unit_test(test_new_session_fork_spawner),
    cmocka_unit_test(test_new_session_pipeline_timeout),
    cmocka_unit_test(test_sigchld_ignored_fails_before_spawn),
    cmocka_unit_test(test_sigchld_nocldwait_fails_before_spawn),
    cmocka_unit_test(test_pidfd_emfile_after_spawn_is_polled),
    cmocka_unit_test(test_fds_exhausted_mid_run_still_kills),
    cmocka_unit_test(test_parallel_unlimited_low_nofile),
    cmocka_unit_test(test_parallel_unlimited_low_nofile_pipelines),
    cmocka_unit_test(test_parallel_no_fds_nothing_running_fails),
    cmocka_unit_test(test_fork_spawner_no_fds_left),
};

CU_TEST_MAIN(tests)
