/* SPDX-License-Identifier: MIT */
/* `cuprum run [OPTIONS] [--] PROGRAM [ARG...] ['|' PROGRAM [ARG...]]...`:
 * option parsing, and one allowlisted command (pipelines: run_pipeline.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run.h"

#define SUB "run"

enum {
  OPT_CATALOGUE = 256,
  OPT_ALLOW,
  OPT_TIMEOUT,
  OPT_GRACE,
  OPT_CWD,
  OPT_ENV,
  OPT_UNSET,
  OPT_STDIN,
  OPT_PIPE_TOKEN,
  OPT_WAIT_ALL,
  OPT_SIGPIPE_FAILS,
  OPT_FOREGROUND,
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
    {"pipe-token", required_argument, NULL, OPT_PIPE_TOKEN},
    {"wait-all", no_argument, NULL, OPT_WAIT_ALL},
    {"sigpipe-fails", no_argument, NULL, OPT_SIGPIPE_FAILS},
    {"foreground", no_argument, NULL, OPT_FOREGROUND},
    CLI_OBSERVE_LONG_OPTIONS,
    CLI_CONTAIN_LONG_OPTIONS,
    CLI_CONFINE_LONG_OPTIONS,
    {"time", no_argument, NULL, CLI_OPT_TIME},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void) {
  fputs("usage: cuprum run [OPTIONS] [--] PROGRAM [ARG...]\n"
        "       cuprum run [OPTIONS] [--] PROGRAM [ARG...] '|' PROGRAM "
        "[ARG...]...\n"
        "\n"
        "Run PROGRAM, which the catalogue must allow, with ARGs exactly as\n"
        "given (no shell). Its output is streamed through. A lone '|'\n"
        "argument joins programs into a pipeline (quote it for your shell).\n"
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
        "  --foreground       let the command use cuprum's terminal (prompts,\n"
        "                     editors): keep cuprum's session, inherit a\n"
        "                     terminal stdin and hand it the terminal while\n"
        "                     it runs. Default: a new session without a\n"
        "                     terminal, so a prompt fails instead of hanging\n"
        "  -q, --quiet        discard the command's stdout and stderr\n"
        CLI_CONTAIN_HELP
        CLI_CONFINE_HELP
        "  --time             print the command's CPU time, elapsed time and\n"
        "                     peak memory to stderr at the end (as GNU time)\n"
        CLI_OBSERVE_HELP
        "  -h, --help         show this help\n"
        "\n"
        "Pipelines:\n"
        "  --pipe-token TOKEN separate stages with TOKEN instead of '|'\n"
        "  --wait-all         let every stage finish (default: the first\n"
        "                     failing stage stops the others); the exit\n"
        "                     status is then the last stage's\n"
        "  --sigpipe-fails    a stage killed by SIGPIPE counts as failing\n"
        "                     (default: not, as in `yes | head -n1`)\n"
        "\n"
        "Exit status: the command's; 128+N if signal N killed it; 124 timed\n"
        "out; 125 cuprum's own error; 126 not executable; 127 not found.\n"
        "A pipeline's is its first failing stage's (unless --wait-all),\n"
        "else its last stage's.\n",
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

/* One option. Returns 0, or the exit status to stop with. */
static int parse_option(void *ctx, int opt, const char *arg) {
  run_args *a = ctx;
  int rc = cli_observe_option(&a->observe, SUB, opt, arg);
  if (rc < 0)
    rc = cli_contain_option(&a->contain, SUB, opt, arg);
  if (rc < 0)
    rc = cli_confine_option(&a->confine, SUB, opt, arg);
  if (rc >= 0)
    return rc;
  switch (opt) {
  case OPT_CATALOGUE:
    a->cat.file = arg;
    return 0;
  case OPT_ALLOW:
    return cli_catalogue_opts_allow(&a->cat, arg);
  case OPT_TIMEOUT:
    a->timeout_text = arg;
    return cli_option_seconds(SUB, "--timeout", arg, &a->timeout_ms);
  case OPT_GRACE:
    return cli_option_seconds(SUB, "--grace", arg, &a->grace_ms);
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
  case OPT_PIPE_TOKEN:
    if (arg[0] == '\0')
      return cli_usage_error(SUB, "--pipe-token: the token is empty");
    a->pipe_token = arg;
    return 0;
  case OPT_WAIT_ALL:
    a->wait_all = true;
    return 0;
  case OPT_SIGPIPE_FAILS:
    a->sigpipe_fails = true;
    return 0;
  case OPT_FOREGROUND:
    a->foreground = true;
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
  int rc = cli_parse_options(argc, argv, SUB, "+:qxh", long_options,
                             parse_option, a, print_help);
  if (rc != 0)
    return rc;
  if (optind >= argc)
    return cli_usage_error(SUB, "missing PROGRAM");
  a->command = (const char *const *)argv + optind;
  a->n_command = argc - optind;
  return 0;
}

static int exit_status(const run_args *a, const cu_result *r) {
  if (r->timed_out) {
    cli_error("'%s' timed out after %s s; its process group was %s",
              a->command[0], a->timeout_text,
              r->sent_kill ? "killed" : "terminated");
    return CLI_EXIT_TIMEOUT;
  }
  int status = cli_status_stopped(r->cancelled);
  if (status < 0)
    status = cli_status_lost(&r->out, &r->err);
  return status >= 0 ? status : cli_status_of(r);
}

static int run_one(const run_args *a, const cu_catalogue *cat) {
  cu_cmd *cmd = NULL;
  int status = cli_build_command(cat, a->command, a->n_command, NULL, &cmd);
  if (status != 0)
    return status;
  cu_run_opts opts = cli_make_run_opts(a);
  cu_result *result = NULL;
  int rc = cu_run(cmd, &opts, &result);
  if (rc == 0 && a->contain.time)
    cli_print_time(stderr, result);
  if (rc == 0)
    status = exit_status(a, result);
  else
    status =
        cli_status_not_run(rc, result ? result->spawn_step : CU_STEP_NONE);
  result = cu_result_free(result);
  cu_cmd_free(cmd);
  return status;
}

static int run_command(const run_args *a) {
  cu_catalogue *cat = NULL;
  cu_cancel *cancel = NULL;
  cli_observer obs = {0};
  int status = cli_catalogue_build(&a->cat, &cat);
  if (status == 0)
    status = cli_observe_begin(&a->observe, &obs);
  if (status == 0)
    status = cli_cancel_begin(&cancel);
  cli_terminal term = {0};
  if (status == 0 && a->foreground)
    status = cli_terminal_begin(&term);
  if (status == 0)
    status = cli_is_pipeline(a) ? cli_run_pipeline(a, cat) : run_one(a, cat);
  cli_terminal_end(&term);
  cli_cancel_end();
  status = cli_observe_end(&obs, status);
  cu_catalogue_unref(cat);
  return status;
}

int cli_cmd_run(int argc, char **argv) {
  run_args a = {.grace_ms = -1, .pipe_token = "|"};
  int status = parse_args(argc, argv, &a);
  if (status == 0)
    status = run_command(&a);
  else if (status < 0)
    status = CLI_EXIT_OK; /* --help */
  for (size_t i = 0; i < a.n_env; i++)
    free((char *)a.env[i].name);
  free(a.env);
  cli_catalogue_opts_free(&a.cat);
  cli_observe_opts_free(&a.observe);
  return status;
}
