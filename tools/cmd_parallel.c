/* SPDX-License-Identifier: MIT */
/* `cuprum parallel [OPTIONS] FILE` and `--args FILE -- PROGRAM ARG {}...`:
 * items checked against the catalogue up front, then streamed through
 * cu_parallel_stream(): at most N at once, each result line written as its
 * item ends (or in input order with --keep-order), a job log that resumes,
 * retries, halting, a progress line. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "executor.h"
#include "observe.h"
#include "parallel_out.h"
#include "run.h"
#include "executor_slurm.h"
#include "write_all.h"

#define SUB "parallel"
#define MAX_JOBS 4096u

typedef struct parallel_args {
  cli_catalogue_opts cat;
  unsigned jobs;            /* 0 = no limit (MAX_JOBS) */
  int64_t timeout_ms;       /* per item; 0 = none */
  int64_t deadline_ms;      /* whole batch; 0 = none */
  const char *deadline_text;
  int64_t grace_ms;         /* -1 = library default */
  size_t max_output;        /* per item and stream; 0 = unlimited */
  cli_observe_opts observe; /* --events, --log, -x */
  cli_contain_opts contain; /* --contain, --limit */
  cli_confine_opts confine; /* --landlock-*, --connect, --no-new-privs */
  bool keep_order;
  cu_halt_when halt_when;
  cu_halt_on halt_on;
  size_t halt_count;
  unsigned halt_percent;
  unsigned retries;
  int64_t backoff_ms;
  const char *joblog;
  bool resume, resume_failed;
  const char *results_dir;
  int progress;             /* -1 = when stderr is a terminal */
  const char *args_file;    /* --args: one argument per line */
  char **template;          /* --args: PROGRAM ARG... ({} = the line) */
  int n_template;
  const char *file;         /* the JSON-lines FILE */
  bool slurm;               /* --executor slurm */
  slurm_opts so;            /* --slurm-* */
} parallel_args;

enum { OPT_CATALOGUE = 256, OPT_ALLOW, OPT_TIMEOUT, OPT_DEADLINE, OPT_GRACE,
       OPT_FAIL_FAST, OPT_MAX_OUTPUT, OPT_HALT, OPT_RETRIES, OPT_BACKOFF,
       OPT_JOBLOG, OPT_RESUME, OPT_RESUME_FAILED, OPT_RESULTS, OPT_PROGRESS,
       OPT_NO_PROGRESS, OPT_ARGS, OPT_EXECUTOR, OPT_SLURM_PARTITION,
       OPT_SLURM_TIME, OPT_SLURM_OPT, OPT_SLURM_CUPRUM };

/* Default capture per item and stream: a result is held while its line is
 * built, so an unbounded one (`["yes"]`) would take all memory. */
#define DEFAULT_MAX_OUTPUT (1024u * 1024u)

