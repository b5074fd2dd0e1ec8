/* SPDX-License-Identifier: MIT */
/*
 * Time never stops while output waits (issue 9, section 3): an echo whose
 * reader stops reading stalls only its own stream. Deadlines and cancels
 * still end the run on time, the child is held back by its full pipe (our
 * memory stays flat), and other tasks on the same loop keep running. Every
 * test runs on both stream backends.
 * ctest-labels: threads
 */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "stream_util.h"

/* Generous: sanitizers on a loaded two-core machine. The failure this
 * guards against is a run that never ends (the ctest timeout). */
#define LATE_MS (8000 + cut_slack_ms())
/* What the engine may have read from a stalled child: the stalled pipe's
 * capacity, at most one read's worth kept unsent (1 MiB), and slack. A
 * stream that kept reading would hold hundreds of MiB in the same time. */
#define READ_BOUND ((size_t)4 << 20)

/* An endless producer: writer with a practically infinite --out. */
static cu_cmd *endless(bool text) {
  return text ? cut_cmd("writer", "--out", "100000000000", "--text", NULL)
              : cut_cmd("writer", "--out", "100000000000", NULL);
}

/* A pipe whose reader never reads. e[1] is the echo target. */
static void stalled_pipe(int e[2]) { st_pipe(e); }

/* Whether the pipe's write end is full (nothing more fits now). */
static bool pipe_full(int wfd) {
  struct pollfd p = {.fd = wfd, .events = POLLOUT};
  return poll(&p, 1, 0) == 0;
}

/* Echo (or tee) one output stream to `fd`: the one place that names the
 * echo-fd field. */
static cu_output_opts echo_to(cu_stream_mode mode, int fd) {
  return (cu_output_opts){.mode = mode, .echo_fd = fd};
}

static cu_run_opts echo_opts(cu_stream_backend b, cu_stream_mode mode,
                             int fd) {
  cu_run_opts o = {.size = sizeof(cu_run_opts), .backend = b};
  o.out = echo_to(mode, fd);
  o.err.mode = CU_STREAM_DISCARD;
  o.in.mode = CU_STDIN_NULL;
  return o;
}

/* Step the loop until the task's echo pipe is full: the stall is reached
 * (an event, not a delay). */
static void step_until_full(cu_loop *loop, int wfd, cu_task *task) {
  int64_t t0 = cut_now_ms();
  while (!pipe_full(wfd)) {
    assert_false(cu_task_done(task));
    assert_true(cu_loop_step(loop, 100) >= 0);
    if (cut_now_ms() - t0 > 60000)
      fail_msg("the echo pipe never filled");
  }
}

/* `( cuprum run --timeout 1 -- yes ) | sleep 6` through the library: echo
 * and tee into a pipe nobody reads. Once the echo is stalled, the timeout
 * still ends the run on time, and the engine read only a bounded amount. */
ST_BOTH(timeout_holds_with_stalled_echo) {
  static const cu_stream_mode modes[] = {CU_STREAM_ECHO, CU_STREAM_TEE};
  for (size_t m = 0; m < 2; m++) {
    for (int text = 0; text < 2; text++) {
      int e[2];
      stalled_pipe(e);
      cu_loop *loop = NULL;
      assert_int_equal(cu_loop_new(&loop), 0);
      cu_cmd *cmd = endless(text);
      cu_run_opts o = echo_opts(b, modes[m], e[1]);
      o.timeout_ms = 2000; /* long enough to reach the stall first */
      o.max_capture = 1 << 20;
      int64_t t0 = cut_now_ms();
      cu_task *task = NULL;
      assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
      step_until_full(loop, e[1], task);
      const cu_result *r = NULL;
      assert_int_equal(cu_task_wait(task, &r), 0);
      int64_t took = cut_now_ms() - t0;
      assert_true(r->timed_out);
      assert_false(r->ok);
      if (!cut_under_valgrind())
        assert_true(took < 2000 + CU_GRACE_DEFAULT_MS + LATE_MS);
      if (r->out.total > READ_BOUND)
        fail_msg("read %zu bytes from a stalled child", r->out.total);
      cu_task_free(task);
      cu_loop_free(loop);
      cu_cmd_free(cmd);
      close(e[0]);
      close(e[1]);
    }
  }
  cut_assert_no_children();
}

