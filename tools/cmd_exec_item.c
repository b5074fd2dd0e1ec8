/* SPDX-License-Identifier: MIT */
/*
 * `cuprum exec-item`: the node side of `cuprum parallel --executor slurm`
 * (docs/scale-out.md). Reads ONE batch item as a JSON object from stdin,
 * checks it against a catalogue pinned to the absolute path the submitting
 * host resolved, runs it through libcuprum (timeout, TERM then KILL of its
 * process group after the grace, output capture), and writes ONE result
 * JSON line to stdout, with the host it ran on. Exits with the item's
 * status as `cuprum run` would (code, 128+N, 124, 126, 127; 125 for a bad
 * item), so srun's own exit status is the item's.
 *
 * The item (item_json() in executor_slurm.c writes it):
 *   {"v": 2, "program": NAME, "path": "/abs/NAME", "argv": [NAME, ARG...],
 *    "timeout_ms": N, "max_output": N[, "grace_ms": N][, "confine": {...}]}
 * (timeout_ms and max_output 0 = none; grace_ms as --grace, absent = the
 * default; confine: the program's project's confinement, in the catalogue
 * file's form, kept by the pinned catalogue). The containment and
 * confinement options of `cuprum parallel` (--contain, --limit,
 * --landlock-*, ...) come as this command's own arguments and apply to
 * the item as they would locally. Version 2 added "confine"; an unknown
 * key is refused, so a node older than its item never runs it with less
 * than it asks for.
 * argv never passes through a shell or Slurm's tokenisers: it is JSON on
 * stdin, read here, handed to execve() as is.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>

#include "catalogue_file.h"
#include "result_fields.h"
#include "run.h"
#include "write_all.h"

#define SUB "exec-item"

typedef struct exec_item {
  const char *program; /* catalogue name (argv[0]) */
  const char *path;    /* absolute path pinned at submission */
  const char **argv;   /* argv[0] = program */
  size_t argc;
  int64_t timeout_ms;
  int64_t grace_ms;
  size_t max_output;
  json_t *confine;     /* the project's confinement, or NULL (borrowed) */
} exec_item;

/* The options `cuprum parallel` forwards (executor_slurm.c). */
typedef struct exec_args {
  cli_contain_opts contain;
  cli_confine_opts confine;
} exec_args;

static int bad_item(const char *why) {
  cli_error("%s: the item on stdin %s", SUB, why);
  return CLI_EXIT_FAILURE;
}

/* An optional non-negative integer; absent = `absent`. */
static bool get_int(const json_t *o, const char *key, int64_t max,
                    int64_t absent, int64_t *ret) {
  const json_t *v = json_object_get(o, key);
  if (!v) {
    *ret = absent;
    return true;
  }
  if (!json_is_integer(v) || json_integer_value(v) < 0 ||
      json_integer_value(v) > max)
    return false;
  *ret = (int64_t)json_integer_value(v);
  return true;
}

/* Validate the decoded item; strings stay owned by `o`. */
static int decode_item(const json_t *o, exec_item *it) {
  if (!json_is_object(o))
    return bad_item("is not a JSON object");
  const json_t *v = json_object_get(o, "v");
  if (!json_is_integer(v) || json_integer_value(v) != 2)
    return bad_item("has no \"v\": 2 (written by another cuprum version?)");
  static const char *const known[] = {"v",          "program",  "path",
                                      "argv",       "timeout_ms",
                                      "max_output", "grace_ms", "confine",
                                      NULL};
  const char *unknown = cli_json_unknown_key(o, known);
  if (unknown) {
    cli_error("%s: the item on stdin has an unknown key \"%s\" (written "
              "by a newer cuprum?)", SUB, unknown);
    return CLI_EXIT_FAILURE;
  }
  it->program = json_string_value(json_object_get(o, "program"));
  it->path = json_string_value(json_object_get(o, "path"));
  if (!it->program || !it->path || it->path[0] != '/')
    return bad_item("needs \"program\" and an absolute \"path\"");
  const json_t *argv = json_object_get(o, "argv");
  if (!json_is_array(argv) || json_array_size(argv) == 0)
    return bad_item("needs a non-empty \"argv\" array");
  int64_t max_output = 0;
  /* grace_ms as --grace: absent = the default, 0 = KILL at once. */
  if (!get_int(o, "timeout_ms", CU_TIMEOUT_MAX_MS, 0, &it->timeout_ms) ||
      !get_int(o, "grace_ms", CU_TIMEOUT_MAX_MS, -1, &it->grace_ms) ||
      !get_int(o, "max_output", INT64_MAX / 2, 0, &max_output))
    return bad_item("has a bad timeout_ms, grace_ms or max_output");
  it->max_output = (size_t)max_output;
  it->argc = json_array_size(argv);
  it->argv = calloc(it->argc + 1, sizeof *it->argv);
  if (!it->argv)
    return bad_item("is too large (out of memory)");
  for (size_t i = 0; i < it->argc; i++) {
    it->argv[i] = json_string_value(json_array_get(argv, i));
    if (!it->argv[i])
      return bad_item("has an argv element that is not a string");
  }
  if (it->argc == 0 || strcmp(it->argv[0], it->program) != 0)
    return bad_item("names a program other than its argv[0]");
  it->confine = json_object_get(o, "confine");
  if (it->confine && !json_is_object(it->confine))
    return bad_item("has a \"confine\" that is not an object");
  return 0;
}

