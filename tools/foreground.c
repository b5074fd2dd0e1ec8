/* SPDX-License-Identifier: MIT */
/*
 * `cuprum run --foreground`: the command talks to cuprum's terminal.
 *
 * The library starts every command in a process group of its own (so a
 * timeout or cancel can signal the whole tree), and such a group is not the
 * terminal's foreground group: reading the terminal would stop it with
 * SIGTTIN. So, as a shell does for a job it starts in the foreground,
 * cuprum hands the terminal to the command's group when it starts and takes
 * it back when the run ends. The command may have tried the terminal before
 * the hand-over and stopped: it is continued with SIGCONT right after.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

/* tcsetpgrp from a process that is not (or no longer) in the foreground
 * group raises SIGTTOU, which would stop cuprum: block it around the call,
 * as shells do. */
static void give_terminal(int fd, pid_t pgid) {
  sigset_t ttou, old;
  sigemptyset(&ttou);
  sigaddset(&ttou, SIGTTOU);
  pthread_sigmask(SIG_BLOCK, &ttou, &old);
  (void)tcsetpgrp(fd, pgid);
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static int on_event(void *data, const cu_event *ev) {
  cli_terminal *t = data;
  /* The first stage leads the group every stage of the run joins. */
  if (ev->phase != CU_EV_START || ev->stage_index != 0 || t->handed)
    return 0;
  give_terminal(t->fd, ev->pid);
  t->handed = true;
  kill(-ev->pid, SIGCONT); /* in case it met the terminal before us */
  return 0;
}

int cli_terminal_begin(cli_terminal *t) {
  *t = (cli_terminal){.fd = -1};
  for (int fd = 0; fd < 3 && t->fd < 0; fd++)
    if (isatty(fd) && tcgetpgrp(fd) == getpgrp())
      t->fd = fd;
  if (t->fd < 0)
    return 0; /* no terminal, or cuprum runs in the background: keep out */
  if (cu_observe(on_event, t, 0, &t->hook) != 0) {
    cli_error("--foreground: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

void cli_terminal_end(cli_terminal *t) {
  if (t->handed)
    give_terminal(t->fd, getpgrp());
  t->handed = false;
  cu_hook_detach(t->hook);
  t->hook = cu_hook_unref(t->hook);
}