/* The same through cu_run() (its private loop), stdout echo into a pipe
 * nobody reads, ended by the timeout whether or not the pipe filled
 * first. */
ST_BOTH(cu_run_timeout_holds_with_unread_echo) {
  int e[2];
  stalled_pipe(e);
  cu_cmd *cmd = endless(false);
  cu_run_opts o = echo_opts(b, CU_STREAM_ECHO, e[1]);
  o.timeout_ms = 1000;
  int64_t t0 = cut_now_ms();
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &o, &r), 0);
  assert_true(r->timed_out);
  if (!cut_under_valgrind())
    assert_true(cut_now_ms() - t0 < 1000 + CU_GRACE_DEFAULT_MS + LATE_MS);
  assert_true(r->out.total <= READ_BOUND);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  close(e[0]);
  close(e[1]);
  cut_assert_no_children();
}

/* The same for stderr echo, and for an echo fd that is already
 * O_NONBLOCK (used as it is) rather than reopened. */
ST_BOTH(timeout_holds_with_stalled_stderr_and_nonblocking_fd) {
  int e[2];
  stalled_pipe(e);
  fcntl(e[1], F_SETFL, O_NONBLOCK);
  cu_cmd *cmd = cut_cmd("writer", "--out", "0", "--err", "100000000000",
                        NULL);
  cu_run_opts o = {
      .size = sizeof(cu_run_opts), .backend = b, .timeout_ms = 300};
  o.in.mode = CU_STDIN_NULL;
  o.out.mode = CU_STREAM_CAPTURE;
  o.err = echo_to(CU_STREAM_ECHO, e[1]);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &o, &r), 0);
  assert_true(r->timed_out);
  assert_true(r->err.total <= READ_BOUND);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  close(e[0]);
  close(e[1]);
  cut_assert_no_children();
}

/* Cancel while the echo is stalled: the run ends at once, cancelled. */
ST_BOTH(cancel_during_stalled_echo) {
  int e[2];
  stalled_pipe(e);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = endless(false);
  cu_run_opts o = echo_opts(b, CU_STREAM_ECHO, e[1]);
  cu_task *task = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
  step_until_full(loop, e[1], task);
  /* A few more turns: the loop must not spin or read while stalled. */
  for (int i = 0; i < 3; i++)
    assert_int_equal(cu_loop_step(loop, 50), 0);
  assert_false(cu_task_done(task));
  int64_t t0 = cut_now_ms();
  cu_task_cancel(task);
  const cu_result *r = NULL;
  assert_int_equal(cu_task_wait(task, &r), 0);
  if (!cut_under_valgrind())
    assert_true(cut_now_ms() - t0 < CU_GRACE_DEFAULT_MS + LATE_MS);
  assert_true(r->cancelled);
  assert_true(r->out.total <= READ_BOUND);
  cu_task_free(task);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  close(e[0]);
  close(e[1]);
  cut_assert_no_children();
}

/* While the echo is stalled the loop sleeps in epoll_wait: a step with a
 * timeout returns 0 (nothing to do) instead of spinning or blocking in a
 * write, and the child stays blocked (our read total does not grow). */
