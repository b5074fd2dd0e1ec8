/* SPDX-License-Identifier: MIT */
/* `cuprum run [OPTIONS] [--] PROGRAM [ARG...]`: one allowlisted command. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define SUB "run"

/* Everything the command line asked for. Strings point into argv. */
typedef struct run_args {
  cli_catalogue_opts cat;
  cu_env_var *env;          /* --env / --unset overlay, in given order */
  size_t n_env;
  int64_t timeout_ms;       /* 0 = none */
  const char *timeout_text; /* as given, for the timeout message */
  int64_t grace_ms;         /* -1 = not given (library default) */
  const char *cwd;
  const char *stdin_path;
  bool quiet;
  char **command;           /* PROGRAM [ARG...] */
  int n_command;
} run_args;

enum {
  OPT_CATALOGUE = 256,
  OPT_ALLOW,
  OPT_TIMEOUT,
  OPT_GRACE,
  OPT_CWD,
  OPT_ENV,
  OPT_UNSET,
  OPT_STDIN,
};

static const struct option long_options[] = {
    {"catalogue", required_argument, NULL, OPT_CATALOGUE},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"cwd", required_argument, NULL, OPT_CWD},
    {"env", required_argument, NULL, OPT_ENV},
    {"unset", required_argument, NULL, OPT_UNSET},
    {"stdin", required_argument, NULL, OPT_STDIN},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void) {
  fputs("usage: cuprum run [OPTIONS] [--] PROGRAM [ARG...]\n"
        "\n"
        "Run PROGRAM, which the catalogue must allow, with ARGs exactly as\n"
        "given (no shell). Its output is streamed through.\n"
        "\n"
        "  --catalogue FILE   use the catalogue in FILE instead of the default\n"
        "  --allow PROG       also allow PROG: a name searched on PATH, or an\n"
        "                     absolute path pinned under its base name\n"
        "                     (repeatable)\n"
        "  --timeout SECONDS  terminate the command's process group after\n"
        "                     SECONDS (decimal, e.g. 2.5; 0 = none); exit 124\n"
        "  --grace SECONDS    wait between SIGTERM and SIGKILL (default 0.5;\n"
        "                     0 = SIGKILL at once)\n"
        "  --cwd DIR          run in DIR\n"
        "  --env NAME=VALUE   set a variable (repeatable)\n"
        "  --unset NAME       remove a variable (repeatable)\n"
        "  --stdin FILE       read standard input from FILE (default: cuprum's\n"
        "                     own, or /dev/null when that is a terminal)\n"
        "  -q, --quiet        discard the command's stdout and stderr\n"
        "  -h, --help         show this help\n"
        "\n"
        "Exit status: the command's; 128+N if signal N killed it; 124 timed\n"
        "out; 125 cuprum's own error; 126 not executable; 127 not found.\n",
        stdout);
}

/* Append one overlay entry; value NULL unsets. The name is copied (it is a
 * prefix of NAME=VALUE), the value points into argv. */
