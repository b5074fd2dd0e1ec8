/* SPDX-License-Identifier: MIT */
/*
 * The `cuprum` command-line tool, run as a real process (posix_spawn with
 * pipes): every exit status (0, the command's own, 128+N, 124, 125, 126,
 * 127), each `run` option, signal forwarding, `catalogue`, --help and
 * --version. Helper programs are allowed through a temporary catalogue file
 * that pins them by absolute path, or through --allow (harness_cli.h).
 * Pipelines and `parallel`: test_cli_pipeline.c.
 */
#include "harness_cli.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------ --help, --version */

static void test_help_and_version(void **state) {
  (void)state;
  cli_result r = CLI("--help");
  assert_status(r, 0);
  assert_contains(r.out, "usage: cuprum run [OPTIONS] [--] PROGRAM");
  assert_contains(r.out, "catalogue");
  cli_free(&r);
  r = CLI("run", "--help");
  assert_status(r, 0);
  assert_contains(r.out, "--timeout SECONDS");
  assert_contains(r.out, "--stdin FILE");
  cli_free(&r);
  r = CLI("--version");
  assert_status(r, 0);
  assert_contains(r.out, "cuprum " CUPRUM_VERSION_STRING);
  cli_free(&r);
}

/* ------------------------------------------------ exit statuses */

static void test_exit_zero_streams_output(void **state) {
  (void)state;
  cli_result r = CLI("run", "--", "echo", "hello", "world");
  assert_status(r, 0);
  assert_string_equal(r.out, "hello world\n");
  assert_string_equal(r.err, "");
  cli_free(&r);
}

static void test_exit_status_is_the_commands(void **state) {
  fixture *fx = *state;
  static const char *const codes[] = {"1", "3", "42", "255"};
  for (size_t i = 0; i < 4; i++) {
    cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "exitcode",
                       codes[i]);
    assert_status(r, atoi(codes[i]));
    assert_string_equal(r.err, "");
    cli_free(&r);
  }
  cli_result r = CLI("run", "false"); /* no "--" needed */
  assert_status(r, 1);
  cli_free(&r);
}

static void test_exit_128_plus_signal(void **state) {
  fixture *fx = *state;
  static const int sigs[] = {SIGKILL, SIGTERM, SIGUSR1, SIGHUP};
  for (size_t i = 0; i < 4; i++) {
    char num[16];
    snprintf(num, sizeof num, "%d", sigs[i]);
    cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "killself",
                       num);
    assert_status(r, 128 + sigs[i]);
    cli_free(&r);
  }
}

static void test_exit_124_on_timeout(void **state) {
  fixture *fx = *state;
  int64_t timeout = cut_after_start_ms(200); /* "ready" is printed first */
  char msg[128];
  snprintf(msg, sizeof msg, "cuprum: 'sleeper' timed out after %s s",
           cut_secs(timeout));
  int64_t t0 = cut_now_ms();
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--timeout",
                     cut_secs(timeout), "--", "sleeper", "30000");
  int64_t elapsed = cut_now_ms() - t0;
  assert_status(r, 124);
  assert_contains(r.out, "ready"); /* partial output was streamed */
  assert_contains(r.err, msg);
  assert_true(elapsed >= timeout);
  assert_true(elapsed < CLI_QUICK_MS); /* SIGTERM ends it at once: not 30 s */
  cli_free(&r);
}

/* A process tree whose members ignore SIGTERM: the grace expires, the whole
 * group is killed, and no grandchild survives. */
static void test_timeout_kills_process_tree(void **state) {
  fixture *fx = *state;
  int64_t timeout = cut_after_start_ms(200); /* SIGTERM is ignored first */
  int64_t t0 = cut_now_ms();
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--timeout",
                     cut_secs(timeout), "--grace", "0.2", "--", "forker",
                     "--ignore-term", "--wait", "30000");
  int64_t elapsed = cut_now_ms() - t0;
  assert_status(r, 124);
  assert_contains(r.err, "was killed");
  assert_true(elapsed >= timeout + 200); /* timeout + grace */
  assert_true(elapsed < CLI_QUICK_MS);
  const char *g = strstr(r.out, "grandchild ");
  assert_non_null(g);
  pid_t grandchild = (pid_t)atoi(g + strlen("grandchild "));
  assert_true(grandchild > 0);
  assert_true(pid_gone(grandchild));
  cli_free(&r);
}