ST_BOTH(stalled_echo_applies_backpressure) {
  int e[2];
  stalled_pipe(e);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = endless(true);
  cu_run_opts o = echo_opts(b, CU_STREAM_TEE, e[1]);
  cu_task *task = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
  step_until_full(loop, e[1], task);
  int idle = 0;
  for (int i = 0; i < 20 && idle < 3; i++) {
    int64_t t0 = cut_now_ms();
    assert_int_equal(cu_loop_step(loop, 30), 0);
    idle += cut_now_ms() - t0 >= 25; /* slept: no event was ready */
  }
  assert_true(idle >= 3);
  /* Now let the reader take 1 MiB: the run moves again. */
  char buf[65536];
  size_t got = 0, last = 0;
  fcntl(e[0], F_SETFL, O_NONBLOCK);
  while (got < (1u << 20)) {
    ssize_t n = read(e[0], buf, sizeof buf);
    if (n > 0) {
      last = got;
      got += (size_t)n;
    }
    assert_false(cu_task_done(task));
    assert_true(cu_loop_step(loop, n > 0 ? 0 : 10) >= 0);
  }
  cu_task_cancel(task);
  const cu_result *r = NULL;
  assert_int_equal(cu_task_wait(task, &r), 0);
  assert_true(r->cancelled);
  assert_true(r->out.total >= got);            /* it moved again */
  assert_true(r->out.total <= got + READ_BOUND); /* and stayed bounded */
  /* The echoed bytes are the child's, in order. */
  assert_memory_equal(buf, r->out.data + last, 16);
  cu_task_free(task);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  close(e[0]);
  close(e[1]);
  cut_assert_no_children();
}

/* Two tasks on one loop: A's echo is stalled, B runs to completion with
 * all of its output; then A is cancelled. */
ST_BOTH(other_tasks_run_while_one_is_stalled) {
  int e[2];
  stalled_pipe(e);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *a_cmd = endless(false);
  cu_run_opts ao = echo_opts(b, CU_STREAM_ECHO, e[1]);
  cu_task *a = NULL;
  assert_int_equal(cu_loop_spawn(loop, a_cmd, &ao, &a), 0);
  step_until_full(loop, e[1], a);
  cu_cmd *b_cmd = cut_cmd("writer", "--out", "3000000", "--err", "1000",
                          NULL);
  cu_run_opts bo = {.size = sizeof(cu_run_opts), .backend = b};
  bo.in.mode = CU_STDIN_NULL;
  cu_task *t = NULL;
  assert_int_equal(cu_loop_spawn(loop, b_cmd, &bo, &t), 0);
  const cu_result *br = NULL;
  assert_int_equal(cu_task_wait(t, &br), 0);
  assert_true(br->ok);
  assert_int_equal(br->out.len, 3000000);
  assert_int_equal(br->err.len, 1000);
  assert_false(cu_task_done(a));
  cu_task_cancel(a);
  const cu_result *ar = NULL;
  assert_int_equal(cu_task_wait(a, &ar), 0);
  assert_true(ar->cancelled);
  cu_task_free(t);
  cu_task_free(a);
  cu_loop_free(loop);
  cu_cmd_free(a_cmd);
  cu_cmd_free(b_cmd);
  close(e[0]);
  close(e[1]);
  cut_assert_no_children();
}

/* Without a deadline a stalled echo is backpressure, not loss: once the
 * reader reads, every byte arrives in order. */
ST_BOTH(slow_reader_gets_every_byte) {
  int e[2];
  stalled_pipe(e);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  size_t n = 3u << 20;
  char nbuf[32];
  snprintf(nbuf, sizeof nbuf, "%zu", n);
  cu_cmd *cmd = cut_cmd("writer", "--out", nbuf, NULL);
  cu_run_opts o = echo_opts(b, CU_STREAM_ECHO, e[1]);
  cu_task *task = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
  step_until_full(loop, e[1], task);
  close(e[1]);
  e[1] = -1;
  char *got = malloc(n + 1);
  assert_non_null(got);
  size_t len = 0;
  fcntl(e[0], F_SETFL, O_NONBLOCK);
  while (!cu_task_done(task)) {
    ssize_t k = read(e[0], got + len, n + 1 - len);
    if (k > 0)
      len += (size_t)k;
    assert_true(cu_loop_step(loop, 10) >= 0);
  }
  for (ssize_t k; (k = read(e[0], got + len, n + 1 - len)) > 0;)
    len += (size_t)k;
  assert_int_equal(len, n);
  for (size_t i = 0; i < n; i++)
    if (got[i] != (char)('a' + i % 26))
      fail_msg("byte %zu is wrong", i);
  const cu_result *r = cu_task_result(task);
  assert_true(r->ok);
  free(got);
  cu_task_free(task);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  close(e[0]);
  cut_assert_no_children();
}