static int add_env(run_args *a, const char *name, size_t name_len,
                   const char *value) {
  cu_env_var *v = realloc(a->env, (a->n_env + 1) * sizeof *v);
  char *copy = strndup(name, name_len);
  if (!v || !copy) {
    free(copy);
    if (v)
      a->env = v;
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  a->env = v;
  a->env[a->n_env++] = (cu_env_var){.name = copy, .value = value};
  return 0;
}

static int parse_env(run_args *a, const char *text) {
  const char *eq = strchr(text, '=');
  if (!eq || eq == text)
    return cli_usage_error(SUB, "--env: '%s' is not NAME=VALUE with a "
                           "non-empty NAME", text);
  return add_env(a, text, (size_t)(eq - text), eq + 1);
}

static int parse_unset(run_args *a, const char *name) {
  if (name[0] == '\0' || strchr(name, '='))
    return cli_usage_error(SUB, "--unset: '%s' is not a variable name", name);
  return add_env(a, name, strlen(name), NULL);
}

static int parse_seconds(const char *option, const char *text,
                         int64_t *ret_ms) {
  const char *reason;
  if (cli_parse_seconds(text, ret_ms, &reason) == 0)
    return 0;
  return cli_usage_error(SUB, "%s: '%s' %s", option, text, reason);
}

/* One option. Returns 0, or the exit status to stop with. */
static int parse_option(run_args *a, int opt, const char *arg) {
  switch (opt) {
  case OPT_CATALOGUE:
    a->cat.file = arg;
    return 0;
  case OPT_ALLOW:
    return cli_catalogue_opts_allow(&a->cat, arg);
  case OPT_TIMEOUT:
    a->timeout_text = arg;
    return parse_seconds("--timeout", arg, &a->timeout_ms);
  case OPT_GRACE:
    return parse_seconds("--grace", arg, &a->grace_ms);
  case OPT_CWD:
    a->cwd = arg;
    return 0;
  case OPT_ENV:
    return parse_env(a, arg);
  case OPT_UNSET:
    return parse_unset(a, arg);
  case OPT_STDIN:
    a->stdin_path = arg;
    return 0;
  case 'q':
    a->quiet = true;
    return 0;
  default:
    return CLI_EXIT_FAILURE;
  }
}

/* Parse argv (argv[0] = "run"). Returns 0 to run, -1 after --help, or the
 * exit status of a usage error. */
static int parse_args(int argc, char **argv, run_args *a) {
  /* "+": stop at the first non-option, so the command's own options
   * (`cuprum run ls -l`) are never taken for ours. ":" : we report. */
  optind = 1;
  opterr = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "+:qh", long_options, NULL)) != -1) {
    if (opt == 'h') {
      print_help();
      return -1;
    }
    if (opt == '?')
      return cli_usage_error(SUB, "unknown option '%s'", argv[optind - 1]);
    if (opt == ':')
      return cli_usage_error(SUB, "option '%s' needs a value",
                             argv[optind - 1]);
    int rc = parse_option(a, opt, optarg);
    if (rc != 0)
      return rc;
  }
  if (optind >= argc)
    return cli_usage_error(SUB, "missing PROGRAM");
  a->command = argv + optind;
  a->n_command = argc - optind;
  return 0;
}