static void test_exit_125_usage(void **state) {
  fixture *fx = *state;
  const char *const *cases[] = {
      ARGS("bogus-subcommand"),
      ARGS("run"),
      ARGS("run", "--"),
      ARGS("run", "--no-such-option", "--", "true"),
      ARGS("run", "--timeout"),
      ARGS("catalogue", "extra"),
      ARGS("run", "--catalogue", fx->catalogue, "--cwd", "/no/such/dir", "--",
           "pwddump"),
      ARGS("run", "--stdin", "/no/such/file", "--", "true"),
      ARGS("run", "--pipe-token", "", "--", "true"),
      ARGS("parallel"),
      ARGS("parallel", "a", "b"),
      ARGS("parallel", "-j", "x", "-"),
      ARGS("parallel", "-j", "-1", "-"),
      ARGS("parallel", "-j", "99999", "-"),
      ARGS("parallel", "--timeout", "1e3", "-"),
      ARGS("parallel", "--deadline", "-2", "-"),
      ARGS("parallel", "--bogus", "-"),
      ARGS("parallel", "/no/such/batch.jsonl"),
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cli_result r = cli_run(NULL, cases[i]);
    assert_status(r, 125);
    assert_true(strncmp(r.err, "cuprum: ", 8) == 0);
    assert_string_equal(r.out, "");
    cli_free(&r);
  }
  cli_result r = cli_run(NULL, (const char *const[]){NULL});
  assert_status(r, 125);
  cli_free(&r);
}

static void test_exit_125_refused_program(void **state) {
  (void)state;
  static const char *const refused[] = {"bash", "sh", "env", "sudo",
                                        "/bin/echo", "no-such-program"};
  for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
    cli_result r = CLI("run", "--", refused[i], "-c", "echo pwned");
    assert_status(r, 125);
    char quoted[128];
    snprintf(quoted, sizeof quoted, "'%s'", refused[i]);
    assert_contains(r.err, quoted);
    assert_contains(r.err, "--allow");
    assert_string_equal(r.out, "");
    cli_free(&r);
  }
}

static void test_exit_125_bad_catalogue_syntax(void **state) {
  fixture *fx = *state;
  char bad[PATH_MAX];
  path_in(fx, "bad.json", bad);
  write_file(bad, "{\n  \"projects\": [\n    {\"name\": \"x\",, }\n  ]\n}\n",
             0644);
  cli_result r = CLI("run", "--catalogue", bad, "--", "true");
  assert_status(r, 125);
  char where[PATH_MAX + 16];
  snprintf(where, sizeof where, "cuprum: %s:3:", bad); /* file:line:column */
  assert_contains(r.err, where);
  cli_free(&r);
  r = CLI("catalogue", "--catalogue", bad);
  assert_status(r, 125);
  assert_contains(r.err, where);
  cli_free(&r);
  r = CLI("run", "--catalogue", "/no/such/catalogue.json", "--", "true");
  assert_status(r, 125);
  assert_contains(r.err, "/no/such/catalogue.json");
  cli_free(&r);
}