static const struct option long_options[] = {
    {"catalogue", required_argument, NULL, OPT_CATALOGUE},
    {"allow", required_argument, NULL, OPT_ALLOW},
    {"jobs", required_argument, NULL, 'j'},
    {"keep-order", no_argument, NULL, 'k'},
    {"fail-fast", no_argument, NULL, OPT_FAIL_FAST},
    {"halt", required_argument, NULL, OPT_HALT},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"retry-backoff", required_argument, NULL, OPT_BACKOFF},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"deadline", required_argument, NULL, OPT_DEADLINE},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"max-output", required_argument, NULL, OPT_MAX_OUTPUT},
    {"executor", required_argument, NULL, OPT_EXECUTOR},
    {"slurm-partition", required_argument, NULL, OPT_SLURM_PARTITION},
    {"slurm-time", required_argument, NULL, OPT_SLURM_TIME},
    {"slurm-opt", required_argument, NULL, OPT_SLURM_OPT},
    {"slurm-cuprum", required_argument, NULL, OPT_SLURM_CUPRUM},
    {"results", required_argument, NULL, OPT_RESULTS},
    {"joblog", required_argument, NULL, OPT_JOBLOG},
    {"resume", no_argument, NULL, OPT_RESUME},
    {"resume-failed", no_argument, NULL, OPT_RESUME_FAILED},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"args", required_argument, NULL, OPT_ARGS},
    CLI_OBSERVE_LONG_OPTIONS,
    CLI_CONTAIN_LONG_OPTIONS,
    CLI_CONFINE_LONG_OPTIONS,
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_help(void) {
  fputs("usage: cuprum parallel [OPTIONS] FILE\n"
        "       cuprum parallel [OPTIONS] --args FILE [--] PROGRAM [ARG...]\n"
        "\n"
        "Run the commands in FILE (- = standard input), one per line, each a\n"
        "JSON array of strings: [\"PROGRAM\", \"ARG\", ...]. Blank lines are\n"
        "skipped. With --args, each line of FILE is one argument instead:\n"
        "it replaces {} in PROGRAM ARG... ({#} = its 1-based number); no\n"
        "shell ever. Every program must be allowed by the catalogue; every\n"
        "line is checked before anything runs. Commands read /dev/null;\n"
        "their output is captured. Prints one JSON object per command on\n"
        "stdout as each ends (with its \"index\"), or in FILE's order with\n"
        "--keep-order.\n"
        "\n"
        "  -j, --jobs N       run at most N at once (default: the number of\n"
        "                     CPUs; 0 = 4096)\n"
        "  -k, --keep-order   print results in FILE's order\n"
        "  --halt WHEN,WHY=N  stop when N (or N%) commands failed\n"
        "                     (fail=), succeeded (success=) or ended\n"
        "                     (done=); WHEN now: terminate the running ones;\n"
        "                     soon: let them end; start no more. `never` is\n"
        "                     the default (GNU parallel's --halt)\n"
        "  --fail-fast        --halt now,fail=1\n"
        "  --retries N        run a failed command again up to N times\n"
        "  --retry-backoff SECONDS  wait before the first retry, doubled for\n"
        "                     each next one (default 0.1; at most 60)\n"
        "  --timeout SECONDS  per command (exit 124 for that command)\n"
        "  --deadline SECONDS for the whole batch\n"
        "  --grace SECONDS    wait between SIGTERM and SIGKILL (default 0.5)\n"
        "  --max-output BYTES keep at most BYTES of each command's stdout and\n"
        "                     of its stderr (default 1048576 = 1 MiB; 0 = no\n"
        "                     limit); the rest is read and dropped, and the\n"
        "                     result says so (stdout_truncated, ...)\n"
        "  --executor local|slurm\n"
        "                     where the commands run (default local); slurm:\n"
        "                     each one as a Slurm step running `cuprum\n"
        "                     exec-item` (docs/scale-out.md)\n"
        "  --slurm-partition P  srun --partition=P\n"
        "  --slurm-time MIN   srun --time=MIN, a backstop (default: the\n"
        "                     --timeout and grace rounded up, plus 1 min)\n"
        "  --slurm-opt OPT    one more srun option, as one argument\n"
        "                     (repeatable), e.g. --slurm-opt=--mem=1G\n"
        "  --slurm-cuprum PATH  cuprum on the nodes (default: this one)\n"
        "  --results DIR      also write each command's whole output to\n"
        "                     DIR/SEQ/stdout and DIR/SEQ/stderr (slurm: what\n"
        "                     the node sent back, --max-output at most)\n"
        "  --joblog FILE      log each ended command in GNU parallel's job\n"
        "                     log format (and FILE.started: those started)\n"
        "  --resume           skip the commands FILE's log holds as done\n"
        "  --resume-failed    skip those it holds as done with status 0\n"
        "  --progress         draw a progress line on stderr\n"
        "  --no-progress      never (default: when stderr is a terminal)\n"
        "  --catalogue FILE   use the catalogue in FILE instead of the default\n"
        "  --allow PROG       also allow PROG (repeatable)\n"
        CLI_CONTAIN_HELP
        "                     (one cgroup per command)\n"
        CLI_CONFINE_HELP
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

static int parse_count(const char *opt, const char *text, unsigned max,
                       unsigned *ret) {
  char *end = NULL;
  errno = 0;
  unsigned long n = strtoul(text, &end, 10);
  if (text[0] < '0' || text[0] > '9' || *end != '\0' || errno != 0 || n > max)
    return cli_usage_error(SUB, "%s: '%s' is not a number from 0 to %u", opt,
                           text, max);
  *ret = (unsigned)n;
  return 0;
}

/* GNU parallel's --halt: never | WHEN,WHY=N | WHEN,WHY=N% | 0 1 2 -1 -2. */
static int parse_halt(const char *text, parallel_args *a) {
  static const struct { const char *name; cu_halt_when when; cu_halt_on on;
                        unsigned n; } legacy[] = {
      {"never", CU_HALT_NEVER, CU_HALT_ON_FAIL, 0},
      {"0", CU_HALT_NEVER, CU_HALT_ON_FAIL, 0},
      {"1", CU_HALT_SOON, CU_HALT_ON_FAIL, 1},
      {"2", CU_HALT_NOW, CU_HALT_ON_FAIL, 1},
      {"-1", CU_HALT_SOON, CU_HALT_ON_SUCCESS, 1},
      {"-2", CU_HALT_NOW, CU_HALT_ON_SUCCESS, 1}};
  for (size_t i = 0; i < sizeof legacy / sizeof *legacy; i++)
    if (strcmp(text, legacy[i].name) == 0) {
      a->halt_when = legacy[i].when;
      a->halt_on = legacy[i].on;
      a->halt_count = legacy[i].n;
      a->halt_percent = 0;
      return 0;
    }
  const char *why = strchr(text, ',');
  size_t wl = why ? (size_t)(why - text) : 0;
  cu_halt_when when = wl == 3 && strncmp(text, "now", 3) == 0    ? CU_HALT_NOW
                      : wl == 4 && strncmp(text, "soon", 4) == 0 ? CU_HALT_SOON
                                                                 : CU_HALT_NEVER;
  const char *eq = why ? strchr(why, '=') : NULL;
  cu_halt_on on = CU_HALT_ON_FAIL;
  bool known = eq != NULL;
  if (known) {
    size_t l = (size_t)(eq - why - 1);
    if (l == 4 && strncmp(why + 1, "fail", 4) == 0)
      on = CU_HALT_ON_FAIL;
    else if (l == 7 && strncmp(why + 1, "success", 7) == 0)
      on = CU_HALT_ON_SUCCESS;
    else if (l == 4 && strncmp(why + 1, "done", 4) == 0)
      on = CU_HALT_ON_DONE;
    else
      known = false;
  }
  char *end = NULL;
  errno = 0;
  unsigned long long n = known ? strtoull(eq + 1, &end, 10) : 0;
  bool percent = end && *end == '%';
  if (when == CU_HALT_NEVER || !known || eq[1] < '0' || eq[1] > '9' ||
      errno || n == 0 || (percent ? end[1] != '\0' || n > 100 : *end != '\0'))
    return cli_usage_error(SUB, "--halt: '%s' is not never, or WHEN,WHY=N "
                                "(WHEN now or soon; WHY fail, success or "
                                "done; N a count >= 1 or a percentage N%%)",
                           text);
  a->halt_when = when;
  a->halt_on = on;
  a->halt_count = percent ? 0 : (size_t)n;
  a->halt_percent = percent ? (unsigned)n : 0;
  return 0;
}

/* A containment or confinement option as given, kept for `cuprum
 * exec-item` on a Slurm node (the only place it applies then). */
static int keep_for_node(parallel_args *a, int opt, const char *arg) {
  for (const struct option *o = long_options; o->name; o++)
    if (o->val == opt)
      return slurm_opts_node_arg(&a->so, o->name,
                                 o->has_arg == no_argument ? NULL : arg);
  return 0;
}

static int parse_option(void *ctx, int opt, const char *arg) {
  parallel_args *a = ctx;
  int rc = cli_observe_option(&a->observe, SUB, opt, arg);
  if (rc < 0) {
    rc = cli_contain_option(&a->contain, SUB, opt, arg);
    if (rc < 0)
      rc = cli_confine_option(&a->confine, SUB, opt, arg);
    if (rc == 0)
      rc = keep_for_node(a, opt, arg);
  }
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
  case 'k':
    a->keep_order = true;
    return 0;
  case OPT_FAIL_FAST:
    return parse_halt("now,fail=1", a);
  case OPT_HALT:
    return parse_halt(arg, a);
  case OPT_RETRIES:
    return parse_count("--retries", arg, 1000, &a->retries);
  case OPT_BACKOFF:
    rc = cli_option_seconds(SUB, "--retry-backoff", arg, &a->backoff_ms);
    if (rc == 0 && a->backoff_ms > 60000)
      return cli_usage_error(SUB, "--retry-backoff: at most 60 seconds");
    return rc;
  case OPT_TIMEOUT:
    return cli_option_seconds(SUB, "--timeout", arg, &a->timeout_ms);
  case OPT_DEADLINE:
    a->deadline_text = arg;
    return cli_option_seconds(SUB, "--deadline", arg, &a->deadline_ms);
  case OPT_GRACE:
    return cli_option_seconds(SUB, "--grace", arg, &a->grace_ms);
  case OPT_MAX_OUTPUT:
    return parse_bytes(arg, &a->max_output);
  case OPT_EXECUTOR:
    if (strcmp(arg, "local") != 0 && strcmp(arg, "slurm") != 0)
      return cli_usage_error(SUB, "--executor: '%s' is not local or slurm",
                             arg);
    a->slurm = strcmp(arg, "slurm") == 0;
    return 0;
  case OPT_SLURM_PARTITION:
    a->so.partition = arg;
    return 0;
  case OPT_SLURM_TIME: {
    char *end = NULL;
    errno = 0;
    long n = strtol(arg, &end, 10);
    if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 ||
        n < 1 || n > 525600)
      return cli_usage_error(SUB, "--slurm-time: '%s' is not a number of "
                             "minutes from 1 to 525600", arg);
    a->so.time_min = n;
    return 0;
  }
  case OPT_SLURM_OPT:
    return slurm_opts_extra(&a->so, arg);
  case OPT_SLURM_CUPRUM:
    a->so.cuprum = arg;
    return 0;
  case OPT_RESULTS:
    a->results_dir = arg;
    return 0;
  case OPT_JOBLOG:
    a->joblog = arg;
    return 0;
  case OPT_RESUME:
    a->resume = true;
    return 0;
  case OPT_RESUME_FAILED:
    a->resume_failed = true;
    return 0;
  case OPT_PROGRESS:
  case OPT_NO_PROGRESS:
    a->progress = opt == OPT_PROGRESS;
    return 0;
  case OPT_ARGS:
    a->args_file = arg;
    return 0;
  default:
    return CLI_EXIT_FAILURE;
  }
}

