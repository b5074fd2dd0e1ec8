/* SPDX-License-Identifier: MIT */
/* The helper programs themselves, run with plain posix_spawn (not
 * libcuprum), so a runtime test failing can be trusted to be the runtime's
 * fault. */
#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

struct out {
  char *data[2]; /* stdout, stderr */
  size_t len[2];
  int status;
};

static void append(struct out *o, int k, const char *buf, size_t n) {
  o->data[k] = realloc(o->data[k], o->len[k] + n + 1);
  assert_non_null(o->data[k]);
  memcpy(o->data[k] + o->len[k], buf, n);
  o->len[k] += n;
  o->data[k][o->len[k]] = '\0';
}

static int close_fd(int fd) {
  close(fd);
  return -1;
}

/* Feed `in` (may be NULL) and drain both outputs at once until EOF. */
static void pump(int fds[3], const char *in, size_t in_len, struct out *o) {
  size_t fed = 0;
  if (!in)
    fds[0] = close_fd(fds[0]);
  while (fds[1] >= 0 || fds[2] >= 0) {
    struct pollfd p[3] = {{fds[0], POLLOUT, 0}, {fds[1], POLLIN, 0},
                          {fds[2], POLLIN, 0}};
    assert_true(poll(p, 3, 10000) > 0);
    if (fds[0] >= 0 && p[0].revents) {
      size_t n = in_len - fed < 65536 ? in_len - fed : 65536;
      ssize_t w = write(fds[0], in + fed, n);
      assert_true(w > 0);
      fed += (size_t)w;
      if (fed == in_len)
        fds[0] = close_fd(fds[0]);
    }
    for (int k = 1; k <= 2; k++) {
      if (fds[k] < 0 || !p[k].revents)
        continue;
      char buf[65536];
      ssize_t n = read(fds[k], buf, sizeof buf);
      assert_true(n >= 0);
      if (n == 0)
        fds[k] = close_fd(fds[k]);
      else
        append(o, k - 1, buf, (size_t)n);
    }
  }
  if (fds[0] >= 0)
    fds[0] = close_fd(fds[0]);
}

