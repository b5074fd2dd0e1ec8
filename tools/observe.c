/* SPDX-License-Identifier: MIT */
/* --events, --log and -x: libcuprum's observers and policy, attached for
 * the life of a subcommand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "observe.h"
#include "write_all.h"

static int parse_log_format(const char *sub, const char *arg,
                            cu_log_format *ret) {
  static const struct {
    const char *name;
    cu_log_format format;
  } formats[] = {{"human", CU_LOG_HUMAN},
                 {"logfmt", CU_LOG_LOGFMT},
                 {"json", CU_LOG_JSON}};
  for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
    if (strcmp(arg, formats[i].name) == 0) {
      *ret = formats[i].format;
      return 0;
    }
  }
  return cli_usage_error(sub, "--log: '%s' is not a format (human, logfmt "
                         "or json)", arg);
}

int cli_observe_option(cli_observe_opts *o, const char *sub, int opt,
                       const char *arg) {
  switch (opt) {
  case CLI_OPT_EVENTS:
    if (arg[0] == '\0')
      return cli_usage_error(sub, "--events: empty FILE (- for stderr)");
    o->events = arg;
    return 0;
  case CLI_OPT_LOG:
    o->log = true;
    return parse_log_format(sub, arg, &o->log_format);
  case 'x':
    o->xtrace = true;
    return 0;
  default:
    return -1;
  }
}

/* One JSON line per event, written whole (the events of concurrent runs
 * arrive on the one thread that drives them, one at a time). */
static int write_event(void *data, const cu_event *ev) {
  cli_observer *s = data;
  char *line = NULL;
  if (cu_event_format(ev, CU_LOG_JSON, &line) != 0)
    return 1;
  size_t n = strlen(line);
  line[n] = '\n'; /* replaces the terminator: written by length */
  /* Complete or failed, never cut short: a FILE of our own goes straight
   * to its fd through cli_write_all() (short writes, EINTR, a FIFO opened
   * non-blocking elsewhere); "-" is stderr, which writes through it too
   * (cli_stdio_init). */
  int ok;
  if (s->events == stderr) {
    ok = fwrite(line, 1, n + 1, stderr) == n + 1 && fflush(stderr) == 0;
  } else {
    ok = cli_write_all(fileno(s->events), line, n + 1) == 0;
  }
  free(line);
  return ok ? 0 : 1;
}

static int open_events(const char *path, cli_observer *s) {
  s->events_path = path;
  s->events = strcmp(path, "-") == 0 ? stderr : fopen(path, "we");
  if (!s->events) {
    cli_error("--events %s: %s", path, strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  /* Every event, lines included, with their noise flag computed. */
  unsigned flags = CU_OBSERVE_LINES | CU_OBSERVE_NOISE;
  if (cu_observe(write_event, s, flags, &s->events_hook) != 0) {
    cli_error("--events: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

int cli_observe_begin(const cli_observe_opts *o, cli_observer *ret) {
  memset(ret, 0, sizeof *ret);
  if (o->xtrace && cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_ON})) {
    cli_error("-x: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  if (o->events && open_events(o->events, ret) != 0)
    return CLI_EXIT_FAILURE;
  cu_log_opts log = {.size = sizeof(cu_log_opts),
                     .format = o->log_format,
                     .sink = CU_LOG_SINK_STDERR};
  if (o->log && cu_log_attach(&log, &ret->log_hook) != 0) {
    cli_error("--log: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

int cli_observe_end(cli_observer *s, int status) {
  unsigned long lost = cu_hook_failures(s->events_hook);
  cu_hook_detach(s->events_hook);
  s->events_hook = cu_hook_unref(s->events_hook);
  cu_hook_detach(s->log_hook);
  s->log_hook = cu_hook_unref(s->log_hook);
  if (s->events && s->events != stderr && fclose(s->events) != 0)
    lost++;
  s->events = NULL;
  if (lost > 0) {
    cli_error("--events %s: %lu event%s could not be written", s->events_path,
              lost, lost == 1 ? "" : "s");
    if (status == 0)
      status = CLI_EXIT_FAILURE;
  }
  return status;
}