/* Returns 0 to run, -1 after --help, or a usage error's exit status. */
static int parse_args(int argc, char **argv, parallel_args *a) {
  int rc = cli_parse_options(argc, argv, SUB, "+:j:kxh", long_options,
                             parse_option, a, print_help);
  if (rc != 0)
    return rc;
  if ((a->resume || a->resume_failed) && !a->joblog)
    return cli_usage_error(SUB, "--resume and --resume-failed need --joblog");
  if (a->args_file) {
    if (optind < argc && strcmp(argv[optind], "--") == 0)
      optind++;
    if (optind >= argc)
      return cli_usage_error(SUB, "--args: missing PROGRAM after FILE");
    a->template = argv + optind;
    a->n_template = argc - optind;
    a->file = a->args_file;
    return 0;
  }
  if (optind >= argc)
    return cli_usage_error(SUB, "missing FILE (- for standard input)");
  if (optind + 1 < argc)
    return cli_usage_error(SUB, "one FILE only (got '%s' too)",
                           argv[optind + 1]);
  a->file = argv[optind];
  return 0;
}

/* ------------------------------------------------------------ input */

typedef struct input {
  const char *name; /* FILE, or "<stdin>", for messages */
  FILE *f;
  FILE *spool;      /* a list that cannot be read twice (stdin, a pipe,
                       a FIFO, /dev/fd/N from <(...)), copied while
                       checking and read back to run */
  struct stat st;   /* a regular FILE as checked: it must not change */
  char *line;
  size_t cap;
  unsigned line_no;
  size_t index;     /* items read so far */
} input;