/* A socket cannot be reopened: it is written with send(MSG_DONTWAIT), and
 * a peer that does not read stalls it like a pipe. */
ST_BOTH(stalled_socket_echo_holds_the_timeout) {
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  cu_loop *loop = NULL;
  assert_int_equal(cu_loop_new(&loop), 0);
  cu_cmd *cmd = endless(false);
  cu_run_opts o = echo_opts(b, CU_STREAM_ECHO, sv[0]);
  o.timeout_ms = 2000;
  cu_task *task = NULL;
  assert_int_equal(cu_loop_spawn(loop, cmd, &o, &task), 0);
  step_until_full(loop, sv[0], task);
  int64_t t0 = cut_now_ms();
  const cu_result *r = NULL;
  assert_int_equal(cu_task_wait(task, &r), 0);
  assert_true(r->timed_out);
  if (!cut_under_valgrind())
    assert_true(cut_now_ms() - t0 < 2000 + CU_GRACE_DEFAULT_MS + LATE_MS);
  assert_true(r->out.total <= READ_BOUND);
  cu_task_free(task);
  cu_loop_free(loop);
  cu_cmd_free(cmd);
  close(sv[0]);
  close(sv[1]);
  cut_assert_no_children();
}

/* An echo pipe whose reader is already gone: reopening it fails with ENXIO,
 * which is EPIPE; echo-only, the child's pipe is closed and it dies of
 * SIGPIPE at once, as in a shell pipeline. */
ST_BOTH(echo_pipe_without_reader_stops_the_child) {
  int e[2];
  st_pipe(e);
  close(e[0]);
  cu_cmd *cmd = endless(false);
  cu_run_opts o = echo_opts(b, CU_STREAM_ECHO, e[1]);
  o.timeout_ms = 30000; /* a failure here would be a hang */
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &o, &r), 0);
  assert_false(r->timed_out);
  assert_int_equal(r->term_signal, SIGPIPE);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  close(e[1]);
  cut_assert_no_children();
}

/* An echo fd that is not open is a bad option, found before anything
 * runs. */
ST_BOTH(echo_fd_not_open_is_einval) {
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  int fds = cut_fd_count();
  cu_run_opts o = echo_opts(b, CU_STREAM_ECHO, 900);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &o, &r), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "echo fd 900"));
  assert_int_equal(r->pid, 0);
  assert_int_equal(cut_fd_count(), fds);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(stalled_socket_echo_holds_the_timeout_splice),
    cmocka_unit_test(stalled_socket_echo_holds_the_timeout_readwrite),
    cmocka_unit_test(echo_pipe_without_reader_stops_the_child_splice),
    cmocka_unit_test(echo_pipe_without_reader_stops_the_child_readwrite),
    cmocka_unit_test(echo_fd_not_open_is_einval_splice),
    cmocka_unit_test(echo_fd_not_open_is_einval_readwrite),
    cmocka_unit_test(timeout_holds_with_stalled_echo_splice),
    cmocka_unit_test(timeout_holds_with_stalled_echo_readwrite),
    cmocka_unit_test(cu_run_timeout_holds_with_unread_echo_splice),
    cmocka_unit_test(cu_run_timeout_holds_with_unread_echo_readwrite),
    cmocka_unit_test(timeout_holds_with_stalled_stderr_and_nonblocking_fd_splice),
    cmocka_unit_test(timeout_holds_with_stalled_stderr_and_nonblocking_fd_readwrite),
    cmocka_unit_test(cancel_during_stalled_echo_splice),
    cmocka_unit_test(cancel_during_stalled_echo_readwrite),
    cmocka_unit_test(stalled_echo_applies_backpressure_splice),
    cmocka_unit_test(stalled_echo_applies_backpressure_readwrite),
    cmocka_unit_test(other_tasks_run_while_one_is_stalled_splice),
    cmocka_unit_test(other_tasks_run_while_one_is_stalled_readwrite),
    cmocka_unit_test(slow_reader_gets_every_byte_splice),
    cmocka_unit_test(slow_reader_gets_every_byte_readwrite),
};

CU_TEST_MAIN(tests)