/* Semantic errors name the file and the project, and say what is wrong. */
static void test_exit_125_bad_catalogue_content(void **state) {
  fixture *fx = *state;
  static const struct {
    const char *json, *expect;
  } cases[] = {
      {"[]", "must be an object"},
      {"{}", "\"projects\" is required"},
      {"{\"projects\": [], \"extra\": 1}", "unknown key 'extra'"},
      {"{\"projects\": [{\"name\": \"a\", \"program\": [\"ls\"]}]}",
       "projects[0] 'a': unknown key 'program'"},
      {"{\"projects\": [{\"name\": \"a\"}, {\"name\": \"a\"}]}",
       "projects[1]: project 'a'"},
      {"{\"projects\": [{\"name\": \"a\", \"programs\": [\"ls\"]},"
       " {\"name\": \"b\", \"programs\": [\"ls\"]}]}",
       "projects[1] 'b'"},
      {"{\"projects\": [{\"name\": \"a\", \"noise\": [\"([\"]}]}",
       "project 'a'"},
      {"{\"projects\": [{\"name\": \"a\", \"programs\": [7]}]}",
       "programs[0] must be"},
      {"{\"projects\": [{\"name\": \"a\", \"programs\": "
       "[{\"name\": \"x\", \"path\": \"rel/x\"}]}]}",
       "project 'a'"},
      {"{\"projects\": [], \"projects\": []}", "duplicate"},
  };
  char bad[PATH_MAX];
  path_in(fx, "bad.json", bad);
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    write_file(bad, cases[i].json, 0644);
    cli_result r = CLI("catalogue", "--catalogue", bad);
    assert_status(r, 125);
    assert_contains(r.err, bad);
    assert_contains(r.err, cases[i].expect);
    cli_free(&r);
  }
}

static void test_exit_125_bad_timeout_values(void **state) {
  (void)state;
  static const char *const bad[] = {"-1",   "nan",  "inf",    "1e3",
                                    "abc",  "",     "1.5s",   " 1",
                                    "+1",   ".",    "0x10",   "1..2",
                                    "31536001", "99999999999999999999"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    for (int which = 0; which < 2; which++) {
      const char *opt = which ? "--grace" : "--timeout";
      cli_result r = CLI("run", opt, bad[i], "--", "true");
      assert_status(r, 125);
      assert_contains(r.err, opt);
      cli_free(&r);
    }
  }
  /* Accepted forms, including 0 (no timeout) and one year exactly. */
  static const char *const good[] = {"0", "0.5", ".5", "2.", "31536000"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    cli_result r = CLI("run", "--timeout", good[i], "--grace", good[i], "--",
                       "true");
    assert_status(r, 0);
    cli_free(&r);
  }
}

/* A positive timeout below a millisecond rounds up; it never becomes 0,
 * which would mean "no timeout". */
static void test_tiny_timeout_is_not_none(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--timeout",
                     "0.0000001", "--", "sleeper", "30000");
  assert_status(r, 124);
  cli_free(&r);
}

static void test_exit_125_bad_env(void **state) {
  (void)state;
  const char *const *cases[] = {
      ARGS("run", "--env", "=value", "--", "true"),
      ARGS("run", "--env", "NOEQUALS", "--", "true"),
      ARGS("run", "--unset", "", "--", "true"),
      ARGS("run", "--unset", "A=B", "--", "true"),
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cli_result r = cli_run(NULL, cases[i]);
    assert_status(r, 125);
    assert_true(strncmp(r.err, "cuprum: ", 8) == 0);
    cli_free(&r);
  }
}

static void test_exit_126_not_executable(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "notexec");
  assert_status(r, 126);
  assert_contains(r.err, "cuprum: ");
  cli_free(&r);
}

static void test_exit_127_not_found(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "missing");
  assert_status(r, 127);
  assert_contains(r.err, "missing");
  cli_free(&r);
  /* Allowed by name but on no PATH entry. */
  r = CLI("run", "--allow", "cuprum-no-such-program", "--",
          "cuprum-no-such-program");
  assert_status(r, 127);
  assert_contains(r.err, "cuprum-no-such-program");
  cli_free(&r);
}

/* ------------------------------------------------ run options */

