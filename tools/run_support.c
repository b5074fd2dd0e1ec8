/* SPDX-License-Identifier: MIT */
/* Shared by `run` and `parallel`: commands, echo, signals, exit status. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

int cli_build_command(const cu_catalogue *cat, const char *const *argv,
                      int argc, const char *where, cu_cmd **ret) {
  const char *name = argv[0];
  if (!where)
    where = "";
  if (strchr(name, '/')) {
    cli_error("%srefusing to run '%s': PROGRAM is a catalogue name, not a "
              "path (to allow this file, use --allow %s)", where, name, name);
    return CLI_EXIT_FAILURE;
  }
  int rc = cu_cmd_new(cat, CU_PROGRAM(name), ret);
  if (rc == CU_EUNKNOWN_PROGRAM) {
    cli_error("%s%s; refusing to run it (allow it with --allow %s or a "
              "--catalogue file)", where, cu_last_error(), name);
    return CLI_EXIT_FAILURE;
  }
  if (rc != 0) {
    cli_error("%s%s", where, cu_last_error());
    return cli_exit_for_error(rc);
  }
  for (int i = 1; i < argc; i++)
    cu_cmd_arg(*ret, argv[i]);
  if ((rc = cu_cmd_status(*ret)) != 0) { /* builder errors are sticky */
    cli_error("%s%s", where, cu_last_error());
    *ret = cu_cmd_free(*ret);
    return cli_exit_for_error(rc);
  }
  return 0;
}

/* SIGINT/SIGTERM/SIGHUP sent to cuprum cancel the run: the command is in a
 * process group of its own and would not see a terminal's ^C otherwise.
 * This state exists only for the signal handler. */
static cu_cancel *cancel_token;
static volatile sig_atomic_t caught_signal;

static void on_signal(int sig) {
  caught_signal = sig;
  cu_cancel_trigger(cancel_token); /* async-signal-safe by contract */
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction saved[3];

int cli_cancel_begin(cu_cancel **ret) {
  if (cu_cancel_new(&cancel_token) != 0) {
    cli_error("%s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  for (size_t i = 0; i < 3; i++) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    /* A signal ignored when we started (nohup, background job) stays so. */
    if (sigaction(forwarded[i], NULL, &saved[i]) == 0 &&
        saved[i].sa_handler != SIG_IGN)
      sigaction(forwarded[i], &sa, NULL);
  }
  *ret = cancel_token;
  return 0;
}

/* Handlers first: a late signal must not trigger a freed token. */
void cli_cancel_end(void) {
  if (!cancel_token)
    return;
  for (size_t i = 0; i < 3; i++)
    if (saved[i].sa_handler != SIG_IGN)
      sigaction(forwarded[i], &saved[i], NULL);
  cancel_token = cu_cancel_free(cancel_token);
}

int cli_caught_signal(void) { return caught_signal; }

/* Echo through a callback rather than the library's fd echo, to notice a
 * reader that went away (`cuprum run -- yes | head -n1`): like any Unix
 * filter we then stop, cancelling the run instead of draining for ever. */
static int echo_to(void *data, const void *buf, size_t len) {
  echo_sink *sink = data;
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(sink->fd, p, len);
    if (n < 0 && errno == EAGAIN) { /* an O_NONBLOCK fd we inherited */
      struct pollfd pfd = {.fd = sink->fd, .events = POLLOUT};
      poll(&pfd, 1, -1);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      sink->broken = true;
      cu_cancel_trigger(cancel_token);
      return 1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

int64_t cli_grace(int64_t grace_ms) {
  if (grace_ms == 0)
    return CU_GRACE_NONE; /* --grace 0: SIGKILL at once */
  return grace_ms > 0 ? grace_ms : 0;
}

cu_run_opts cli_make_run_opts(const run_args *a, echo_sink sinks[2]) {
  /* Echo (not inherit): bytes pass through cuprum, so the command's process
   * group owns no descriptor of ours and a killed tree cannot keep our
   * terminal busy; observers of output lines see them too. */
  cu_stream_mode mode = a->quiet ? CU_STREAM_DISCARD : CU_STREAM_ECHO;
  cu_run_opts o = {
      .size = sizeof(cu_run_opts),
      .out = {.mode = mode, .sink = echo_to, .sink_data = &sinks[0]},
      .err = {.mode = mode, .sink = echo_to, .sink_data = &sinks[1]},
      .env = a->env,
      .n_env = a->n_env,
      .cwd = a->cwd,
      .timeout_ms = a->timeout_ms,
      .cancel = cancel_token,
  };
  o.grace_ms = cli_grace(a->grace_ms);
  /* Every run has its own process group, which is never the terminal's
   * foreground group: reading a terminal would stop the command with
   * SIGTTIN for ever. So a terminal stdin stays /dev/null (the library's
   * default); a pipe or file on our stdin is handed on, as a shell does. */
  if (a->stdin_path)
    o.in = (cu_stdin_opts){.mode = CU_STDIN_FILE, .path = a->stdin_path};
  else if (!isatty(STDIN_FILENO))
    o.in.mode = CU_STDIN_INHERIT;
  return o;
}

int cli_status_of(const cu_result *r) {
  if (r->timed_out)
    return CLI_EXIT_TIMEOUT;
  if (r->term_signal > 0)
    return CLI_EXIT_SIGNAL_BASE + r->term_signal;
  if (r->exit_code >= 0)
    return r->exit_code;
  return CLI_EXIT_FAILURE;
}

int cli_status_stopped(bool cancelled, const echo_sink sinks[2]) {
  if (sinks[0].broken || sinks[1].broken)
    return CLI_EXIT_SIGNAL_BASE + SIGPIPE; /* what a shell reports for cat */
  if (cancelled && caught_signal)
    return CLI_EXIT_SIGNAL_BASE + caught_signal;
  return -1;
}

int cli_status_not_run(int err, cu_spawn_step stage) {
  if (err == CU_ECANCELED && caught_signal)
    return CLI_EXIT_SIGNAL_BASE + caught_signal;
  cli_error("%s", cu_last_error());
  /* An unusable --cwd is our caller's mistake, not a missing program. */
  return stage == CU_STEP_CWD ? CLI_EXIT_FAILURE : cli_exit_for_error(err);
}