/* Run helper argv[0] with stdin fed from `in` and both outputs captured. */
static struct out run_io(const char *const *argv, const char *in,
                         size_t in_len) {
  int p[3][2];
  for (int i = 0; i < 3; i++)
    assert_int_equal(pipe2(p[i], O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[0][0], 0);
  posix_spawn_file_actions_adddup2(&fa, p[1][1], 1);
  posix_spawn_file_actions_adddup2(&fa, p[2][1], 2);
  pid_t pid;
  assert_int_equal(posix_spawn(&pid, cut_helper(argv[0]), &fa, NULL,
                               (char *const *)argv, environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  close(p[0][0]);
  close(p[1][1]);
  close(p[2][1]);
  struct out o = {0};
  int fds[3] = {p[0][1], p[1][0], p[2][0]};
  pump(fds, in, in_len, &o);
  assert_int_equal(waitpid(pid, &o.status, 0), pid);
  for (int k = 0; k < 2; k++)
    if (!o.data[k])
      append(&o, k, "", 0);
  return o;
}

#define RUN(...) run_io((const char *const[]){__VA_ARGS__, NULL}, NULL, 0)

static void out_free(struct out *o) {
  free(o->data[0]);
  free(o->data[1]);
}

static void test_writer_exact_bytes(void **state) {
  (void)state;
  struct out o = RUN("writer", "--out", "300000", "--err", "200001",
                     "--chunk", "4096");
  assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
  assert_int_equal(o.len[0], 300000);
  assert_int_equal(o.len[1], 200001);
  for (size_t i = 0; i < o.len[0]; i += 997)
    assert_int_equal(o.data[0][i], 'a' + (int)(i % 26));
  assert_int_equal(o.data[1][200000], 'A' + (int)(200000 % 26));
  out_free(&o);
  o = RUN("writer", "--out", "26", "--err", "0", "--text");
  assert_string_equal(o.data[0], "out 00000000\nout 00000001\n");
  assert_int_equal(o.len[1], 0);
  out_free(&o);
}

static void test_stress_echoes_and_writes(void **state) {
  (void)state;
  size_t n = 3 << 20;
  char *in = malloc(n);
  for (size_t i = 0; i < n; i++)
    in[i] = (char)(i * 7 + i / 251);
  struct out o = run_io((const char *const[]){"stress", "--err", "2000000",
                                              NULL},
                        in, n);
  assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0);
  assert_int_equal(o.len[0], n);
  assert_memory_equal(o.data[0], in, n);
  assert_int_equal(o.len[1], 2000000);
  assert_int_equal(o.data[1][1999999], 'E');
  free(in);
  out_free(&o);
}

static void test_echoer_and_argvdump(void **state) {
  (void)state;
  struct out o = run_io((const char *const[]){"echoer", NULL}, "a\0b\n", 4);
  assert_int_equal(o.len[0], 4);
  assert_memory_equal(o.data[0], "a\0b\n", 4);
  out_free(&o);
  o = RUN("argvdump", "", "two words", "x\ny");
  assert_string_equal(o.data[0],
                      "argc 4\n8:argvdump\n0:\n9:two words\n3:x\ny\n");
  out_free(&o);
}

static void test_exitcode_and_killself(void **state) {
  (void)state;
  struct out o = RUN("exitcode", "42");
  assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 42);
  out_free(&o);
  o = RUN("killself", "15");
  assert_true(WIFSIGNALED(o.status) && WTERMSIG(o.status) == SIGTERM);
  out_free(&o);
  o = RUN("exitcode", "nope");
  assert_true(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 2);
  out_free(&o);
}

static void test_envdump_and_pwddump(void **state) {
  (void)state;
  setenv("CU_HELPER_VAR", "v=1", 1);
  unsetenv("CU_HELPER_UNSET");
  struct out o = RUN("envdump", "CU_HELPER_VAR", "CU_HELPER_UNSET");
  assert_string_equal(o.data[0], "CU_HELPER_VAR=v=1\nCU_HELPER_UNSET unset\n");
  out_free(&o);
  o = RUN("envdump");
  assert_non_null(strstr(o.data[0], "CU_HELPER_VAR=v=1\n"));
  out_free(&o);
  char cwd[4096];
  assert_non_null(getcwd(cwd, sizeof cwd));
  o = RUN("pwddump");
  assert_int_equal(strncmp(o.data[0], cwd, strlen(cwd)), 0);
  assert_string_equal(o.data[0] + strlen(cwd), "\n");
  out_free(&o);
}

static void test_fdlist_lists_open_fds(void **state) {
  (void)state;
  struct out o = RUN("fdlist");
  /* Our pipes are CLOEXEC, so at least 0, 1 and 2 come first. */
  assert_int_equal(strncmp(o.data[0], "0\n1\n2\n", 6), 0);
  out_free(&o);
}

static void test_sleeper_and_forker(void **state) {
  (void)state;
  struct out o = RUN("sleeper", "1", "--print-pid", "--ignore-term");
  int pid = 0;
  assert_int_equal(sscanf(o.data[0], "ready %d", &pid), 1);
  assert_true(pid > 0);
  out_free(&o);
  /* forker exits at once, but its grandchild holds our pipes: EOF only
   * arrives when the grandchild is done, 300 ms later. */
  int64_t t0 = cut_now_ms();
  o = RUN("forker", "300");
  int64_t took = cut_now_ms() - t0;
  int gc = 0;
  assert_int_equal(sscanf(o.data[0], "grandchild %d", &gc), 1);
  assert_true(gc > 0);
  assert_true(took >= 250);
  out_free(&o);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_writer_exact_bytes),
    cmocka_unit_test(test_stress_echoes_and_writes),
    cmocka_unit_test(test_echoer_and_argvdump),
    cmocka_unit_test(test_exitcode_and_killself),
    cmocka_unit_test(test_envdump_and_pwddump),
    cmocka_unit_test(test_fdlist_lists_open_fds),
    cmocka_unit_test(test_sleeper_and_forker),
};

CU_TEST_MAIN(tests)