/* The catalogue on this node: the one program, pinned to the path the
 * submitting host resolved, with its project's confinement. Nothing else
 * can run. Built as a one-project catalogue file would be, so "confine"
 * is read by the same code as on the submitting host. */
static int pinned_catalogue(const exec_item *it, cu_catalogue **ret) {
  json_t *doc = json_pack("{s:b, s:[{s:s, s:[{s:s, s:s}]}]}",
                          "include_default", 0, "projects", "name",
                          "pinned-at-submission", "programs", "name",
                          it->program, "path", it->path);
  json_t *project = json_array_get(json_object_get(doc, "projects"), 0);
  if (!project ||
      (it->confine && json_object_set(project, "confine", it->confine))) {
    json_decref(doc);
    cli_error("%s: out of memory", SUB);
    return CLI_EXIT_FAILURE;
  }
  int rc = catalogue_file_load_json(doc, SUB ": the item", ret);
  json_decref(doc);
  return rc == 0 ? 0 : CLI_EXIT_FAILURE;
}

static json_t *stream_json(const cu_result *r, cu_stream_id which) {
  if (!r)
    return json_string("");
  size_t len = 0;
  const char *text = cu_result_text_len(r, which, &len);
  return text ? json_stringn(text, len) : json_string("");
}

/* The result line: the fields `cuprum parallel` prints for a local item
 * (result_fields.h), plus where it ran. */
static json_t *result_json(const cu_result *r, const char *error) {
  char host[256] = "";
  if (gethostname(host, sizeof host - 1) != 0)
    host[0] = '\0';
  const char *job = getenv("SLURM_JOB_ID");
  bool ran = r && r->pid > 0 && !error;
  json_t *o = json_object();
  if (!o)
    return NULL;
  int bad = 0;
  bad |= json_object_set_new(o, "host", json_string(host));
  bad |= json_object_set_new(o, "slurm_job_id",
                             job ? json_string(job) : json_null());
  bad |= json_object_set_new(o, "ran", json_boolean(ran));
  bad |= json_object_set_new(o, "cancelled",
                             json_boolean(r && r->cancelled));
  bad |= cli_outcome_fields(o, r, ran, ran && r->ok);
  bad |= json_object_set_new(o, "stdout", stream_json(r, CU_STDOUT));
  bad |= json_object_set_new(o, "stderr", stream_json(r, CU_STDERR));
  bad |= cli_usage_fields(o, r);
  if (error)
    bad |= json_object_set_new(o, "error", json_string(error));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

static int write_result(json_t *o) {
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15))
                 : NULL;
  json_decref(o);
  if (!text) {
    cli_error("%s: out of memory", SUB);
    return CLI_EXIT_FAILURE;
  }
  size_t len = strlen(text);
  text[len] = '\n'; /* replaces the NUL: written by length */
  int err = cli_write_all(STDOUT_FILENO, text, len + 1);
  free(text);
  return err ? cli_write_error(err) : 0;
}

/* The result line of an item that could not even be started here: the
 * driver reports it failed to start, with this process's stderr (which
 * says why) as its stderr. Returns `status`, or a write error's. */