static void test_allow_widens_explicitly(void **state) {
  (void)state;
  const char *path = helper("exitcode");
  cli_result r = CLI("run", "--allow", path, "--", "exitcode", "7");
  assert_status(r, 7);
  cli_free(&r);
  r = CLI("run", "--allow", "tests/helpers/exitcode", "--", "exitcode", "7");
  assert_status(r, 125); /* relative paths are refused */
  assert_contains(r.err, "relative");
  cli_free(&r);
  r = CLI("run", "--", "exitcode", "7"); /* and nothing was remembered */
  assert_status(r, 125);
  cli_free(&r);
}

static void test_arguments_reach_the_child_verbatim(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--pipe-token",
                     "::", "--", "argvdump", "a b", "$(id)", "|", ";",
                     "--timeout", "'\"");
  assert_status(r, 0);
  assert_string_equal(r.out, "argc 7\n8:argvdump\n3:a b\n5:$(id)\n1:|\n1:;\n"
                             "9:--timeout\n2:'\"\n");
  cli_free(&r);
}

static void test_env_and_unset(void **state) {
  fixture *fx = *state;
  setenv("CUT_KEEP", "kept", 1);
  setenv("CUT_DROP", "dropped", 1);
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--env",
                     "CUT_NEW=a=b c", "--unset", "CUT_DROP", "--env",
                     "CUT_EMPTY=", "--", "envdump", "CUT_KEEP", "CUT_DROP",
                     "CUT_NEW", "CUT_EMPTY");
  assert_status(r, 0);
  assert_string_equal(r.out, "CUT_KEEP=kept\nCUT_DROP unset\n"
                             "CUT_NEW=a=b c\nCUT_EMPTY=\n");
  cli_free(&r);
}

static void test_cwd(void **state) {
  fixture *fx = *state;
  char sub[PATH_MAX], real[PATH_MAX], want[PATH_MAX + 2];
  path_in(fx, "sub", sub);
  assert_int_equal(mkdir(sub, 0755), 0);
  assert_non_null(realpath(sub, real));
  snprintf(want, sizeof want, "%s\n", real);
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--cwd", sub, "--",
                     "pwddump");
  assert_status(r, 0);
  assert_string_equal(r.out, want);
  cli_free(&r);
}

static void test_stdin_file_and_pipe(void **state) {
  fixture *fx = *state;
  char input[PATH_MAX];
  path_in(fx, "input.txt", input);
  write_file(input, "from a file\nline two\n", 0644);
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--stdin", input,
                     "--", "echoer");
  assert_status(r, 0);
  assert_string_equal(r.out, "from a file\nline two\n");
  cli_free(&r);
  /* Without --stdin, a piped stdin passes through. */
  r = cli_run("piped\n", ARGS("run", "--catalogue", fx->catalogue, "--",
                              "echoer"));
  assert_status(r, 0);
  assert_string_equal(r.out, "piped\n");
  cli_free(&r);
}

/* The command's process group is never the terminal's foreground group, so
 * a terminal stdin is replaced by /dev/null rather than stop it (SIGTTIN). */
static void test_terminal_stdin_becomes_dev_null(void **state) {
  fixture *fx = *state;
  int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0)
    skip();
  assert_int_equal(grantpt(master), 0);
  assert_int_equal(unlockpt(master), 0);
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
  assert_true(slave >= 0);
  cli_proc p;
  cli_start(&p, false, slave,
            ARGS("run", "--catalogue", fx->catalogue, "--", "echoer"));
  close(slave);
  cli_result r = cli_finish(&p); /* echoer sees EOF at once */
  close(master);
  assert_status(r, 0);
  assert_string_equal(r.out, "");
  cli_free(&r);
}

static void test_quiet(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--quiet", "--", "echo", "hidden");
  assert_status(r, 0);
  assert_string_equal(r.out, "");
  cli_free(&r);
  r = CLI("run", "-q", "--catalogue", fx->catalogue, "--", "writer", "--out",
          "100000", "--err", "100000");
  assert_status(r, 0);
  assert_string_equal(r.out, "");
  assert_string_equal(r.err, "");
  cli_free(&r);
  r = CLI("run", "--quiet", "--catalogue", fx->catalogue, "--", "exitcode",
          "9");
  assert_status(r, 9);
  cli_free(&r);
}

