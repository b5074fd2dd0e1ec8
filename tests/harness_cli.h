/* SPDX-License-Identifier: MIT */
/*
 * Running the `cuprum` command-line tool as a real process in tests
 * (posix_spawn with pipes for stdin, stdout and stderr), and a fixture: a
 * private temporary directory holding a catalogue file that pins every
 * helper program by absolute path, plus "notexec" (a file without execute
 * permission) and "missing" (a path that does not exist).
 */
#ifndef CU_TEST_HARNESS_CLI_H
#define CU_TEST_HARNESS_CLI_H

#include "harness.h"

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* A wedged CLI fails the test with its output, before ctest's timeout
 * kills it without: three quarters of the build's per-test timeout (45 s
 * plain, 135 s under sanitizers, 225 s under valgrind or qemu). A fixed
 * 30 s did not hold: a CLI moving 300 MB took 21-39 s under ASan and over
 * 30 s at -O0 at load 23-100 (test_cli_output.
 * test_parallel_output_bounded_by_default). */
#ifndef CU_TEST_TIMEOUT_S
#define CU_TEST_TIMEOUT_S 60
#endif
#define CLI_DEADLINE_MS ((int)(CU_TEST_TIMEOUT_S * 750))

/* Upper bound for a CLI run that a signal or an early exit ends at once,
 * below the 30 s sleepers such tests stop: 8 s natively, 23 s under
 * valgrind, where the CLI itself starts, exits and checks for leaks under
 * valgrind too (7 s over a 2 s timeout on a loaded machine, measured). */
#define CLI_QUICK_MS (5000 + 6 * cut_slack_ms())

typedef struct fixture {
  char dir[PATH_MAX];       /* private temporary directory */
  char catalogue[PATH_MAX]; /* catalogue file pinning the helpers */
} fixture;

/* cmocka setup/teardown: make the fixture; remove it and its files. */
int cli_setup(void **state);
int cli_teardown(void **state);

/* The helper's absolute path, in a static buffer (4 slots in rotation;
 * cut_helper() interns, which is fine too but never frees). */
const char *helper(const char *name);

/* Write `text` to `path` (created or truncated) with `mode`. Asserts. */
void write_file(const char *path, const char *text, mode_t mode);

/* The whole file at `path` (caller frees). When it cannot be opened:
 * a copy of `if_missing`, or a test failure when that is NULL. */
char *cli_slurp(const char *path, const char *if_missing);

/* buf (PATH_MAX bytes) = the fixture's directory / name. Asserts. */
void path_in(const fixture *fx, const char *name, char *buf);

typedef struct buffer {
  char *data;
  size_t len;
} buffer;

typedef struct cli_proc {
  pid_t pid;
  int in, out, err; /* our ends; -1 when closed */
  buffer bout, berr;
} cli_proc;

typedef struct cli_result {
  int status; /* exit status, or 1000 + N if cuprum itself died of N */
  char *out;  /* everything it wrote to stdout (malloc'd, NUL-terminated) */
  char *err;  /* and to stderr */
} cli_result;

/* Run cuprum through a wrapper from now on: PREFIX... cuprum ARGS...
 * (prefix[0] an absolute path; NULL-terminated; borrowed). NULL stops. */
void cli_wrap(const char *const *prefix);

/* Start `cuprum ARGS...` (NULL-terminated); stdin is a pipe (with_stdin),
 * or the given fd when stdin_fd >= 0, or /dev/null. */
void cli_start(cli_proc *p, bool with_stdin, int stdin_fd,
               const char *const *args);

/* Read what is available (waiting up to timeout_ms). False at EOF on both. */
bool cli_pump(cli_proc *p, int timeout_ms);

/* Pump until stdout contains `needle` (fails after CLI_DEADLINE_MS). */
void cli_wait_for(cli_proc *p, const char *needle);

/* The same for stderr. */
void cli_wait_for_stderr(cli_proc *p, const char *needle);

/* Close stdin, read both streams to EOF and reap cuprum. */
cli_result cli_finish(cli_proc *p);

/* Run cuprum to the end, with `input` (small) on a stdin pipe, or with
 * /dev/null as stdin when input is NULL. */
cli_result cli_run(const char *input, const char *const *args);

void cli_free(cli_result *r);

/* Whether a process has gone (or is a zombie), waiting up to 2 s. */
bool pid_gone(pid_t pid);

void assert_contains(const char *haystack, const char *needle);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define CLI(...) cli_run(NULL, ARGS(__VA_ARGS__))

/* Exit status, with both streams in the failure message. */
#define assert_status(r, want)                                                 \
  do {                                                                         \
    if ((r).status != (want))                                                  \
      fail_msg("status %d, want %d\nstdout: %s\nstderr: %s", (r).status,      \
               (want), (r).out, (r).err);                                      \
  } while (0)

#endif
