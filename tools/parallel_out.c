/* SPDX-License-Identifier: MIT */
/* `cuprum parallel`: per-command results as JSON lines, and the status. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parallel_out.h"
#include "run.h"

static const char *state_name(cu_item_state state) {
  switch (state) {
  case CU_ITEM_DONE:
    return "done";
  case CU_ITEM_FAILED_TO_START:
    return "failed_to_start";
  case CU_ITEM_TERMINATED:
    return "terminated";
  default:
    return "skipped";
  }
}

/* Captured output as a JSON string: the library's UTF-8 view (invalid
 * bytes become U+FFFD), so it is always valid JSON. */
static json_t *text_value(const cu_result *r, cu_stream_id which) {
  if (!r)
    return json_string(""); /* a skipped item has no result */
  size_t len = 0;
  const char *text = cu_result_text_len(r, which, &len);
  return text ? json_stringn(text, len) : NULL;
}

static json_t *int_or_null(bool present, int value) {
  return present ? json_integer(value) : json_null();
}

static json_t *item_json(const batch_line *l, size_t i,
                         const cu_item_result *ir) {
  static const cu_result none; /* the fields of a skipped item */
  const cu_result *res = ir->result ? ir->result : &none;
  bool ran = ir->state == CU_ITEM_DONE || ir->state == CU_ITEM_TERMINATED;
  /* Milliseconds to the microsecond: printed exactly (see the dump). */
  double ms = round((double)res->duration_ns / 1e3) / 1e3;
  json_t *o = json_object();
  int bad = !o;
  bad |= json_object_set_new(o, "index", json_integer((json_int_t)i));
  bad |= json_object_set_new(o, "line", json_integer(l->line));
  bad |= json_object_set(o, "argv", l->argv);
  bad |= json_object_set_new(o, "state", json_string(state_name(ir->state)));
  bad |= json_object_set_new(o, "exit_code",
                             int_or_null(ran && res->exit_code >= 0,
                                         res->exit_code));
  bad |= json_object_set_new(o, "signal",
                             int_or_null(ran && res->term_signal > 0,
                                         res->term_signal));
  bad |= json_object_set_new(o, "ok", json_boolean(ir->ok));
  bad |= json_object_set_new(o, "timed_out", json_boolean(ran && res->timed_out));
  bad |= json_object_set_new(o, "duration_ms",
                             ran ? json_real(ms) : json_null());
  bad |= json_object_set_new(o, "stdout", text_value(ir->result, CU_STDOUT));
  bad |= json_object_set_new(o, "stderr", text_value(ir->result, CU_STDERR));
  if (ir->state == CU_ITEM_FAILED_TO_START)
    bad |= json_object_set_new(
        o, "error",
        json_string(ir->message ? ir->message : cu_strerror(ir->error)));
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

int cli_parallel_print(const batch *b, const cu_parallel_result *r) {
  for (size_t i = 0; i < r->n_items; i++) {
    json_t *o = item_json(&b->lines[i], i, r->items[i]);
    /* 15 significant digits print a microsecond-rounded duration exactly. */
    char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15))
                   : NULL;
    json_decref(o);
    if (!text) {
      cli_error("out of memory");
      return CLI_EXIT_FAILURE;
    }
    puts(text);
    free(text);
  }
  if (fflush(stdout) != 0) {
    cli_error("writing the results: %s", strerror(errno));
    return CLI_EXIT_FAILURE;
  }
  return 0;
}

static int item_status(const cu_item_result *ir) {
  if (ir->state == CU_ITEM_FAILED_TO_START)
    return cli_exit_for_error(ir->error);
  return ir->result ? cli_status_of(ir->result) : CLI_EXIT_FAILURE;
}

int cli_parallel_status(const batch *b, const char *deadline_text,
                        const cu_parallel_result *r) {
  if (r->ok)
    return CLI_EXIT_OK;
  cli_error("%s: %zu of %zu ok, %zu failed, %zu skipped", b->name, r->n_ok,
            r->n_items, r->n_failed, r->n_skipped);
  if (r->cancelled && cli_caught_signal())
    return CLI_EXIT_SIGNAL_BASE + cli_caught_signal();
  if (r->first_failure >= 0) {
    size_t i = (size_t)r->first_failure;
    int status = item_status(r->items[i]);
    cli_error("%s:%u: first failure: '%s' (index %zu), status %d", b->name,
              b->lines[i].line,
              json_string_value(json_array_get(b->lines[i].argv, 0)), i,
              status);
    return status;
  }
  if (r->timed_out) {
    cli_error("%s: the deadline of %s s expired", b->name, deadline_text);
    return CLI_EXIT_TIMEOUT;
  }
  return CLI_EXIT_FAILURE;
}
