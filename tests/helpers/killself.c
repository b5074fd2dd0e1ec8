/* SPDX-License-Identifier: MIT */
/* killself SIG: kills itself with signal number SIG (default disposition
 * restored first); exits 4 if it survives. */
#include <signal.h>

#include "common.h"

int main(int argc, char **argv) {
  int sig = (int)parse_num(argc > 1 ? argv[1] : NULL, "signal");
  signal(sig, SIG_DFL);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  fflush(stdout);
  kill(getpid(), sig);
  return 4;
}
