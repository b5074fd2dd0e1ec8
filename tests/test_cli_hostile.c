/* SPDX-License-Identifier: MIT */
/*
 * The `cuprum` tool started by a hostile host (docs/design.md, "Hostile
 * conditions"): with fds 0-2 closed, with SIGCHLD ignored, with few
 * descriptors, and under a terminal (a program prompting on /dev/tty;
 * --foreground). The host is the `hostile` helper, which changes that
 * state and then execs cuprum.
 */
#include "harness_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRAP(...) cli_wrap(ARGS(helper("hostile"), __VA_ARGS__, "--"))

/* Every line of `path` is a JSON object. Returns the number of lines. */
static int assert_json_lines(const char *path) {
  FILE *f = fopen(path, "re");
  assert_non_null(f);
  char line[65536];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    json_error_t err;
    json_t *j = json_loads(line, 0, &err);
    if (!j || !json_is_object(j))
      fail_msg("%s:%d is not a JSON object: %s", path, n + 1, line);
    json_decref(j);
    n++;
  }
  fclose(f);
  return n;
}

/* ------------------------------------------------------- closed 0-2 */

/* `cuprum run --events ev.jsonl -- argvdump hi >&-`: the events file must
 * not become stdout, and the lost output is an error, not a success. */
static void test_closed_stdout_events_and_error(void **state) {
  fixture *fx = *state;
  char ev[PATH_MAX];
  path_in(fx, "ev.jsonl", ev);
  WRAP("close", "1");
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--events", ev,
                     "--", "argvdump", "hi");
  cli_wrap(NULL);
  assert_true(r.status != 0);
  assert_contains(r.err, "write error on stdout");
  assert_true(assert_json_lines(ev) >= 3); /* plan, start, ..., exit */
  cli_free(&r);
}

/* Closed stdin and stderr: the command still runs and its output is right;
 * nothing cuprum opens takes their place. */
static void test_closed_stdin_stderr(void **state) {
  fixture *fx = *state;
  char ev[PATH_MAX];
  path_in(fx, "ev.jsonl", ev);
  WRAP("close", "02");
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--events", ev,
                     "--", "argvdump", "hi");
  cli_wrap(NULL);
  assert_status(r, 0);
  assert_contains(r.out, "hi");
  assert_true(assert_json_lines(ev) >= 3);
  cli_free(&r);
}

/* All three closed, and a command that inherits nothing: exit 0 when the
 * command writes nothing (there was nothing to lose). */
static void test_closed_all_quiet_command(void **state) {
  fixture *fx = *state;
  WRAP("close", "012");
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "exitcode",
                     "0");
  cli_wrap(NULL);
  assert_status(r, 0);
  cli_free(&r);
}

/* ------------------------------------------------------- SIGCHLD */

static void sigchld_runs(fixture *fx, const char *mode) {
  cli_wrap(ARGS(helper("hostile"), mode, "--"));
  /* The failure was intermittent: try it often. */
  for (int i = 0; i < 20; i++) {
    cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "argvdump",
                       "hi");
    assert_status(r, 0);
    assert_contains(r.out, "hi");
    cli_free(&r);
  }
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file, "[\"exitcode\", \"0\"]\n[\"exitcode\", \"3\"]\n", 0644);
  cli_result r = CLI("parallel", "--catalogue", fx->catalogue, file);
  cli_wrap(NULL);
  assert_status(r, 3); /* the first failing item's status */
  assert_contains(r.out, "\"exit_code\":3");
  cli_free(&r);
}

static void test_sigchld_ignored_by_host(void **state) {
  sigchld_runs(*state, "sigign");
}

static void test_sigchld_nocldwait_by_host(void **state) {
  sigchld_runs(*state, "nocldwait");
}

/* ------------------------------------------------ few descriptors */

static void test_parallel_j0_low_nofile(void **state) {
  fixture *fx = *state;
  char dir[PATH_MAX], file[PATH_MAX];
  path_in(fx, "out", dir);
  assert_int_equal(mkdir(dir, 0755), 0);
  path_in(fx, "batch.jsonl", file);
  FILE *f = fopen(file, "we");
  assert_non_null(f);
  for (int i = 0; i < 200; i++)
    fprintf(f, "[\"hostile\", \"touch\", \"%s/f%d\"]\n", dir, i);
  fclose(f);
  WRAP("nofile", "64");
  cli_result r = CLI("parallel", "-j", "0", "--catalogue", fx->catalogue,
                     file);
  cli_wrap(NULL);
  assert_status(r, 0);
  for (int i = 0; i < 200; i++) {
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/f%d", dir, i);
    assert_int_equal(access(path, F_OK), 0);
    unlink(path);
  }
  rmdir(dir);
  /* Every item ran to the end: none failed to start. */
  assert_null(strstr(r.out, "failed_to_start"));
  cli_free(&r);
}

/* ------------------------------------------------ terminals */

