/* SPDX-License-Identifier: MIT */
/* Running the `cuprum` CLI as a real process in tests (harness_cli.h). */
#include "harness_cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ------------------------------------------------------------ fixture */

static const char *const pinned_helpers[] = {
    "exitcode", "killself", "sleeper", "forker",  "envdump",
    "pwddump",  "echoer",   "argvdump", "writer", "fdlist",
    "hostile",  "hog",      "prober",
};

/* The helper's absolute path in a static buffer per slot (cut_helper()
 * allocates on every call, which LeakSanitizer reports). */
const char *helper(const char *name) {
  static char paths[4][PATH_MAX];
  static unsigned next;
  char *buf = paths[next++ % 4];
  snprintf(buf, PATH_MAX, "%s/%s", CU_TEST_HELPER_DIR, name);
  return buf;
}

void write_file(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  assert_true(fd >= 0);
  size_t len = strlen(text);
  assert_int_equal(write(fd, text, len), (ssize_t)len);
  assert_int_equal(close(fd), 0);
}

char *cli_slurp(const char *path, const char *if_missing) {
  FILE *f = fopen(path, "re");
  if (!f) {
    if (!if_missing)
      fail_msg("cannot open %s: %s", path, strerror(errno));
    char *copy = strdup(if_missing);
    assert_non_null(copy);
    return copy;
  }
  char *s = NULL;
  size_t cap = 0;
  ssize_t n = getdelim(&s, &cap, '\0', f);
  fclose(f);
  if (n < 0) { /* empty */
    free(s);
    s = strdup("");
  }
  assert_non_null(s);
  return s;
}

void path_in(const fixture *fx, const char *name, char *buf) {
  int n = snprintf(buf, PATH_MAX, "%s/%s", fx->dir, name);
  assert_true(n > 0 && n < PATH_MAX);
}

/* The default catalogue plus project "test-helpers": every helper pinned,
 * "notexec" pinned to a file without execute permission and "missing"
 * pinned to a path that does not exist. */
static void write_catalogue(fixture *fx) {
  char notexec[PATH_MAX], missing[PATH_MAX];
  path_in(fx, "notexec", notexec);
  path_in(fx, "missing", missing);
  write_file(notexec, "#!/bin/true\n", 0644);
  char *json = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&json, &len);
  assert_non_null(f);
  fprintf(f, "{\n  \"include_default\": true,\n  \"projects\": [\n"
             "    {\"name\": \"test-helpers\",\n     \"programs\": [\n");
  for (size_t i = 0; i < sizeof pinned_helpers / sizeof *pinned_helpers; i++)
    fprintf(f, "       {\"name\": \"%s\", \"path\": \"%s\"},\n",
            pinned_helpers[i], helper(pinned_helpers[i]));
  fprintf(f, "       {\"name\": \"notexec\", \"path\": \"%s\"},\n"
             "       {\"name\": \"missing\", \"path\": \"%s\"}\n"
             "     ],\n     \"docs\": [\"tests/helpers/\"]}\n  ]\n}\n",
          notexec, missing);
  fclose(f);
  path_in(fx, "catalogue.json", fx->catalogue);
  write_file(fx->catalogue, json, 0644);
  free(json);
}

int cli_setup(void **state) {
  fixture *fx = calloc(1, sizeof *fx);
  assert_non_null(fx);
  snprintf(fx->dir, sizeof fx->dir, "/tmp/cuprum-test-cli-XXXXXX");
  assert_non_null(mkdtemp(fx->dir));
  write_catalogue(fx);
  *state = fx;
  return 0;
}

int cli_teardown(void **state) {
  fixture *fx = *state;
  /* Only our own mkdtemp directory, one level deep (tests make at most
   * empty subdirectories); no shell. */
  DIR *d = opendir(fx->dir);
  assert_non_null(d);
  struct dirent *e;
  char path[PATH_MAX];
  while ((e = readdir(d))) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    path_in(fx, e->d_name, path);
    if (unlink(path) != 0)
      rmdir(path);
  }
  closedir(d);
  rmdir(fx->dir);
  free(fx);
  return 0;
}

/* ------------------------------------------------ running the CLI */

static void append(buffer *b, const char *data, size_t n) {
  b->data = realloc(b->data, b->len + n + 1);
  assert_non_null(b->data);
  memcpy(b->data + b->len, data, n);
  b->len += n;
  b->data[b->len] = '\0';
}

/* Start `cuprum ARGS...`; stdin is a pipe (with_stdin) or /dev/null, or
 * the given fd when stdin_fd >= 0. */
static const char *const *wrapper;

void cli_wrap(const char *const *prefix) { wrapper = prefix; }

/* CU_CLI_VALGRIND=PATH (set by hand, e.g. `CU_CLI_VALGRIND=$(command -v
 * valgrind) ctest -R test_cli_batch`): cuprum runs under the valgrind at
 * PATH unless a test wraps it in something else. Its findings make it exit
 * 99 and print on its stderr, which the tests check. --run-libc-freeres=no:
 * see docs/design.md, "The streaming engine under valgrind and TSan". */
