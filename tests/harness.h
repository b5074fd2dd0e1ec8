/* SPDX-License-Identifier: MIT */
/*
 * Test harness shared by every test executable: cmocka, helper programs,
 * a catalogue that allows them, and leak checks (fds, children).
 *
 * Every test executable's main() is CU_TEST_MAIN(tests): run with no
 * argument it runs all its tests; with one argument it runs only the test of
 * that name (ctest registers one entry per test this way, so each test runs
 * in its own process with its own timeout).
 */
#ifndef CU_TEST_HARNESS_H
#define CU_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the above first */
#include <cmocka.h>

#include <cuprum/cuprum.h>

/* Absolute path of a helper program built by the suite (static buffer per
 * call site is not needed: the result is interned and lives forever). */
const char *cut_helper(const char *name);

/* `ms` as seconds for a CLI option ("1.700"); interned, lives forever. */
const char *cut_secs(int64_t ms);

/* Path of the built cuprum CLI. */
const char *cut_cli(void);

/* The emulator the suite runs under ("qemu-aarch64" in the aarch64 cross
 * build, cmake/toolchain-aarch64.cmake), or NULL when it runs natively.
 * Tests that cannot work under emulation skip with the reason when this
 * is non-NULL; see docs/portability.md. */
const char *cut_emulator(void);

/* A catalogue = default catalogue + project "test-helpers" pinning every
 * helper program by absolute path (program name = helper file name).
 * Built once per process; never freed. */
const cu_catalogue *cut_catalogue(void);

/* Make a command for a helper with arguments (NULL-terminated). Asserts. */
cu_cmd *cut_cmd(const char *helper, ...) __attribute__((sentinel));

/* A throwaway program file pinned in its own catalogue as "tool", with a
 * command made for it: for tests that then break the file (delete it,
 * chmod it) to provoke exec failures. */
typedef struct cut_tool {
  char dir[64];
  char path[128];
  cu_catalogue *cat;
  cu_cmd *cmd;
} cut_tool;
void cut_tool_make(cut_tool *t, const char *content);
void cut_tool_free(cut_tool *t);

/* Remove a temporary tree (rm -rf -- dir, run through the library);
 * returns 0 when rm succeeded. */
int cut_rm_rf(const char *dir);

/* Number of open fds in this process. */
int cut_fd_count(void);

/* Assert this process has no children at all (running or zombie). */
void cut_assert_no_children(void);

/* Whether a pid is a running process (zombies count as dead). */
int cut_pid_alive(pid_t pid);

/* A process's state letter and parent from /proc/PID/stat: 0, or -1 when
 * it is gone or the file cannot be read (outputs then untouched). */
int cut_proc_stat(pid_t pid, char *ret_state, pid_t *ret_ppid);

/* Whether a contained run (CU_CONTAIN_REQUIRE) works here: runs one; when
 * it cannot, prints why (for the test's skip message) and returns 0. */
int cut_contain_available(void);

/* Slack for "returns within grace + a few ms" bounds, in milliseconds.
 * Derived from the build (CU_TEST_SLACK_MS, set by tests/CMakeLists.txt):
 * 500 natively, 1500 under ASan/UBSan, 2000 under TSan, 3000 under
 * valgrind (also whenever CU_VALGRIND is set), so that a loaded machine does
 * not fail a bound; each bound stays far below the time the failure it
 * guards against would take (a sleeper of 10 s or more). The environment
 * variable CU_TEST_SLACK_MS overrides it (for slower machines). */
int64_t cut_slack_ms(void);

/* Wait until process `pid` (not necessarily a child of ours) has exited:
 * gone, or a zombie nobody reaped yet. Waits on a pidfd where possible,
 * else polls /proc; gives up after `timeout_ms` plus cut_slack_ms().
 * Returns 1 once it has exited, 0 on timeout. */
int cut_wait_exited(pid_t pid, int64_t timeout_ms);

/* A timeout for a run whose helper must get going first (ignore SIGTERM,
 * print its first line) before the timeout fires: `ms` plus the time a
 * freshly spawned helper may need on a loaded machine (cut_slack_ms()).
 * The timeout cannot wait for an event, so it gets the slack instead. */
int64_t cut_after_start_ms(int64_t ms);

/* Whether the tests run under valgrind. */
int cut_under_valgrind(void);

/* Monotonic milliseconds. */
int64_t cut_now_ms(void);

/* Run all tests, or the one named by argv[1]. */
int cut_main(int argc, char **argv, const struct CMUnitTest *tests,
             size_t n, const char *group);

#define CU_TEST_MAIN(tests)                                                    \
  int main(int argc, char **argv) {                                            \
    return cut_main(argc, argv, tests, sizeof(tests) / sizeof(tests[0]),      \
                    __FILE__);                                                 \
  }

#endif
