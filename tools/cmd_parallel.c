/* SPDX-License-Identifier: MIT */
/* `cuprum parallel [OPTIONS] FILE`: one command per line (a JSON array of
 * strings), at most N at once, results as JSON lines in submission order. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parallel_out.h"
#include "observe.h"
#include "run.h"

#define SUB "parallel"
#define MAX_JOBS 4096u

typedef struct parallel_args {
  cli_catalogue_opts cat;
  unsigned jobs;            /* 0 = no limit */
  bool fail_fast;
  int64_t timeout_ms;       /* per item; 0 = none */
  int64_t deadline_ms;      /* whole batch; 0 = none */
  const char *deadline_text;
  int64_t grace_ms;         /* -1 = library default */
  size_t max_output;        /* per item and stream; 0 = unlimited */
  cli_observe_opts observe; /* --events, --log, -x */
  cli_contain_opts contain; /* --contain, --limit */
  cli_confine_opts confine; /* --landlock-*, --connect, --no-new-privs */
  const char *file;
} parallel_args;

enum { OPT_CATALOGUE = 256, OPT_ALLOW, OPT_TIMEOUT, OPT_DEADLINE, OPT_GRACE,
       OPT_FAIL_FAST, OPT_MAX_OUTPUT };

/* Default capture per item and stream: results are held until the batch
 * ends, so an unbounded one (`["yes"]`) would take all memory. */
#define DEFAULT_MAX_OUTPUT (1024u * 1024u)

static const struct option long_options[] = {
    {"catalogue", required_argument, NULL, OPT_CATALOGUE},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"jobs", required_argument, NULL, 'j'},
    {"fail-fast", no_argument, NULL, OPT_FAIL_FAST},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
    CLI_OBSERVE_LONG_OPTIONS,
    CLI_CONTAIN_LONG_OPTIONS,
    CLI_CONFINE_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void) {
  fputs("usage: cuprum parallel [OPTIONS] FILE\n"
        "\n"
        "Run the commands in FILE (- = standard input), one per line, each a\n"
        "JSON array of strings: [\"PROGRAM\", \"ARG\", ...]. Blank lines are\n"
        "skipped. Every program must be allowed by the catalogue; every line\n"
        "is checked before anything runs. Commands read /dev/null; their\n"
        "output is captured. Prints one JSON object per command on stdout,\n"
        "in FILE's order, once all have ended.\n"
        "\n"
        "  -j, --jobs N       run at most N at once (default: the number of\n"
        "                     CPUs; 0 = no limit)\n"
        "  --fail-fast        the first failure terminates the running\n"
        "                     commands; the queued ones never start\n"
        "  --timeout SECONDS  per command (exit 124 for that command)\n"
        "  --deadline SECONDS for the whole batch\n"
        "  --grace SECONDS    wait between SIGTERM and SIGKILL (default 0.5)\n"
        "  --max-output BYTES keep at most BYTES of each command's stdout and\n"
        "                     of its stderr (default 1048576 = 1 MiB; 0 = no\n"
        "                     limit); the rest is read and dropped, and the\n"
        "                     result says so (stdout_truncated, ...)\n"
        "  --catalogue FILE   use the catalogue in FILE instead of the default\n"
        "  --allow PROG       also allow PROG (repeatable)\n"
        CLI_CONTAIN_HELP
        CLI_CONFINE_HELP
        "                     (one cgroup per command)\n"
        CLI_OBSERVE_HELP
        "  -h, --help         show this help\n"
        "\n"
        "Exit status: 0 when every command succeeded; else the first failing\n"
        "command's status as for `cuprum run` (its code, 128+N, 124, 126,\n"
        "127); 124 when the deadline expired; 125 cuprum's own error.\n",
        stdout);
}

static int parse_jobs(const char *text, unsigned *ret) {
  char *end = NULL;
  errno = 0;
  unsigned long n = strtoul(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
      n > MAX_JOBS)
    return cli_usage_error(SUB, "-j: '%s' is not a number from 0 to %u", text,
                           MAX_JOBS);
  *ret = (unsigned)n;
  return 0;
}