/* Large output on both streams is streamed through in full. */
static void test_streams_both_outputs(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("run", "--catalogue", fx->catalogue, "--", "writer",
                     "--out", "300000", "--err", "200000");
  assert_status(r, 0);
  assert_int_equal(strlen(r.out), 300000);
  assert_int_equal(strlen(r.err), 200000);
  assert_int_equal(r.out[26], 'a');
  assert_int_equal(r.err[27], 'B');
  cli_free(&r);
}

/* When the reader of cuprum's output goes away (`cuprum run -- yes | head`),
 * the run (a command, or a pipeline) stops and cuprum reports SIGPIPE like a
 * shell filter, instead of draining an endless producer for ever. */
static void test_closed_output_stops_the_run(void **state) {
  (void)state;
  const char *const *cases[] = {
      ARGS("run", "--", "yes", "cuprum"),
      ARGS("run", "--", "yes", "cuprum", "|", "cat"),
      /* relayed through cuprum: the engine closes the pipe on EPIPE */
      ARGS("run", "--events", "/dev/null", "--", "yes", "cuprum"),
      ARGS("run", "--log", "human", "--", "yes", "cuprum", "|", "cat")};
  for (size_t i = 0; i < 4; i++) {
    cli_proc p;
    cli_start(&p, false, -1, cases[i]);
    cli_wait_for(&p, "cuprum\n");
    close(p.out);
    p.out = -1;
    int64_t t0 = cut_now_ms();
    cli_result r = cli_finish(&p);
    assert_status(r, 128 + SIGPIPE);
    int64_t took = cut_now_ms() - t0;
    /* Without the fix it never stops; the bound only has to be finite and
     * survive a loaded machine. */
    if (took >= 10000 + 2 * cut_slack_ms())
      print_message("case %zu: %lld ms\n", i, (long long)took);
    assert_true(took < 10000 + 2 * cut_slack_ms());
    cli_free(&r);
  }
}

/* `( cuprum run --timeout 1 -- yes ) | sleep 6` ends after 1 s, as GNU
 * `timeout 1 yes` does: the reader never reads, and the timeout holds
 * whether the command writes to our stdout itself, or its bytes pass
 * through cuprum (--events, --log), on both stream backends. */
static void test_timeout_holds_when_stdout_is_not_read(void **state) {
  (void)state;
  const char *events = "/dev/null";
  /* Long lines: fewer line events to format while the pipe fills (they
   * are slow under sanitizers on a loaded machine). */
  char line[201];
  memset(line, 'y', sizeof line - 1);
  line[sizeof line - 1] = '\0';
  const char *const *cases[] = {
      ARGS("run", "--timeout", "1", "--", "yes"),
      ARGS("run", "--timeout", "1", "--events", events, "--", "yes", line),
      ARGS("run", "--timeout", "1", "--log", "json", "--", "yes"),
      ARGS("run", "--timeout", "1", "--", "yes", "|", "cat"),
      ARGS("run", "--timeout", "1", "--events", events, "--", "yes", line,
           "|", "cat"),
  };
  static const char *const backends[] = {"splice", "readwrite"};
  cu_stream_backend got;
  bool splice_ok = cu_stream_backend_resolve(CU_BACKEND_SPLICE, &got) == 0;
  for (size_t k = splice_ok ? 0 : 1; k < 2; k++) {
    setenv("CUPRUM_STREAM_BACKEND", backends[k], 1);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
      int out[2];
      assert_int_equal(pipe2(out, O_CLOEXEC), 0); /* never read */
      int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
      assert_true(null_fd >= 0);
      posix_spawn_file_actions_t fa;
      posix_spawn_file_actions_init(&fa);
      posix_spawn_file_actions_adddup2(&fa, null_fd, 0);
      posix_spawn_file_actions_adddup2(&fa, out[1], 1);
      posix_spawn_file_actions_adddup2(&fa, null_fd, 2);
      size_t n = 0;
      const char *argv[16] = {cut_cli()};
      for (const char *const *a = cases[i]; *a; a++)
        argv[++n] = *a;
      int64_t t0 = cut_now_ms();
      pid_t pid;
      extern char **environ;
      assert_int_equal(posix_spawn(&pid, cut_cli(), &fa, NULL,
                                   (char *const *)argv, environ),
                       0);
      posix_spawn_file_actions_destroy(&fa);
      int status = 0;
      assert_int_equal(waitpid(pid, &status, 0), pid);
      int64_t took = cut_now_ms() - t0;
      assert_true(WIFEXITED(status));
      /* Before the fix this never ended (nobody reads the pipe); the bound
       * only has to be finite, with room for a starved machine. */
      if (WEXITSTATUS(status) != 124 ||
          (!cut_under_valgrind() && took > 1000 + 500 + 20000))
        fail_msg("%s case %zu: status %d after %lld ms", backends[k], i,
                 WEXITSTATUS(status), (long long)took);
      close(out[0]);
      close(out[1]);
      close(null_fd);
    }
  }
  unsetenv("CUPRUM_STREAM_BACKEND");
}

