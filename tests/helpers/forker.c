/* SPDX-License-Identifier: MIT */
/* forker [--ignore-term] [--wait] MS
 * Forks a grandchild that keeps the inherited stdout/stderr open and sleeps
 * MS milliseconds (0 = forever), ignoring SIGTERM with --ignore-term. Prints
 * "grandchild PID\n" (flushed) on stdout; exits 0 at once, or with --wait
 * after the grandchild ends (with --ignore-term the forker ignores SIGTERM
 * too). */
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "common.h"

int main(int argc, char **argv) {
  const char *ms = NULL;
  int ignore = 0, wait_child = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ignore-term"))
      ignore = 1;
    else if (!strcmp(argv[i], "--wait"))
      wait_child = 1;
    else
      ms = argv[i];
  }
  unsigned long long n = parse_num(ms, "milliseconds");
  if (ignore)
    signal(SIGTERM, SIG_IGN);
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0)
    return 4;
  if (pid == 0) {
    sleep_ms(n);
    _exit(0);
  }
  printf("grandchild %d\n", (int)pid);
  fflush(stdout);
  if (wait_child)
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
      ;
  return 0;
}