static int parse_bytes(const char *text, size_t *ret) {
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 ||
      n > SIZE_MAX / 2)
    return cli_usage_error(SUB, "--max-output: '%s' is not a number of bytes",
                           text);
  *ret = (size_t)n;
  return 0;
}

static int parse_option(void *ctx, int opt, const char *arg) {
  parallel_args *a = ctx;
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
  case 'j':
    return parse_jobs(arg, &a->jobs);
  case OPT_FAIL_FAST:
    a->fail_fast = true;
    return 0;
  case OPT_TIMEOUT:
    return cli_option_seconds(SUB, "--timeout", arg, &a->timeout_ms);
  case OPT_DEADLINE:
    a->deadline_text = arg;
    return cli_option_seconds(SUB, "--deadline", arg, &a->deadline_ms);
  case OPT_GRACE:
    return cli_option_seconds(SUB, "--grace", arg, &a->grace_ms);
  case OPT_MAX_OUTPUT:
    return parse_bytes(arg, &a->max_output);
  default:
    return CLI_EXIT_FAILURE;
  }
}

/* Returns 0 to run, -1 after --help, or a usage error's exit status. */
static int parse_args(int argc, char **argv, parallel_args *a) {
  int rc = cli_parse_options(argc, argv, SUB, "+:j:xh", long_options,
                             parse_option, a, print_help);
  if (rc != 0)
    return rc;
  if (optind >= argc)
    return cli_usage_error(SUB, "missing FILE (- for standard input)");
  if (optind + 1 < argc)
    return cli_usage_error(SUB, "one FILE only (got '%s' too)",
                           argv[optind + 1]);
  a->file = argv[optind];
  return 0;
}

/* ------------------------------------------------------------ the batch */

static void batch_free(batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    cu_cmd_free(b->lines[i].cmd);
    json_decref(b->lines[i].argv);
  }
  free(b->lines);
  free(b->items);
}

static int append_line(batch *b, json_t *argv, unsigned line_no) {
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    batch_line *lines = realloc(b->lines, cap * sizeof *lines);
    if (!lines) {
      cli_error("out of memory");
      return CLI_EXIT_FAILURE;
    }
    b->lines = lines;
    b->cap = cap;
  }
  b->lines[b->n++] = (batch_line){.argv = argv, .line = line_no};
  return 0;
}

/* One line: a non-empty JSON array of strings. */
static int parse_line(const char *name, unsigned line_no, const char *text,
                      batch *b) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  if (!v) {
    cli_error("%s:%u:%d: %s", name, line_no, err.column, err.text);
    return CLI_EXIT_FAILURE;
  }
  const char *why = NULL;
  if (!json_is_array(v))
    why = "is not a JSON array of strings";
  else if (json_array_size(v) == 0)
    why = "is an empty array (no PROGRAM)";
  for (size_t i = 0; !why && i < json_array_size(v); i++)
    if (!json_is_string(json_array_get(v, i)))
      why = "has an element that is not a string";
  if (why) {
    cli_error("%s:%u: the line %s, e.g. [\"echo\", \"hi\"]", name, line_no,
              why);
    json_decref(v);
    return CLI_EXIT_FAILURE;
  }
  int rc = append_line(b, v, line_no);
  if (rc != 0)
    json_decref(v);
  return rc;
}

static bool blank(const char *s) {
  return s[strspn(s, " \t\r\n")] == '\0';
}

