/* SPDX-License-Identifier: MIT */
/* Shared by `run` and `parallel`: commands, echo, signals, exit status. */
#include <errno.h>
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

void cli_cancel_sigset(sigset_t *set) {
  sigemptyset(set);
  for (size_t i = 0; i < 3; i++)
    sigaddset(set, forwarded[i]);
}

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

int64_t cli_grace(int64_t grace_ms) {
  if (grace_ms == 0)
    return CU_GRACE_NONE; /* --grace 0: SIGKILL at once */
  return grace_ms > 0 ? grace_ms : 0;
}

/* A terminal stays behind the relay too: the command runs in a process
 * group that is not the terminal's foreground group, where a terminal
 * with `stty tostop` (or a program setting its modes) would stop it with
 * SIGTTOU; and nobody measures a terminal's throughput. */
static cu_stream_mode output_mode(const run_args *a, int fd) {
  if (a->quiet)
    return CU_STREAM_DISCARD;
  /* Closed when we started: the command's output has nowhere to go. It is
   * captured (one byte kept, the rest counted) so that output lost this
   * way is reported as a write error, never a silent success. */
  if (cli_stdio_was_closed(fd))
    return CU_STREAM_CAPTURE;
  if (a->observe.events || a->observe.log || isatty(fd))
    return CU_STREAM_ECHO;
  return CU_STREAM_INHERIT;
}

cu_run_opts cli_make_run_opts(const run_args *a) {
  /* As a shell does, the command writes to our stdout and stderr itself:
   * no byte is copied, and a reader that goes away kills it with SIGPIPE
   * (`cuprum run -- yes | head -n1`). Only when --events or --log want its
   * output (lines, byte counts), or it is a terminal (output_mode), do the
   * bytes pass through us, relayed by the library's engine
   * (splice/tee where the kernel allows, never blocking the loop, so a
   * timeout holds whatever the reader does; a reader that went away closes
   * the pipe, so the command still dies of SIGPIPE). */
  cu_run_opts o = {
      .size = sizeof(cu_run_opts),
      .out = {.mode = output_mode(a, STDOUT_FILENO)},
      .err = {.mode = output_mode(a, STDERR_FILENO)},
      .env = a->env,
      .n_env = a->n_env,
      .cwd = a->cwd,
      .timeout_ms = a->timeout_ms,
      .cancel = cancel_token,
      /* A session of its own: no controlling terminal, so a program that
       * opens /dev/tty to prompt fails at once instead of being stopped by
       * SIGTTIN for ever (--foreground keeps ours). */
      .new_session = !a->foreground,
  };
  o.grace_ms = cli_grace(a->grace_ms);
  cli_contain_apply(&a->contain, &o);
  cli_confine_apply(&a->confine, &o);
  if (o.out.mode == CU_STREAM_CAPTURE || o.err.mode == CU_STREAM_CAPTURE)
    o.max_capture = 1; /* only closed streams are captured: count them */
  /* Outside --foreground, the command never owns the terminal: a terminal
   * stdin stays /dev/null (the library's default), rather than input taken
   * from the user's shell (or a SIGTTIN stop); a pipe or file on our stdin
   * is handed on, as a shell does. */
  if (a->stdin_path)
    o.in = (cu_stdin_opts){.mode = CU_STDIN_FILE, .path = a->stdin_path};
  else if (!isatty(STDIN_FILENO) || a->foreground)
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

int cli_status_stopped(bool cancelled) {
  if (cancelled && caught_signal)
    return CLI_EXIT_SIGNAL_BASE + caught_signal;
  return -1;
}

int cli_status_lost(const cu_bytes *out, const cu_bytes *err) {
  const cu_bytes *streams[2] = {out, err};
  for (int i = 0; i < 2; i++)
    if (streams[i] && streams[i]->total > 0 && cli_stdio_was_closed(i + 1)) {
      cli_error("write error on %s: %s (%zu bytes of the command's output "
                "lost)",
                i == 0 ? "stdout" : "stderr", strerror(EBADF),
                streams[i]->total);
      return CLI_EXIT_FAILURE;
    }
  return -1;
}

int cli_status_not_run(int err, cu_spawn_step stage) {
  if (err == CU_ECANCELED && caught_signal)
    return CLI_EXIT_SIGNAL_BASE + caught_signal;
  cli_error("%s", cu_last_error());
  /* An unusable --cwd is our caller's mistake, not a missing program. */
  return stage == CU_STEP_CWD ? CLI_EXIT_FAILURE : cli_exit_for_error(err);
}
