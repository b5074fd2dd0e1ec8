/* SPDX-License-Identifier: MIT */
/* --events, --log and -x: libcuprum's observers and policy, attached for
 * the life of a subcommand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "observe.h"
#include "write_all.h"

#ifdef CUPRUM_HAVE_OTEL
#include <cuprum/otel.h>
#endif

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
  case CLI_OPT_METRICS:
  case CLI_OPT_TRACE_FILE:
    if (arg[0] == '\0')
      return cli_usage_error(sub, "--%s: empty FILE", opt == CLI_OPT_METRICS
                                                          ? "metrics"
                                                          : "trace-file");
    *(opt == CLI_OPT_METRICS ? &o->metrics : &o->trace_file) = arg;
    return 0;
  case CLI_OPT_TRACE_ENDPOINT:
    if (strncmp(arg, "http://", 7) != 0 && strncmp(arg, "https://", 8) != 0)
      return cli_usage_error(sub, "--trace-endpoint: '%s' is not an http:// "
                             "or https:// URL", arg);
    o->trace_endpoint = arg;
    return 0;
  case CLI_OPT_TRACE_ARGS:
    o->trace_args = true;
    return 0;
  case CLI_OPT_REDACT: {
    if (arg[0] == '\0')
      return cli_usage_error(sub, "--redact: empty PATTERN");
    const char **v = realloc(o->redact, (o->n_redact + 1) * sizeof *v);
    if (!v) {
      cli_error("out of memory");
      return CLI_EXIT_FAILURE;
    }
    o->redact = v;
    o->redact[o->n_redact++] = arg;
    return 0;
  }
  default:
    return -1;
  }
}

void cli_observe_opts_free(cli_observe_opts *o) {
  free(o->redact);
  o->redact = NULL;
  o->n_redact = 0;
}

/* One JSON line per event, written whole (the events of concurrent runs
 * arrive on the one thread that drives them, one at a time). */