/* Build the command: the catalogue decides, before anything runs. */
static int build_command(const cu_catalogue *cat, const run_args *a,
                         cu_cmd **ret) {
  const char *name = a->command[0];
  if (strchr(name, '/')) {
    cli_error("refusing to run '%s': PROGRAM is a catalogue name, not a "
              "path (to allow this file, use --allow %s)", name, name);
    return CLI_EXIT_FAILURE;
  }
  int rc = cu_cmd_new(cat, CU_PROGRAM(name), ret);
  if (rc == CU_EUNKNOWN_PROGRAM) {
    cli_error("%s; refusing to run it (allow it with --allow %s or a "
              "--catalogue file)", cu_last_error(), name);
    return CLI_EXIT_FAILURE;
  }
  if (rc != 0) {
    cli_error("%s", cu_last_error());
    return cli_exit_for_error(rc);
  }
  for (int i = 1; i < a->n_command; i++)
    cu_cmd_arg(*ret, a->command[i]);
  if ((rc = cu_cmd_status(*ret)) != 0) { /* builder errors are sticky */
    cli_error("%s", cu_last_error());
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

/* Where the command's output is echoed: cuprum's own stdout or stderr. */
typedef struct echo_sink {
  int fd;
  bool broken; /* the reader went away (EPIPE) */
} echo_sink;

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

static cu_run_opts make_run_opts(const run_args *a, echo_sink sinks[2]) {
  /* Echo (not inherit): bytes pass through cuprum, so the command's process
   * group owns no descriptor of ours and a killed tree cannot keep our
   * terminal busy; observers of output lines see them too. */
  cu_stream_mode mode = a->quiet ? CU_STREAM_DISCARD : CU_STREAM_ECHO;
  cu_run_opts o = {
      .out = {.mode = mode, .sink = echo_to, .sink_data = &sinks[0]},
      .err = {.mode = mode, .sink = echo_to, .sink_data = &sinks[1]},
      .env = a->env,
      .n_env = a->n_env,
      .cwd = a->cwd,
      .timeout_ms = a->timeout_ms,
  };
  if (a->grace_ms == 0)
    o.grace_ms = CU_GRACE_NONE;
  else if (a->grace_ms > 0)
    o.grace_ms = a->grace_ms;
  /* Every run has its own process group, which is never the terminal's
   * foreground group: reading a terminal would stop the command with
   * SIGTTIN for ever. So a terminal stdin becomes /dev/null. */
  if (a->stdin_path)
    o.in = (cu_stdin_opts){.mode = CU_STDIN_FILE, .path = a->stdin_path};
  else if (isatty(STDIN_FILENO))
    o.in.mode = CU_STDIN_NULL;
  return o;
}

static const int forwarded[] = {SIGINT, SIGTERM, SIGHUP};
static struct sigaction saved[3];

static void forward_signals(void) {
  for (size_t i = 0; i < 3; i++) {
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    /* A signal ignored when we started (nohup, background job) stays so. */
    if (sigaction(forwarded[i], NULL, &saved[i]) == 0 &&
        saved[i].sa_handler != SIG_IGN)
      sigaction(forwarded[i], &sa, NULL);
  }
}

/* Before the token goes: a late signal must not trigger a freed token. */
static void restore_signals(void) {
  for (size_t i = 0; i < 3; i++)
    if (saved[i].sa_handler != SIG_IGN)
      sigaction(forwarded[i], &saved[i], NULL);
}

static int exit_status(const run_args *a, const cu_result *r,
                       const echo_sink sinks[2]) {
  if (r->timed_out) {
    cli_error("'%s' timed out after %s s; its process group was %s",
              a->command[0], a->timeout_text,
              r->sent_kill ? "killed" : "terminated");
    return CLI_EXIT_TIMEOUT;
  }
  if (sinks[0].broken || sinks[1].broken)
    return CLI_EXIT_SIGNAL_BASE + SIGPIPE; /* what a shell reports for cat */
  if (r->cancelled && caught_signal)
    return CLI_EXIT_SIGNAL_BASE + caught_signal;
  if (r->term_signal > 0)
    return CLI_EXIT_SIGNAL_BASE + r->term_signal;
  if (r->exit_code >= 0)
    return r->exit_code;
  return CLI_EXIT_FAILURE;
}

static int run_command(const run_args *a) {
  cu_catalogue *cat = NULL;
  cu_cmd *cmd = NULL;
  int status = cli_catalogue_build(&a->cat, &cat);
  if (status == 0)
    status = build_command(cat, a, &cmd);
  if (status != 0) {
    cu_catalogue_free(cat);
    return status;
  }
  echo_sink sinks[2] = {{.fd = STDOUT_FILENO}, {.fd = STDERR_FILENO}};
  cu_run_opts opts = make_run_opts(a, sinks);
  cu_result result;
  int rc = cu_cancel_new(&cancel_token);
  if (rc == 0) {
    opts.cancel = cancel_token;
    forward_signals();
    rc = cu_run(cmd, &opts, &result);
    restore_signals();
    if (rc == 0) {
      status = exit_status(a, &result, sinks);
    } else if (rc == CU_ECANCELED && caught_signal) {
      status = CLI_EXIT_SIGNAL_BASE + caught_signal;
    } else {
      cli_error("%s", cu_last_error());
      /* An unusable --cwd is our caller's mistake, not a missing program. */
      status = result.spawn_stage == CU_STAGE_CWD ? CLI_EXIT_FAILURE
                                                  : cli_exit_for_error(rc);
    }
    cu_result_free(&result);
  } else {
    cli_error("%s", cu_last_error());
    status = CLI_EXIT_FAILURE;
  }
  cu_cmd_free(cmd);
  cu_catalogue_free(cat);
  return status;
}

int cli_cmd_run(int argc, char **argv) {
  run_args a = {.grace_ms = -1};
  int status = parse_args(argc, argv, &a);
  if (status == 0)
    status = run_command(&a);
  else if (status < 0)
    status = CLI_EXIT_OK; /* --help */
  for (size_t i = 0; i < a.n_env; i++)
    free((char *)a.env[i].name);
  free(a.env);
  cli_catalogue_opts_free(&a.cat);
  cancel_token = cu_cancel_free(cancel_token);
  return status;
}
