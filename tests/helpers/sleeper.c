/* SPDX-License-Identifier: MIT */
/* sleeper MS [--ignore-term] [--print-pid]
 * Optionally ignores SIGTERM, prints "ready\n" (or "ready PID\n" with
 * --print-pid), flushed, then sleeps MS milliseconds (0 = forever). */
#include <signal.h>
#include <time.h>

#include "common.h"

int main(int argc, char **argv) {
  const char *ms = NULL;
  int print_pid = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--ignore-term"))
      signal(SIGTERM, SIG_IGN);
    else if (!strcmp(argv[i], "--print-pid"))
      print_pid = 1;
    else
      ms = argv[i];
  }
  unsigned long long n = parse_num(ms, "milliseconds");
  if (print_pid)
    printf("ready %d\n", (int)getpid());
  else
    printf("ready\n");
  fflush(stdout);
  sleep_ms(n);
  return 0;
}
