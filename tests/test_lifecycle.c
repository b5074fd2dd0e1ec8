/* SPDX-License-Identifier: MIT */
/* Timeouts, cancellation, process trees, zombies and fd hygiene.
 * ctest-labels: threads */
#include "harness.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>


static pid_t grandchild_of(const cu_result *r) {
  int pid = 0;
  const char *p = strstr(r->out.data, "grandchild ");
  if (p)
    sscanf(p, "grandchild %d", &pid);
  return (pid_t)pid;
}

static void test_timeout_plain(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("sleeper", "10000", NULL);
  int64_t timeout = cut_after_start_ms(200); /* it prints "ready" first */
  int64_t t0 = cut_now_ms();
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .timeout_ms = timeout}, &r), 0);
  int64_t took = cut_now_ms() - t0;
  assert_true(r->timed_out);
  assert_false(r->ok);
  assert_true(r->sent_term);
  assert_false(r->sent_kill); /* it obeyed SIGTERM */
  assert_int_equal(r->term_signal, SIGTERM);
  assert_string_equal(r->out.data, "ready\n"); /* partial output kept */
  assert_true(took >= timeout);
  assert_true(took < timeout + cut_slack_ms());
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_timeout_term_ignoring_child(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  int64_t timeout = cut_after_start_ms(100); /* it ignores SIGTERM first */
  int64_t t0 = cut_now_ms();
  cu_result *r = NULL;
  assert_int_equal(
      cu_run(cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .timeout_ms = timeout, .grace_ms = 200}, &r),
      0);
  int64_t took = cut_now_ms() - t0;
  assert_true(r->timed_out);
  assert_true(r->sent_term);
  assert_true(r->sent_kill);
  assert_int_equal(r->term_signal, SIGKILL);
  assert_true(took >= timeout + 200);
  assert_true(took < timeout + 200 + cut_slack_ms());
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_timeout_grandchild_holds_pipes(void **state) {
  (void)state;
  /* The child exits at once; its grandchild ignores SIGTERM and keeps
   * stdout/stderr open. The run must still end: KILL reaches the group. */
  cu_cmd *cmd = cut_cmd("forker", "--ignore-term", "0", NULL);
  int64_t timeout = cut_after_start_ms(150); /* it forks and prints first */
  int64_t t0 = cut_now_ms();
  cu_result *r = NULL;
  assert_int_equal(
      cu_run(cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .timeout_ms = timeout, .grace_ms = 100}, &r),
      0);
  int64_t took = cut_now_ms() - t0;
  assert_true(r->timed_out);
  assert_true(r->sent_kill);
  assert_int_equal(r->exit_code, 0); /* the direct child had exited */
  pid_t gc = grandchild_of(r);
  assert_true(gc > 0);
  assert_true(took < timeout + 100 + cut_slack_ms());
  /* The grandchild is gone (it was reparented: wait for its exit). */
  assert_true(cut_wait_exited(gc, 1000));
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_grace_none_kills_at_once(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd,
                          &(cu_run_opts){.size = sizeof(cu_run_opts),
                                         .timeout_ms = 50,
                                         .grace_ms = CU_GRACE_NONE},
                          &r),
                   0);
  assert_false(r->sent_term);
  assert_true(r->sent_kill);
  assert_int_equal(r->term_signal, SIGKILL);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
}

/* Cancels from its own thread once the child is under way: when the run's
 * first stdout line arrives (forker prints it after ignoring SIGTERM), not
 * after a guessed delay. */
typedef struct canceller {
  cu_cancel *token;
  sem_t started;
  int64_t cancelled_at;
} canceller;

static int on_first_line(void *userdata, const cu_event *ev) {
  canceller *c = userdata;
  if (ev->phase == CU_EV_STDOUT_LINE)
    sem_post(&c->started);
  return 0;
}

static void *cancel_when_started(void *arg) {
  canceller *c = arg;
  while (sem_wait(&c->started) != 0 && errno == EINTR) {
  }
  c->cancelled_at = cut_now_ms();
  cu_cancel_trigger(c->token);
  return NULL;
}

static void test_cancel_from_another_thread(void **state) {
  (void)state;
  cu_cancel *token = NULL;
  assert_int_equal(cu_cancel_new(&token), 0);
  cu_cmd *cmd = cut_cmd("forker", "--ignore-term", "--wait", "0", NULL);
  canceller c = {.token = token};
  assert_int_equal(sem_init(&c.started, 0, 0), 0);
  cu_hook *obs = NULL;
  assert_int_equal(cu_observe(on_first_line, &c, CU_OBSERVE_LINES, &obs), 0);
  pthread_t th;
  pthread_create(&th, NULL, cancel_when_started, &c);
  cu_result *r = NULL;
  assert_int_equal(
      cu_run(cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .cancel = token, .grace_ms = 100}, &r), 0);
  int64_t ended = cut_now_ms();
  sem_post(&c.started); /* lets the thread end had no line come */
  pthread_join(th, NULL);
  int64_t took = ended - c.cancelled_at;
  cu_hook_detach(obs);
  obs = cu_hook_unref(obs);
  sem_destroy(&c.started);
  assert_true(r->cancelled);
  assert_false(r->timed_out);
  assert_false(r->ok);
  assert_true(r->sent_kill);
  assert_true(took < 100 + cut_slack_ms()); /* grace, then SIGKILL */
  assert_true(cu_cancel_triggered(token));
  r = cu_result_free(r);
  /* A triggered token refuses new runs before spawning anything. */
  assert_int_equal(
      cu_run(cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .cancel = token},
             &r),
      CU_ECANCELED);
  assert_int_equal(r->pid, 0);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cu_cancel_free(token);
  cut_assert_no_children();
}