/* ^C or kill sent to cuprum cancels the command's (or the pipeline's) whole
 * process group, and cuprum exits 128+N like a shell would report it. */
static void test_signal_to_cuprum_cancels_the_run(void **state) {
  fixture *fx = *state;
  static const int sigs[] = {SIGTERM, SIGINT, SIGTERM};
  const char *const *cases[] = {
      ARGS("run", "--catalogue", fx->catalogue, "--", "sleeper", "30000",
           "--print-pid"),
      ARGS("run", "--catalogue", fx->catalogue, "--", "sleeper", "30000",
           "--print-pid"),
      ARGS("run", "--catalogue", fx->catalogue, "--", "sleeper", "30000",
           "--print-pid", "|", "echoer"),
  };
  for (size_t i = 0; i < 3; i++) {
    cli_proc p;
    cli_start(&p, false, -1, cases[i]);
    cli_wait_for(&p, "\n");
    pid_t child = (pid_t)atoi(p.bout.data + strlen("ready "));
    assert_true(child > 0);
    int64_t t0 = cut_now_ms();
    assert_int_equal(kill(p.pid, sigs[i]), 0);
    cli_result r = cli_finish(&p);
    assert_status(r, 128 + sigs[i]);
    assert_true(cut_now_ms() - t0 < CLI_QUICK_MS);
    assert_true(pid_gone(child));
    cli_free(&r);
  }
}

/* ------------------------------------------------ catalogue */

/* Row of `listing` that starts with `program` followed by a blank. */
static const char *row_of(const char *listing, const char *program) {
  size_t n = strlen(program);
  for (const char *line = listing; line && *line;) {
    if (strncmp(line, program, n) == 0 && line[n] == ' ')
      return line;
    line = strchr(line, '\n');
    line = line ? line + 1 : NULL;
  }
  fail_msg("no row for '%s' in:\n%s", program, listing);
  return NULL;
}

/* Offset of the second column (after the first run of blanks) of a row. */
static size_t second_column(const char *row) {
  const char *p = strchr(row, ' ');
  assert_non_null(p);
  while (*p == ' ')
    p++;
  return (size_t)(p - row);
}