static int not_run(int status) {
  int wrote = write_result(result_json(
      NULL, "cuprum exec-item could not run the item on this node (its "
            "stderr says why)"));
  return wrote ? wrote : status;
}

static int run_item(const exec_item *it, const exec_args *a) {
  cu_catalogue *cat = NULL;
  int status = pinned_catalogue(it, &cat);
  cu_cmd *cmd = NULL;
  if (status == 0)
    status = cli_build_command(cat, it->argv, (int)it->argc, SUB ": ", &cmd);
  if (status == 0 && strcmp(cu_cmd_path(cmd), it->path) != 0) {
    cli_error("%s: '%s' resolved to %s, not the pinned %s", SUB, it->program,
              cu_cmd_path(cmd), it->path);
    status = CLI_EXIT_FAILURE;
  }
  cu_cancel *cancel = NULL;
  if (status == 0)
    status = cli_cancel_begin(&cancel);
  if (status != 0) {
    cu_cmd_free(cmd);
    cu_catalogue_unref(cat);
    return not_run(status);
  }
  /* As `cuprum parallel` runs a local item: /dev/null in, a session of its
   * own, output captured; Slurm's scancel --signal=TERM reaches this
   * process, which cancels the run (TERM, then KILL after the grace). */
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .in = {.mode = CU_STDIN_NULL},
                   .timeout_ms = it->timeout_ms,
                   .grace_ms = cli_grace(it->grace_ms),
                   .max_capture = it->max_output,
                   .overflow = CU_OVERFLOW_TRUNCATE,
                   .cancel = cancel,
                   .new_session = true};
  cli_contain_apply(&a->contain, &o);
  cli_confine_apply(&a->confine, &o);
  cu_result *r = NULL;
  int rc = cu_run(cmd, &o, &r);
  cli_cancel_end();
  int wrote = write_result(result_json(r, rc != 0 ? cu_last_error() : NULL));
  if (rc != 0)
    status = cli_status_not_run(rc, r ? r->spawn_step : CU_STEP_NONE);
  else
    status = cli_status_of(r);
  r = cu_result_free(r);
  cu_cmd_free(cmd);
  cu_catalogue_unref(cat);
  return wrote ? wrote : status;
}

static void print_help(void) {
  fputs("usage: cuprum exec-item [CONTAIN/CONFINE OPTIONS] < ITEM.json\n"
        "\n"
        "The node side of `cuprum parallel --executor slurm` (see\n"
        "docs/scale-out.md): run the one item read from stdin against a\n"
        "catalogue pinned to its absolute path; print one result JSON\n"
        "line; exit with the item's status. The options are `cuprum\n"
        "parallel`'s containment and confinement options, which it passes\n"
        "on:\n"
        "\n" CLI_CONTAIN_HELP CLI_CONFINE_HELP,
        stdout);
}

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    CLI_CONTAIN_LONG_OPTIONS,
    CLI_CONFINE_LONG_OPTIONS,
    {NULL, 0, NULL, 0},
};

static int parse_option(void *ctx, int opt, const char *arg) {
  exec_args *a = ctx;
  int rc = cli_contain_option(&a->contain, SUB, opt, arg);
  if (rc < 0)
    rc = cli_confine_option(&a->confine, SUB, opt, arg);
  return rc >= 0 ? rc : cli_usage_error(SUB, "unexpected option");
}

int cli_cmd_exec_item(int argc, char **argv) {
  exec_args a = {0};
  int rc = cli_parse_options(argc, argv, SUB, "+:h", long_options,
                             parse_option, &a, print_help);
  if (rc < 0)
    return CLI_EXIT_OK; /* --help */
  if (rc != 0)
    return rc;
  if (optind < argc)
    return cli_usage_error(SUB, "takes no operands (the item is on stdin)");
  json_error_t err;
  json_t *o = json_loadf(stdin, JSON_REJECT_DUPLICATES, &err);
  if (!o) {
    cli_error("%s: stdin:%d:%d: %s", SUB, err.line, err.column, err.text);
    return not_run(CLI_EXIT_FAILURE);
  }
  exec_item it = {0};
  int status = decode_item(o, &it);
  if (status == 0)
    status = run_item(&it, &a);
  else
    status = not_run(status);
  free(it.argv);
  json_decref(o);
  return status;
}