static void test_no_zombies_no_fd_growth_many_runs(void **state) {
  (void)state;
  /* Under valgrind or qemu-user every child start costs ~0.1 s. The scale
   * test is `make soak` (100,000 runs); 500 here keep the test within its
   * timeout under sanitizers on a loaded machine. */
  int n = cut_under_valgrind() || cut_emulator() ? 100 : 500;
#ifdef CUPRUM_SPAWN_FORK
  /* Every start forks the whole (ASan) test process, page tables and
   * shadow included: 500 took 142 s of the 180 s timeout at load 60. */
  n = n > 200 ? 200 : n;
#endif
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), 0); /* warm-up: lazy probes */
  r = cu_result_free(r);
  int fds = cut_fd_count();
  for (int i = 0; i < n; i++) {
    assert_int_equal(cu_run(cmd, NULL, &r), 0);
    assert_true(r->ok);
    r = cu_result_free(r);
  }
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
  cu_cmd_free(cmd);
}

#define N_THREADS 64

static void *run_in_thread(void *arg) {
  cu_cmd *cmd = arg;
  intptr_t bad = 0;
  for (int i = 0; i < 5; i++) {
    cu_result *r = NULL;
    if (cu_run(cmd, NULL, &r) != 0 || !r->ok || r->out.len != 4096)
      bad++;
    r = cu_result_free(r);
  }
  return (void *)bad;
}

static void test_64_threads_concurrently(void **state) {
  (void)state;
  cu_cmd *cmd = cut_cmd("writer", "--out", "4096", NULL);
  pthread_t th[N_THREADS];
  for (int i = 0; i < N_THREADS; i++)
    assert_int_equal(pthread_create(&th[i], NULL, run_in_thread, cmd), 0);
  intptr_t bad = 0;
  for (int i = 0; i < N_THREADS; i++) {
    void *ret;
    pthread_join(th[i], &ret);
    bad += (intptr_t)ret;
  }
  assert_int_equal(bad, 0);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void test_loop_free_cancels_running_tasks(void **state) {
  (void)state;
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = cut_cmd("sleeper", "10000", "--ignore-term", NULL);
  cu_task *a = NULL, *b = NULL;
  assert_int_equal(
      cu_loop_spawn(loop, cmd,
                    &(cu_run_opts){.size = sizeof(cu_run_opts), .grace_ms = 50},
                    &a),
      0);
  assert_int_equal(
      cu_loop_spawn(loop, cmd,
                    &(cu_run_opts){.size = sizeof(cu_run_opts), .grace_ms = 50},
                    &b),
      0);
  assert_int_equal(cu_loop_active(loop), 2);
  cu_task_free(b); /* orphaned: the loop finishes it */
  int64_t t0 = cut_now_ms();
  cu_loop_free(loop);
  assert_true(cut_now_ms() - t0 < 50 + cut_slack_ms());
  assert_true(cu_task_done(a));
  assert_true(cu_task_result(a)->cancelled);
  cu_task_free(a);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static void steal_children(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

static void test_child_reaped_by_someone_else(void **state) {
  (void)state;
  /* Other code in the process (libpipeline does this) reaps every child
   * from a SIGCHLD handler. The run must end with a clear error, not hang
   * or spin. */
  struct sigaction sa = {.sa_handler = steal_children, .sa_flags = SA_RESTART};
  struct sigaction old;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, &old);
  cu_cmd *cmd = cut_cmd("sleeper", "200", NULL);
  int64_t t0 = cut_now_ms();
  cu_result *r = NULL;
  int rc = cu_run(
      cmd, &(cu_run_opts){.size = sizeof(cu_run_opts), .timeout_ms = 10000},
      &r);
  int64_t took = cut_now_ms() - t0;
  sigaction(SIGCHLD, &old, NULL);
  assert_int_equal(rc, CU_ESYS);
  assert_non_null(strstr(cu_last_error(), "reaps every child"));
  assert_false(r->ok);
  assert_false(r->timed_out);
  assert_true(took < 200 + 1000 + cut_slack_ms());
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_child_reaped_by_someone_else),
    cmocka_unit_test(test_timeout_plain),
    cmocka_unit_test(test_timeout_term_ignoring_child),
    cmocka_unit_test(test_timeout_grandchild_holds_pipes),
    cmocka_unit_test(test_grace_none_kills_at_once),
    cmocka_unit_test(test_cancel_from_another_thread),
    cmocka_unit_test(test_no_zombies_no_fd_growth_many_runs),
    cmocka_unit_test(test_64_threads_concurrently),
    cmocka_unit_test(test_loop_free_cancels_running_tasks),
};

CU_TEST_MAIN(tests)