/* Run cuprum ARGS on a new pseudo-terminal (its controlling terminal),
 * writing `input` to it; collect what it prints. Fails the test if cuprum
 * has not ended within CLI_DEADLINE_MS (then it is killed). */
static int run_on_pty(const char *const *args, const char *input,
                      char *out, size_t cap) {
  const char *argv[32] = {cut_cli()};
  size_t n = 1;
  for (; args[n - 1]; n++)
    argv[n] = args[n - 1];
  argv[n] = NULL;
  int master = -1;
  fflush(NULL);
  pid_t pid = forkpty(&master, NULL, NULL, NULL);
  assert_true(pid >= 0);
  if (pid == 0) {
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  if (input)
    assert_int_equal(write(master, input, strlen(input)),
                     (ssize_t)strlen(input));
  size_t len = 0;
  int64_t deadline = cut_now_ms() + CLI_DEADLINE_MS;
  int status = 0;
  for (;;) {
    struct pollfd p = {.fd = master, .events = POLLIN};
    if (poll(&p, 1, 100) > 0) {
      ssize_t r = read(master, out + len, cap - 1 - len);
      if (r > 0)
        len += (size_t)r;
    }
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid)
      break;
    if (cut_now_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      out[len] = '\0';
      fail_msg("cuprum hung on the terminal; it printed: %s", out);
    }
  }
  /* What is left after it exited. */
  struct pollfd p = {.fd = master, .events = POLLIN};
  while (len < cap - 1 && poll(&p, 1, 0) > 0) {
    ssize_t r = read(master, out + len, cap - 1 - len);
    if (r <= 0)
      break;
    len += (size_t)r;
  }
  out[len] = '\0';
  close(master);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 1000 + WTERMSIG(status);
}

static bool have_git(void) {
  const char *path = getenv("PATH");
  char buf[PATH_MAX];
  for (const char *p = path; p && *p;) {
    const char *colon = strchr(p, ':');
    size_t len = colon ? (size_t)(colon - p) : strlen(p);
    snprintf(buf, sizeof buf, "%.*s/git", (int)len, p);
    if (access(buf, X_OK) == 0)
      return true;
    p = colon ? colon + 1 : NULL;
  }
  return false;
}

/* git asking for a password on /dev/tty: with the default catalogue, it
 * fails at once (no controlling terminal in its new session) instead of
 * hanging stopped by SIGTTIN. */
static void test_git_prompt_under_terminal_fails_fast(void **state) {
  fixture *fx = *state;
  if (!have_git()) {
    printf("[ SKIPPED  ] git is not installed\n");
    skip();
  }
  char cred[PATH_MAX];
  path_in(fx, "cred.txt", cred);
  write_file(cred, "protocol=https\nhost=example.com\n", 0644);
  char out[8192];
  int status = run_on_pty(
      ARGS("run", "--stdin", cred, "--unset", "GIT_ASKPASS", "--unset",
           "SSH_ASKPASS", "--env", "GIT_TERMINAL_PROMPT=1", "--", "git", "-c",
           "credential.helper=", "credential", "fill"),
      NULL, out, sizeof out);
  assert_true(status != 0 && status < 1000);
  assert_contains(out, "Username");
}

/* The default: a session of its own. */
static void test_default_new_session(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "hostile",
                     "ids");
  assert_status(r, 0);
  long pid, pgid, sid;
  assert_int_equal(sscanf(r.out, "%ld %ld %ld", &pid, &pgid, &sid), 3);
  assert_int_equal(sid, pid);
  assert_int_equal(pgid, pid);
  cli_free(&r);
  r = CLI("run", "--foreground", "--catalogue", fx->catalogue, "--",
          "hostile", "ids");
  assert_status(r, 0);
  assert_int_equal(sscanf(r.out, "%ld %ld %ld", &pid, &pgid, &sid), 3);
  assert_int_equal(sid, getsid(0)); /* ours (inherited through cuprum) */
  assert_int_equal(pgid, pid);
  cli_free(&r);
}

/* --foreground: a program reading the terminal gets it (and is not stopped
 * by SIGTTIN). */
static void test_foreground_reads_terminal(void **state) {
  fixture *fx = *state;
  char out[8192];
  /* The line, then end-of-file (^D) for the command reading it. */
  int status = run_on_pty(ARGS("run", "--foreground", "--catalogue",
                               fx->catalogue, "--", "echoer"),
                          "typed-line\n\x04", out, sizeof out);
  assert_int_equal(status, 0);
  /* Echoed by the terminal, then copied by echoer: twice. */
  const char *first = strstr(out, "typed-line");
  assert_non_null(first);
  assert_non_null(strstr(first + 1, "typed-line"));
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_closed_stdout_events_and_error,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_closed_stdin_stderr, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_closed_all_quiet_command, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_sigchld_ignored_by_host, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_sigchld_nocldwait_by_host,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_parallel_j0_low_nofile, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_git_prompt_under_terminal_fails_fast,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_default_new_session, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_foreground_reads_terminal,
                                    cli_setup, cli_teardown),
};

CU_TEST_MAIN(tests)