static const char *valgrind_prefix[] = {
    NULL, "--quiet", "--error-exitcode=99", "--run-libc-freeres=no",
    "--leak-check=full",
    "--errors-for-leak-kinds=definite,indirect", "--track-fds=no", NULL};

void cli_start(cli_proc *p, bool with_stdin, int stdin_fd,
                      const char *const *args) {
  const char *argv[64];
  size_t n = 0;
  const char *const *prefix = wrapper;
  if (!prefix && getenv("CU_CLI_VALGRIND")) {
    valgrind_prefix[0] = getenv("CU_CLI_VALGRIND");
    prefix = valgrind_prefix;
  }
  for (size_t i = 0; prefix && prefix[i]; i++)
    argv[n++] = prefix[i];
  argv[n++] = cut_cli();
  for (size_t i = 0; args[i]; i++) {
    assert_true(n < 63);
    argv[n++] = args[i];
  }
  argv[n] = NULL;
  int in[2] = {-1, -1}, out[2], err[2];
  assert_int_equal(pipe2(out, O_CLOEXEC), 0);
  assert_int_equal(pipe2(err, O_CLOEXEC), 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (with_stdin) {
    assert_int_equal(pipe2(in, O_CLOEXEC), 0);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  } else if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&fa, stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  memset(p, 0, sizeof *p);
  int rc = posix_spawn(&p->pid, argv[0], &fa, NULL, (char *const *)argv,
                       environ);
  posix_spawn_file_actions_destroy(&fa);
  assert_int_equal(rc, 0);
  close(out[1]);
  close(err[1]);
  if (with_stdin)
    close(in[0]);
  p->in = in[1];
  p->out = out[0];
  p->err = err[0];
  append(&p->bout, "", 0);
  append(&p->berr, "", 0);
}

/* Read what is available (waiting up to timeout_ms). False at EOF on both. */
bool cli_pump(cli_proc *p, int timeout_ms) {
  struct pollfd pfd[2] = {{.fd = p->out, .events = POLLIN},
                          {.fd = p->err, .events = POLLIN}};
  if (p->out < 0 && p->err < 0)
    return false;
  int n = poll(pfd, 2, timeout_ms);
  assert_true(n >= 0 || errno == EINTR);
  int *fds[2] = {&p->out, &p->err};
  buffer *bufs[2] = {&p->bout, &p->berr};
  for (int i = 0; i < 2; i++) {
    if (*fds[i] < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
      continue;
    char chunk[65536];
    ssize_t r = read(*fds[i], chunk, sizeof chunk);
    if (r > 0) {
      append(bufs[i], chunk, (size_t)r);
    } else if (r == 0 || errno != EINTR) {
      close(*fds[i]);
      *fds[i] = -1;
    }
  }
  return true;
}

static void wait_in(cli_proc *p, const buffer *b, const char *needle) {
  int64_t deadline = cut_now_ms() + CLI_DEADLINE_MS;
  while (!strstr(b->data, needle)) {
    if (!cli_pump(p, 100) || cut_now_ms() > deadline)
      fail_msg("cuprum never printed '%s'; stdout: %s stderr: %s", needle,
               p->bout.data, p->berr.data);
  }
}

void cli_wait_for(cli_proc *p, const char *needle) {
  wait_in(p, &p->bout, needle);
}

void cli_wait_for_stderr(cli_proc *p, const char *needle) {
  wait_in(p, &p->berr, needle);
}

cli_result cli_finish(cli_proc *p) {
  if (p->in >= 0)
    close(p->in);
  int64_t deadline = cut_now_ms() + CLI_DEADLINE_MS;
  while (cli_pump(p, 100)) {
    if (cut_now_ms() > deadline) {
      kill(p->pid, SIGKILL);
      fail_msg("cuprum did not finish; stdout: %s stderr: %s", p->bout.data,
               p->berr.data);
    }
  }
  int st = 0;
  assert_int_equal(waitpid(p->pid, &st, 0), p->pid);
  cli_result r = {.out = p->bout.data, .err = p->berr.data};
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 1000 + WTERMSIG(st);
  return r;
}

cli_result cli_run(const char *input, const char *const *args) {
  cli_proc p;
  cli_start(&p, input != NULL, -1, args);
  if (input) {
    /* Small enough for the pipe buffer; cuprum may exit without reading
     * it (a refused command), so EPIPE is fine and SIGPIPE must not kill
     * the test process. */
    size_t len = strlen(input);
    signal(SIGPIPE, SIG_IGN);
    ssize_t n = write(p.in, input, len);
    assert_true(n == (ssize_t)len || (n < 0 && errno == EPIPE));
  }
  return cli_finish(&p);
}

void cli_free(cli_result *r) {
  free(r->out);
  free(r->err);
}

void assert_contains(const char *haystack, const char *needle) {
  if (!strstr(haystack, needle))
    fail_msg("expected to find '%s' in:\n%s", needle, haystack);
}

/* A dead process may linger as a zombie of whoever inherited it. */
bool pid_gone(pid_t pid) { return cut_wait_exited(pid, 2000); }