/* A private temporary file (never a name anyone else can open). */
static FILE *spool_new(void) {
  const char *dir = getenv("TMPDIR");
  int fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC,
                0600);
  if (fd < 0) {
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/cuprum-parallel-XXXXXX",
             dir && *dir ? dir : "/tmp");
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
      unlink(path);
  }
  FILE *f = fd >= 0 ? fdopen(fd, "w+") : NULL;
  if (!f && fd >= 0)
    close(fd);
  return f;
}

static bool same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
         a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
         a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* The list is read twice: once to check every item, then to run them. A
 * regular FILE is opened again (and must not have changed in between);
 * anything else is copied to a spool while checking and run from there,
 * since reading it again would find nothing (a pipe) or block (a FIFO). */
static int input_open(input *in, const char *path, bool checking) {
  bool is_stdin = strcmp(path, "-") == 0;
  in->name = is_stdin ? "<stdin>" : path;
  in->line_no = 0;
  in->index = 0;
  if (!checking && in->spool) { /* the spool, from the start */
    in->f = in->spool;
    in->spool = NULL;
    if (fseek(in->f, 0, SEEK_SET) != 0) {
      cli_error("%s: %s", in->name, strerror(errno));
      return CLI_EXIT_FAILURE;
    }
    return 0;
  }
  in->f = is_stdin ? stdin : fopen(path, "re");
  struct stat st;
  if (!in->f || fstat(fileno(in->f), &st) != 0) {
    cli_error("%s: %s", path, strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  if (!checking) {
    if (!same_file(&st, &in->st)) {
      cli_error("%s: the file changed after its items were checked; "
                "nothing was run", in->name);
      return CLI_EXIT_FAILURE;
    }
    return 0;
  }
  in->st = st;
  if ((is_stdin || !S_ISREG(st.st_mode)) && !(in->spool = spool_new())) {
    cli_error("%s: a temporary file for the list: %s", in->name,
              strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static void input_close(input *in) {
  if (in->f && in->f != stdin)
    fclose(in->f);
  in->f = NULL;
}

/* A line as an argv: a JSON array of strings, or (--args) the template
 * with {} replaced. */
static json_t *template_argv(const parallel_args *a, const char *arg,
                             size_t seq) {
  char num[24];
  snprintf(num, sizeof num, "%zu", seq);
  json_t *v = json_array();
  for (int i = 0; v && i < a->n_template; i++) {
    const char *t = a->template[i];
    size_t need = 1;
    for (const char *p = t; *p;)
      if (strncmp(p, "{}", 2) == 0)
        need += strlen(arg), p += 2;
      else if (strncmp(p, "{#}", 3) == 0)
        need += strlen(num), p += 3;
      else
        need++, p++;
    char *s = malloc(need), *o = s;
    if (!s) {
      json_decref(v);
      return NULL;
    }
    for (const char *p = t; *p;)
      if (strncmp(p, "{}", 2) == 0)
        o = stpcpy(o, arg), p += 2;
      else if (strncmp(p, "{#}", 3) == 0)
        o = stpcpy(o, num), p += 3;
      else
        *o++ = *p++;
    *o = '\0';
    json_t *e = json_string(s);
    free(s);
    if (!e || json_array_append_new(v, e) != 0) {
      json_decref(v);
      return NULL;
    }
  }
  return v;
}

static json_t *json_argv(const input *in, const char *text) {
  json_error_t err;
  json_t *v = json_loads(text, JSON_DECODE_ANY, &err);
  if (!v) {
    cli_error("%s:%u:%d: %s", in->name, in->line_no, err.column, err.text);
    return NULL;
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
    cli_error("%s:%u: the line %s, e.g. [\"echo\", \"hi\"]", in->name,
              in->line_no, why);
    json_decref(v);
    return NULL;
  }
  return v;
}

static bool blank(const char *s) {
  return s[strspn(s, " \t\r\n")] == '\0';
}

/* The next item's argv: 1 with *argv set, 0 at the end, or an exit status
 * (negated) after printing why. */
static int input_next(const parallel_args *a, input *in, json_t **argv) {
  ssize_t len;
  while ((len = getline(&in->line, &in->cap, in->f)) >= 0) {
    in->line_no++;
    if (in->spool && fwrite(in->line, 1, (size_t)len, in->spool) !=
                         (size_t)len) {
      cli_error("%s: a temporary file for the list: %s", in->name,
                strerror(errno));
      return -CLI_EXIT_FAILURE;
    }
    /* Lines are bytes: a NUL would end the C string early, so a line that
     * began with one looked blank and one after the array was ignored. */
    const char *nul = memchr(in->line, '\0', (size_t)len);
    if (nul) {
      cli_error("%s:%u:%zu: the line holds a NUL byte", in->name, in->line_no,
                (size_t)(nul - in->line) + 1);
      return -CLI_EXIT_FAILURE;
    }
    if (a->template) { /* every line is one argument, blank or not */
      if (len > 0 && in->line[len - 1] == '\n')
        in->line[len - 1] = '\0';
      /* Result lines and the job log carry argv as JSON text, so an
       * argument must be UTF-8 (jansson refuses anything else, which used
       * to surface as "out of memory"). */
      json_t *probe = json_string(in->line);
      if (!probe) {
        cli_error("%s:%u: the line is not valid UTF-8: cuprum parallel "
                  "takes its arguments as UTF-8 text",
                  in->name, in->line_no);
        return -CLI_EXIT_FAILURE;
      }
      json_decref(probe);
      *argv = template_argv(a, in->line, in->index + 1);
    } else if (blank(in->line)) {
      continue;
    } else if (!(*argv = json_argv(in, in->line))) {
      return -CLI_EXIT_FAILURE;
    }
    if (!*argv) {
      cli_error("out of memory");
      return -CLI_EXIT_FAILURE;
    }
    in->index++;
    return 1;
  }
  if (ferror(in->f)) {
    cli_error("%s: %s", in->name, strerror(errno));
    return -CLI_EXIT_FAILURE;
  }
  return 0;
}

/* Whether anything but blank lines (in --args mode, any line) is left. */
static bool input_more(const parallel_args *a, input *in) {
  while (getline(&in->line, &in->cap, in->f) >= 0)
    if (a->template || !blank(in->line))
      return true;
  return ferror(in->f) != 0;
}

/* ------------------------------------------------------------ the batch */

/* One item pulled by the library, alive until its result is written. */
typedef struct live_item {
  cli_item it;
  size_t pull;       /* the library's index */
  cu_cmd *cmd;
  cu_run_opts opts;  /* the shared options, plus --results files */
  int out_fd, err_fd;
} live_item;

typedef struct batch {
  const parallel_args *a;
  cli_executor *ex;
  const cu_catalogue *cat;
  input in;
  cu_run_opts opts;      /* shared by every item */
  live_item **live;      /* items in flight (n_live of cap_live) */
  size_t n_live, cap_live;
  cli_out *out;
  cli_joblog log;
  cli_progress progress;
  size_t total;          /* items to run (after resume) */
  size_t checked;        /* items in the list when it was checked */
  size_t n_ok, n_failed, n_skipped_resume, n_unknown;
  int error;             /* an exit status that stops the batch */
  int first_status;      /* the first failure's status, or -1 */
  size_t first_index;
  unsigned first_line;
  char *first_program;
} batch;

static bool skip_resumed(const batch *b, size_t seq) {
  const parallel_args *a = b->a;
  return (a->resume || a->resume_failed) &&
         cli_joblog_done(&b->log, seq, a->resume_failed);
}

/* Every item is built against the catalogue before anything runs. */
static int check_all(batch *b) {
  int status = input_open(&b->in, b->a->file, true);
  json_t *argv = NULL;
  int rc;
  while (status == 0 && (rc = input_next(b->a, &b->in, &argv)) != 0) {
    if (rc < 0) {
      status = -rc;
      break;
    }
    cli_item it = {.index = b->in.index - 1, .line = b->in.line_no,
                   .argv = argv, .opts = &b->opts};
    char where[PATH_MAX + 32];
    snprintf(where, sizeof where, "%s:%u: ", b->in.name, b->in.line_no);
    cu_cmd *cmd = NULL;
    status = b->ex->make_cmd(b->ex, b->cat, &it, where, &cmd);
    cu_cmd_free(cmd);
    json_decref(argv);
    if (status != 0)
      break;
    size_t seq = it.index + 1;
    if (skip_resumed(b, seq))
      b->n_skipped_resume++;
    else
      b->total++;
    if (cli_joblog_unknown(&b->log, seq) && !skip_resumed(b, seq)) {
      if (b->n_unknown++ < 20)
        cli_error("%s:%u: item %zu was started but never logged (the batch "
                  "was killed): its outcome is unknown; running it again",
                  b->in.name, b->in.line_no, seq);
    }
  }
  if (b->n_unknown > 20)
    cli_error("%s: %zu items in all were started but never logged",
              b->in.name, b->n_unknown);
  if (status == 0 && b->in.spool && fflush(b->in.spool) != 0) {
    cli_error("%s: a temporary file for the list: %s", b->in.name,
              strerror(errno));
    status = CLI_EXIT_FAILURE;
  }
  b->checked = b->in.index;
  input_close(&b->in);
  return status;
}

/* --results DIR/SEQ/{stdout,stderr}: the whole output, teed by the library
 * while it keeps the capture bounded. */
static int open_results(batch *b, live_item *li) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/%zu", b->a->results_dir, li->it.index + 1);
  if (mkdir(path, 0755) != 0 && errno != EEXIST)
    goto fail;
  snprintf(path, sizeof path, "%s/%zu/stdout", b->a->results_dir,
           li->it.index + 1);
  li->out_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (li->out_fd < 0)
    goto fail;
  snprintf(path, sizeof path, "%s/%zu/stderr", b->a->results_dir,
           li->it.index + 1);
  li->err_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (li->err_fd < 0)
    goto fail;
  /* A remote item's output arrives in its result (write_results). */
  if (!b->ex->remote_streams) {
    li->opts.out =
        (cu_output_opts){.mode = CU_STREAM_TEE, .echo_fd = li->out_fd};
    li->opts.err =
        (cu_output_opts){.mode = CU_STREAM_TEE, .echo_fd = li->err_fd};
  }
  return 0;
fail:
  cli_error("--results: %s: %s", path, strerror(errno));
  return CLI_EXIT_FAILURE;
}

static void live_free(live_item *li) {
  if (!li)
    return;
  cu_cmd_free(li->cmd);
  json_decref(li->it.argv);
  if (li->out_fd >= 0)
    close(li->out_fd);
  if (li->err_fd >= 0)
    close(li->err_fd);
  free(li);
}

static int list_changed(const batch *b, const char *how) {
  cli_error("%s: the file changed while its items ran (%zu were checked, "
            "%s now); nothing after the change was run",
            b->in.name, b->checked, how);
  return -CLI_EXIT_FAILURE;
}

static int source(void *user, size_t pull, cu_batch_item *item) {
  batch *b = user;
  json_t *argv = NULL;
  int rc;
  /* A regular FILE written to while it runs: exactly the items that were
   * checked run, and a list that grew or shrank is an error, not more
   * items run unchecked or fewer run in silence. */
  for (;;) {
    if (b->in.index == b->checked) { /* every checked item is out */
      rc = input_more(b->a, &b->in) ? list_changed(b, "more") : 0;
      break;
    }
    rc = input_next(b->a, &b->in, &argv);
    if (rc == 0)
      rc = list_changed(b, "fewer");
    if (rc <= 0 || !skip_resumed(b, b->in.index))
      break;
    argv = (json_decref(argv), NULL);
  }
  if (rc <= 0) {
    b->error = rc < 0 ? -rc : 0;
    return rc < 0 ? CU_EINVAL : 0;
  }
  live_item *li = calloc(1, sizeof *li);
  if (b->n_live == b->cap_live) {
    size_t cap = b->cap_live ? b->cap_live * 2 : 16;
    live_item **p = realloc(b->live, cap * sizeof *p);
    if (p) {
      b->live = p;
      b->cap_live = cap;
    }
  }
  if (!li || b->n_live == b->cap_live) {
    free(li);
    json_decref(argv);
    cli_error("out of memory");
    b->error = CLI_EXIT_FAILURE;
    return CU_ENOMEM;
  }
  *li = (live_item){.it = {.index = b->in.index - 1, .line = b->in.line_no,
                           .argv = argv, .opts = &li->opts,
                           .timeout_ms = b->a->timeout_ms},
                    .pull = pull, .opts = b->opts, .out_fd = -1,
                    .err_fd = -1};
  char where[PATH_MAX + 32];
  snprintf(where, sizeof where, "%s:%u: ", b->in.name, b->in.line_no);
  int status = b->ex->make_cmd(b->ex, b->cat, &li->it, where, &li->cmd);
  if (status == 0 && b->ex->run_opts)
    li->opts = *b->ex->run_opts(b->ex, &li->it);
  if (status == 0 && b->ex->remote_timeout)
    li->opts.timeout_ms = 0; /* the node enforces it (executor.h) */
  /* A remote item's files are opened when its result arrives
   * (write_results): no descriptors held while it runs elsewhere. */
  if (status == 0 && b->a->results_dir && !b->ex->remote_streams)
    status = open_results(b, li);
  if (status != 0) { /* the file changed since it was checked */
    live_free(li);
    b->error = status;
    return CU_EINVAL;
  }
  b->live[b->n_live++] = li;
  cli_joblog_started(&b->log, li->it.index + 1);
  b->progress.running++;
  *item = (cu_batch_item){.cmd = li->cmd, .opts = &li->opts};
  return 1;
}

static live_item *take_live(batch *b, size_t pull) {
  for (size_t i = 0; i < b->n_live; i++)
    if (b->live[i]->pull == pull) {
      live_item *li = b->live[i];
      b->live[i] = b->live[--b->n_live];
      return li;
    }
  return NULL;
}

static void note_first_failure(batch *b, const live_item *li, int status) {
  if (b->first_status >= 0)
    return;
  b->first_status = status;
  b->first_index = li->it.index;
  b->first_line = li->it.line;
  b->first_program =
      strdup(json_string_value(json_array_get(li->it.argv, 0)));
}

/* --results for an executor with remote streams: the item's output as its
 * result carried it (bounded by --max-output, as the result line says);
 * with --retries, the last attempt's. */
static int write_results(batch *b, live_item *li, const cli_streams *st) {
  if (!b->ex->remote_streams || !b->a->results_dir)
    return 0;
  int status = open_results(b, li);
  if (status != 0)
    return status;
  int err = cli_write_all(li->out_fd, st->out, st->out_len);
  if (err == 0)
    err = cli_write_all(li->err_fd, st->err, st->err_len);
  if (err == 0)
    return 0;
  cli_error("--results %s/%zu: %s", b->a->results_dir, li->it.index + 1,
            strerror(err));
  return CLI_EXIT_FAILURE;
}

static void sink(void *user, cu_item_result *ir) {
  batch *b = user;
  live_item *li = take_live(b, ir->index);
  json_t *fields = json_object();
  cli_streams st = {0};
  if (!li || !fields ||
      b->ex->result_fields(b->ex, &li->it, ir, fields, &st) != 0 ||
      cli_out_item(b->out, &li->it, ir->retries, fields, &st, &b->log) != 0) {
    if (b->error == 0) {
      cli_error("out of memory");
      b->error = CLI_EXIT_FAILURE;
    }
  } else {
    int wrote = write_results(b, li, &st);
    if (wrote != 0 && b->error == 0)
      b->error = wrote;
    const char *state = json_string_value(json_object_get(fields, "state"));
    bool ok = json_is_true(json_object_get(fields, "ok"));
    if (ok)
      b->n_ok++;
    else
      b->n_failed++;
    if (!ok && state && (strcmp(state, "done") == 0 ||
                         strcmp(state, "failed_to_start") == 0))
      note_first_failure(
          b, li, (int)json_integer_value(json_object_get(fields, "status")));
    b->progress.done++;
    b->progress.failed += !ok;
  }
  b->progress.running--;
  cli_progress_draw(&b->progress, false);
  json_decref(fields);
  live_free(li);
  cu_item_result_free(ir);
}

static unsigned default_jobs(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (unsigned)n : 1;
}

static int batch_status(batch *b, const cu_parallel_result *r) {
  size_t skipped = r->n_skipped +
                   (r->n_items < b->total ? b->total - r->n_items : 0);
  if (b->n_failed == 0 && skipped == 0)
    return CLI_EXIT_OK;
  cli_error("%s: %zu of %zu ok, %zu failed, %zu skipped", b->in.name,
            b->n_ok, b->total, b->n_failed, skipped);
  if (r->cancelled && cli_caught_signal())
    return CLI_EXIT_SIGNAL_BASE + cli_caught_signal();
  if (b->first_status >= 0) {
    cli_error("%s:%u: first failure: '%s' (index %zu), status %d", b->in.name,
              b->first_line, b->first_program ? b->first_program : "?",
              b->first_index, b->first_status);
    return b->first_status;
  }
  if (r->timed_out) {
    cli_error("%s: the deadline of %s s expired", b->in.name,
              b->a->deadline_text);
    return CLI_EXIT_TIMEOUT;
  }
  return b->n_failed || r->halted ? CLI_EXIT_FAILURE : CLI_EXIT_OK;
}

static int run_stream(batch *b) {
  const parallel_args *a = b->a;
  cli_observer obs;
  int status = cli_observe_begin(&a->observe, &obs);
  if (status != 0)
    return cli_observe_end(&obs, status);
  cu_parallel_stream_opts so = {
      .size = sizeof so, .source = source, .source_user = b, .sink = sink,
      .sink_user = b, .limit = a->jobs ? a->jobs : MAX_JOBS,
      .deadline_ms = a->deadline_ms, .keep_order = a->keep_order,
      .halt_when = a->halt_when, .halt_on = a->halt_on,
      .halt_count = a->halt_count, .halt_percent = a->halt_percent,
      .total_hint = b->total, .retries = a->retries,
      .retry_backoff_ms = a->backoff_ms};
  if (so.halt_percent && !so.total_hint)
    so.halt_when = CU_HALT_NEVER; /* nothing to run */
  status = cli_cancel_begin(&so.cancel);
  if (status == 0)
    status = cli_out_begin(&b->out);
  if (status == 0)
    status = input_open(&b->in, a->file, false);
  if (status != 0) {
    cli_cancel_end();
    return cli_observe_end(&obs, status);
  }
  cu_parallel_result *r = NULL;
  int rc = cu_parallel_stream(&so, &r);
  cli_cancel_end();
  if (rc == 0 && b->ex->finish)
    b->ex->finish(b->ex, r->cancelled || r->timed_out || r->halted);
  cli_progress_draw(&b->progress, true);
  int out_status = cli_out_end(b->out);
  b->out = NULL;
  if (b->error)
    status = b->error;
  else if (rc != 0) {
    cli_error("%s: %s", b->in.name, cu_last_error());
    status = CLI_EXIT_FAILURE;
  } else
    status = out_status ? out_status : batch_status(b, r);
  r = cu_parallel_result_free(r);
  input_close(&b->in);
  return cli_observe_end(&obs, status);
}

/* Whether cuprum has a controlling terminal (opening /dev/tty succeeds).
 * Without one, its commands have none either. */
static bool has_terminal(void) {
  int fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC);
  if (fd < 0)
    return false;
  close(fd);
  return true;
}

static int run_parallel(parallel_args *a) {
  batch b = {.a = a, .ex = cli_executor_local(), .first_status = -1,
             .log = {.fd = -1, .started_fd = -1}};
  /* With a controlling terminal, each command in a session of its own:
   * none can stop on the terminal (cuprum run's default too; see
   * docs/cli.md). Without one there is no terminal to stop on, and each
   * command only gets a process group of its own (the library's default):
   * a new session costs the kernel a scheduling autogroup per command,
   * which made a batch of tiny commands up to 1.7x slower on a loaded
   * machine (docs/performance.md, "cuprum parallel"). */
  b.opts = (cu_run_opts){.size = sizeof(cu_run_opts),
                         .in = {.mode = CU_STDIN_NULL},
                         .timeout_ms = a->timeout_ms,
                         .grace_ms = cli_grace(a->grace_ms),
                         .max_capture = a->max_output,
                         .overflow = CU_OVERFLOW_TRUNCATE,
                         .new_session = has_terminal()};
  /* Under Slurm they are the item's, applied by `cuprum exec-item` on the
   * node (keep_for_node); the local srun runs with neither. */
  if (!a->slurm) {
    cli_contain_apply(&a->contain, &b.opts);
    cli_confine_apply(&a->confine, &b.opts);
  }
  b.progress.on = a->progress < 0 ? isatty(STDERR_FILENO) : a->progress > 0;
  cu_catalogue *cat = NULL;
  int status = cli_catalogue_build(&a->cat, &cat);
  b.cat = cat;
  cli_executor *slurm = NULL;
  if (status == 0 && a->slurm) {
    a->so.grace_ms = a->grace_ms;
    a->so.max_output = a->max_output;
    status = cli_executor_slurm_new(&a->so, &slurm);
    if (status == 0)
      b.ex = slurm;
  }
  if (status == 0 && a->joblog)
    status = cli_joblog_open(&b.log, a->joblog, a->resume || a->resume_failed,
                             a->retries > 0);
  if (status == 0 && a->results_dir && mkdir(a->results_dir, 0755) != 0 &&
      errno != EEXIST) {
    cli_error("--results %s: %s", a->results_dir, strerror(errno));
    status = CLI_EXIT_FAILURE;
  }
  if (status == 0)
    status = check_all(&b);
  b.progress.total = b.total;
  if (status == 0)
    status = run_stream(&b);
  for (size_t i = 0; i < b.n_live; i++)
    live_free(b.live[i]);
  free(b.live);
  free(b.in.line);
  if (b.in.spool)
    fclose(b.in.spool);
  free(b.first_program);
  cli_joblog_close(&b.log);
  cli_executor_slurm_free(slurm);
  cu_catalogue_unref(cat);
  return status;
}

int cli_cmd_parallel(int argc, char **argv) {
  parallel_args a = {.jobs = default_jobs(), .grace_ms = -1,
                     .max_output = DEFAULT_MAX_OUTPUT, .backoff_ms = 100,
                     .progress = -1};
  int status = parse_args(argc, argv, &a);
  if (status == 0)
    status = run_parallel(&a);
  else if (status < 0)
    status = CLI_EXIT_OK; /* --help */
  cli_catalogue_opts_free(&a.cat);
  cli_observe_opts_free(&a.observe);
  slurm_opts_free(&a.so);
  return status;
}