static int write_event(void *data, const cu_event *ev) {
  cli_observer *s = data;
  char *line = NULL;
  if (cu_event_format_redacted(ev, CU_LOG_JSON, s->redact, &line) != 0)
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

static int begin_metrics(const cli_observe_opts *o, cli_observer *s) {
  cu_metrics_opts mo = CU_METRICS_OPTS_INIT;
  mo.redact = s->redact;
  s->metrics_path = o->metrics;
  if (cu_metrics_new(&mo, &s->metrics) != 0 ||
      cu_metrics_attach(s->metrics, &s->metrics_hook) != 0) {
    cli_error("--metrics: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static bool env_is(const char *name, const char *value) {
  const char *v = getenv(name);
  return v && strcasecmp(v, value) == 0;
}

static bool env_set(const char *name) {
  const char *v = getenv(name);
  return v && *v;
}

/* Traces go over OTLP/HTTP when --trace-endpoint is given, or when the
 * environment configures an OTLP exporter the way OpenTelemetry SDKs read
 * it (OTEL_TRACES_EXPORTER=otlp, or an OTEL_EXPORTER_OTLP_*ENDPOINT), unless
 * OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none. */
static bool want_http(const cli_observe_opts *o) {
  if (o->trace_endpoint)
    return true;
  if (env_is("OTEL_SDK_DISABLED", "true") ||
      env_is("OTEL_TRACES_EXPORTER", "none"))
    return false;
  return env_is("OTEL_TRACES_EXPORTER", "otlp") ||
         env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ||
         env_set("OTEL_EXPORTER_OTLP_ENDPOINT");
}

static int begin_transport(const cli_observe_opts *o, cli_observer *s,
                           cu_tracer_opts *to) {
#ifdef CUPRUM_HAVE_OTEL
  cu_otel_http_opts ho = CU_OTEL_HTTP_OPTS_INIT;
  ho.endpoint = o->trace_endpoint;
  cu_otel_http *h = NULL;
  int rc = cu_otel_http_new(&ho, &h);
  if (rc != 0) {
    cli_error("--trace-endpoint: %s%s", cu_strerror(rc),
              rc == CU_ESYS ? " (is libcurl.so.4 installed? Debian: libcurl4)"
                            : "");
    return CLI_EXIT_FAILURE;
  }
  s->transport = h;
  to->export_fn = cu_otel_http_export;
  to->export_data = h;
  return 0;
#else
  (void)s;
  (void)to;
  cli_error("%s: this cuprum was built without libcuprum-otel (libcurl was "
            "missing); use --trace-file", o->trace_endpoint
                                              ? "--trace-endpoint"
                                              : "OTEL_EXPORTER_OTLP_*");
  return CLI_EXIT_FAILURE;
#endif
}

static int begin_traces(const cli_observe_opts *o, cli_observer *s) {
  cu_tracer_opts to = CU_TRACER_OPTS_INIT;
  to.file = o->trace_file;
  to.command_args = o->trace_args;
  to.redact = s->redact;
  /* A command-line tool must not linger at exit: 2 s for the last spans. */
  to.shutdown_timeout_ms = 2000;
  if (want_http(o) && begin_transport(o, s, &to) != 0)
    return CLI_EXIT_FAILURE;
  if (!to.file && !to.export_fn)
    return 0;
  if (cu_tracer_new(&to, &s->tracer) != 0 ||
      cu_tracer_attach(s->tracer, &s->tracer_hook) != 0) {
    cli_error("tracing: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static int begin_telemetry(const cli_observe_opts *o, cli_observer *s) {
  cu_redact_opts ro = CU_REDACT_OPTS_INIT;
  ro.patterns = o->redact;
  ro.n_patterns = o->n_redact;
  if (cu_redact_new(&ro, &s->redact) != 0) {
    cli_error("--redact: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  if (o->metrics && begin_metrics(o, s) != 0)
    return CLI_EXIT_FAILURE;
  return begin_traces(o, s);
}

int cli_observe_begin(const cli_observe_opts *o, cli_observer *ret) {
  memset(ret, 0, sizeof *ret);
  if (begin_telemetry(o, ret) != 0)
    return CLI_EXIT_FAILURE;
  if (o->xtrace && cu_echo_set(&(cu_echo){.cmd = CU_SWITCH_ON})) {
    cli_error("-x: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  if (o->events && open_events(o->events, ret) != 0)
    return CLI_EXIT_FAILURE;
  cu_log_opts log = {.size = sizeof(cu_log_opts),
                     .format = o->log_format,
                     .sink = CU_LOG_SINK_STDERR,
                     .redact = ret->redact};
  if (o->log && cu_log_attach(&log, &ret->log_hook) != 0) {
    cli_error("--log: %s", cu_last_error());
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

/* Metrics are written once, at exit, after every run has ended. */
static int end_telemetry(cli_observer *s, int status) {
  cu_hook_detach(s->metrics_hook);
  s->metrics_hook = cu_hook_unref(s->metrics_hook);
  if (s->metrics && cu_metrics_write_textfile(s->metrics, s->metrics_path)) {
    cli_error("--metrics: %s", cu_last_error());
    if (status == 0)
      status = CLI_EXIT_FAILURE;
  }
  s->metrics = cu_metrics_free(s->metrics);
  cu_hook_detach(s->tracer_hook);
  s->tracer_hook = cu_hook_unref(s->tracer_hook);
  /* A dead or slow collector costs at most the shutdown budget and never
   * changes the exit status: telemetry must not fail a run. */
  uint64_t dropped = 0;
  if (s->tracer) {
    cu_tracer *t = s->tracer;
    if (cu_tracer_flush(t, 2000) != 0) {
      /* Counted below as dropped spans; the exit status stays the run's. */
    }
    dropped = cu_tracer_dropped(t);
    s->tracer = cu_tracer_free(t);
  }
  if (dropped)
    cli_error("tracing: %llu span%s could not be exported",
              (unsigned long long)dropped, dropped == 1 ? "" : "s");
#ifdef CUPRUM_HAVE_OTEL
  s->transport = cu_otel_http_free(s->transport);
#endif
  s->redact = cu_redact_free(s->redact);
  return status;
}

int cli_observe_end(cli_observer *s, int status) {
  unsigned long lost = cu_hook_failures(s->events_hook);
  cu_hook_detach(s->events_hook);
  s->events_hook = cu_hook_unref(s->events_hook);
  cu_hook_detach(s->log_hook);
  s->log_hook = cu_hook_unref(s->log_hook);
  status = end_telemetry(s, status);
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