static int read_file(const char *path, batch *b) {
  bool is_stdin = strcmp(path, "-") == 0;
  const char *name = is_stdin ? "<stdin>" : path;
  FILE *f = is_stdin ? stdin : fopen(path, "re");
  if (!f) {
    cli_error("%s: %s", path, strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  char *line = NULL;
  size_t cap = 0;
  unsigned line_no = 0;
  int status = 0;
  ssize_t len;
  while (status == 0 && (len = getline(&line, &cap, f)) >= 0) {
    line_no++;
    /* Lines are bytes: a NUL would end the C string early, so a line that
     * began with one looked blank and one after the array was ignored. */
    const char *nul = memchr(line, '\0', (size_t)len);
    if (nul) {
      cli_error("%s:%u:%zu: the line holds a NUL byte", name, line_no,
                (size_t)(nul - line) + 1);
      status = CLI_EXIT_FAILURE;
    } else if (!blank(line)) {
      status = parse_line(name, line_no, line, b);
    }
  }
  if (status == 0 && ferror(f)) {
    cli_error("%s: %s", name, strerror(errno));
    status = CLI_EXIT_FAILURE;
  }
  free(line);
  if (!is_stdin)
    fclose(f);
  return status;
}

/* Every command is built from the catalogue before anything runs. */
static int build_items(const parallel_args *a, const cu_catalogue *cat,
                       batch *b) {
  b->items = calloc(b->n ? b->n : 1, sizeof *b->items);
  if (!b->items) {
    cli_error("out of memory");
    return CLI_EXIT_FAILURE;
  }
  /* Each command in a session of its own: none can stop on the terminal
   * (cuprum run's default too; see docs/cli.md). */
  b->opts = (cu_run_opts){.size = sizeof(cu_run_opts),
                          .in = {.mode = CU_STDIN_NULL},
                          .grace_ms = cli_grace(a->grace_ms),
                          .max_capture = a->max_output,
                          .overflow = CU_OVERFLOW_TRUNCATE,
                          .new_session = true};
  cli_contain_apply(&a->contain, &b->opts);
  cli_confine_apply(&a->confine, &b->opts);
  for (size_t i = 0; i < b->n; i++) {
    batch_line *l = &b->lines[i];
    size_t argc = json_array_size(l->argv);
    const char **argv = calloc(argc, sizeof *argv);
    if (!argv) {
      cli_error("out of memory");
      return CLI_EXIT_FAILURE;
    }
    for (size_t k = 0; k < argc; k++)
      argv[k] = json_string_value(json_array_get(l->argv, k));
    char where[PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%u: ", b->name, l->line);
    int status = cli_build_command(cat, argv, (int)argc, where, &l->cmd);
    free(argv);
    if (status != 0)
      return status;
    b->items[i] = (cu_batch_item){.cmd = l->cmd, .opts = &b->opts};
  }
  return 0;
}

static unsigned default_jobs(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

static int run_batch(const parallel_args *a, batch *b) {
  cli_observer obs;
  int status = cli_observe_begin(&a->observe, &obs);
  if (status != 0)
    return cli_observe_end(&obs, status);
  cu_parallel_opts po = {
      .size = sizeof(cu_parallel_opts),
      .limit = a->jobs,
      .fail_fast = a->fail_fast,
      .item_timeout_ms = a->timeout_ms,
      .deadline_ms = a->deadline_ms,
  };
  status = cli_cancel_begin(&po.cancel);
  if (status != 0)
    return cli_observe_end(&obs, status);
  cu_parallel_result *r = NULL;
  int rc = cu_parallel_run(b->items, b->n, &po, &r);
  cli_cancel_end();
  if (rc != 0) {
    cli_error("%s: %s", b->name, cu_last_error());
    status = CLI_EXIT_FAILURE;
  } else {
    status = cli_parallel_print(b, r);
    if (status == 0)
      status = cli_parallel_status(b, a->deadline_text, r);
  }
  r = cu_parallel_result_free(r);
  return cli_observe_end(&obs, status);
}

static int run_parallel(parallel_args *a) {
  batch b = {.name = strcmp(a->file, "-") == 0 ? "<stdin>" : a->file};
  cu_catalogue *cat = NULL;
  int status = cli_catalogue_build(&a->cat, &cat);
  if (status == 0)
    status = read_file(a->file, &b);
  if (status == 0)
    status = build_items(a, cat, &b);
  if (status == 0)
    status = run_batch(a, &b);
  batch_free(&b);
  cu_catalogue_unref(cat);
  return status;
}

int cli_cmd_parallel(int argc, char **argv) {
  parallel_args a = {.jobs = default_jobs(), .grace_ms = -1,
                     .max_output = DEFAULT_MAX_OUTPUT};
  int status = parse_args(argc, argv, &a);
  if (status == 0)
    status = run_parallel(&a);
  else if (status < 0)
    status = CLI_EXIT_OK; /* --help */
  cli_catalogue_opts_free(&a.cat);
  cli_observe_opts_free(&a.observe);
  return status;
}