static void test_catalogue_listing(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("catalogue");
  assert_status(r, 0);
  assert_true(strncmp(r.out, "PROGRAM", 7) == 0);
  const char *echo = row_of(r.out, "echo");
  assert_contains(echo, "core-ops");
  assert_true(echo[second_column(echo)] == '/'); /* resolved, absolute */
  assert_int_equal(second_column(echo), second_column(r.out)); /* aligned */
  assert_null(strstr(r.out, "\nbash "));
  cli_free(&r);

  r = CLI("catalogue", "--catalogue", fx->catalogue, "--allow",
          "cuprum-no-such-program");
  assert_status(r, 0);
  const char *row = row_of(r.out, "exitcode");
  assert_contains(row, helper("exitcode"));
  assert_contains(row, "test-helpers");
  assert_int_equal(second_column(row), second_column(r.out));
  assert_contains(row_of(r.out, "missing"), "not found");
  assert_contains(row_of(r.out, "cuprum-no-such-program"), "not found");
  assert_contains(row_of(r.out, "cuprum-no-such-program"), "allowed");
  row_of(r.out, "echo"); /* include_default: true */
  cli_free(&r);
}

static void test_catalogue_file_replaces_default(void **state) {
  fixture *fx = *state;
  char file[PATH_MAX], json[PATH_MAX + 128];
  path_in(fx, "bad.json", file);
  snprintf(json, sizeof json,
           "{\"projects\": [{\"name\": \"only\", \"programs\": "
           "[{\"name\": \"exitcode\", \"path\": \"%s\"}]}]}",
           helper("exitcode"));
  write_file(file, json, 0644);
  cli_result r = CLI("run", "--catalogue", file, "--", "exitcode", "5");
  assert_status(r, 5);
  cli_free(&r);
  r = CLI("run", "--catalogue", file, "--", "echo", "x");
  assert_status(r, 125); /* without include_default, echo is not allowed */
  assert_contains(r.err, "'echo'");
  cli_free(&r);
}

/* --names: the same active catalogue, one name a line, nothing else (what
 * the shell completion reads); --catalogue and --allow are honoured. */
static void test_catalogue_names(void **state) {
  fixture *fx = *state;
  cli_result r = CLI("catalogue", "--names");
  assert_status(r, 0);
  assert_true(strncmp(r.out, "echo\n", 5) == 0 || strstr(r.out, "\necho\n"));
  assert_contains(r.out, "\ncat\n");
  assert_null(strstr(r.out, "PROGRAM"));
  assert_null(strstr(r.out, " ")); /* no columns */
  assert_null(strstr(r.out, "\nbash\n"));
  cli_free(&r);

  char file[PATH_MAX], json[PATH_MAX + 128];
  path_in(fx, "names.json", file);
  snprintf(json, sizeof json,
           "{\"projects\": [{\"name\": \"only\", \"programs\": "
           "[{\"name\": \"exitcode\", \"path\": \"%s\"}]}]}",
           helper("exitcode"));
  write_file(file, json, 0644);
  r = CLI("catalogue", "--names", "--catalogue", file, "--allow",
          "cuprum-no-such-program");
  assert_status(r, 0);
  assert_string_equal(r.out, "exitcode\ncuprum-no-such-program\n");
  assert_string_equal(r.err, "");
  cli_free(&r);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown(test_help_and_version, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_zero_streams_output, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_status_is_the_commands, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_128_plus_signal, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_124_on_timeout, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_timeout_kills_process_tree, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_125_usage, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_125_refused_program, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_125_bad_catalogue_syntax, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_125_bad_catalogue_content,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_125_bad_timeout_values, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_tiny_timeout_is_not_none, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_125_bad_env, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_126_not_executable, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_exit_127_not_found, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_allow_widens_explicitly, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_arguments_reach_the_child_verbatim,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_env_and_unset, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_cwd, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_stdin_file_and_pipe, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_terminal_stdin_becomes_dev_null,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_quiet, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_streams_both_outputs, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_closed_output_stops_the_run, cli_setup,
                                    cli_teardown),
    cmocka_unit_test_setup_teardown(test_timeout_holds_when_stdout_is_not_read,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_signal_to_cuprum_cancels_the_run,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_catalogue_listing, cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_catalogue_file_replaces_default,
                                    cli_setup, cli_teardown),
    cmocka_unit_test_setup_teardown(test_catalogue_names, cli_setup, cli_teardown),
};

CU_TEST_MAIN(tests)
