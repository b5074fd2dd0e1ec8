/* SPDX-License-Identifier: MIT */
/* `cuprum parallel`: per-command results as JSON lines, and the status. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parallel_out.h"
#include "run.h"
#include "write_all.h"

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

static json_t *int_or_null(bool present, int value) {
  return present ? json_integer(value) : json_null();
}

/* The keys before the captured streams. */
static json_t *item_head(const batch_line *l, size_t i,
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
  if (bad) {
    json_decref(o);
    return NULL;
  }
  return o;
}

/* The keys after them: capture limits (--max-output), visible, with what
 * the child wrote; and why a command failed to start. */
static json_t *item_tail(const cu_item_result *ir) {
  static const cu_result none; /* a skipped item has no result */
  const cu_result *res = ir->result ? ir->result : &none;
  json_t *o = json_object();
  int bad = !o;
  bad |= json_object_set_new(o, "stdout_truncated",
                             json_boolean(res->out.truncated));
  bad |= json_object_set_new(o, "stderr_truncated",
                             json_boolean(res->err.truncated));
  bad |= json_object_set_new(o, "stdout_total",
                             json_integer((json_int_t)res->out.total));
  /* Accounting: the kernel's rusage of the reaped command, and the
   * cgroup's figures for a contained one (--contain). */
  bad |= json_object_set_new(o, "user_cpu_us",
                             json_integer((json_int_t)res->user_cpu_us));
  bad |= json_object_set_new(o, "sys_cpu_us",
                             json_integer((json_int_t)res->sys_cpu_us));
  bad |= json_object_set_new(o, "max_rss_kb",
                             json_integer((json_int_t)res->max_rss_kb));
  bad |= json_object_set_new(o, "contained", json_boolean(res->contained));
  bad |= json_object_set_new(o, "cgroup_cpu_us",
                             res->contained
                                 ? json_integer((json_int_t)res->cgroup_cpu_us)
                                 : json_null());
  bad |= json_object_set_new(o, "stderr_total",
                             json_integer((json_int_t)res->err.total));
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

/* Compact JSON text of `o` (consumed); NULL when out of memory. */
static char *dump(json_t *o) {
  /* 15 significant digits print a microsecond-rounded duration exactly. */
  char *text = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15))
                 : NULL;
  json_decref(o);
  return text;
}

/* Results go out through a 64 KiB buffer straight to fd 1. */
typedef struct out_buf {
  char data[64 * 1024];
  size_t len;
  int err; /* first write error */
} out_buf;

static int flush_out(out_buf *o) {
  if (o->err == 0 && o->len > 0)
    o->err = cli_write_all(STDOUT_FILENO, o->data, o->len);
  o->len = 0;
  return o->err;
}

static void put(out_buf *o, const char *buf, size_t len) {
  while (len > 0 && o->err == 0) {
    if (o->len == sizeof o->data)
      flush_out(o);
    size_t n = sizeof o->data - o->len < len ? sizeof o->data - o->len : len;
    memcpy(o->data + o->len, buf, n);
    o->len += n;
    buf += n;
    len -= n;
  }
}

/* Length of the valid UTF-8 sequence at p (at most `left` bytes), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left) {
  if (p[0] < 0x80)
    return 1;
  size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 ? 2 : 0;
  if (n == 0 || p[0] > 0xf4 || n > left)
    return 0;
  uint32_t cp = p[0] & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static bool valid_utf8(const char *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  for (size_t n; len > 0; p += n, len -= n)
    if ((n = utf8_len(p, len)) == 0)
      return false;
  return true;
}

/* Valid UTF-8 escaped into JSON string syntax (as jansson writes it). */
static void put_escaped(out_buf *o, const char *data, size_t len) {
  size_t run = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)data[i];
    if (c >= 0x20 && c != '"' && c != '\\')
      continue;
    put(o, data + run, i - run);
    char esc[8];
    if (c == '"' || c == '\\')
      put(o, c == '"' ? "\\\"" : "\\\\", 2);
    else if (c == '\n' || c == '\t' || c == '\r')
      put(o, c == '\n' ? "\\n" : c == '\t' ? "\\t" : "\\r", 2);
    else
      put(o, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
    run = i + 1;
  }
  put(o, data + run, len - run);
}

/*
 * Captured output as a JSON string, escaped as it is written: valid UTF-8
 * (the common case) goes straight from the capture, with no copy (jansson
 * would copy it into a string, and again into the dumped text). Otherwise
 * the library's UTF-8 view (invalid bytes become U+FFFD) is written.
 */
static int put_stream(out_buf *o, const cu_result *r, cu_stream_id which) {
  const cu_bytes *b = !r ? NULL : which == CU_STDOUT ? &r->out : &r->err;
  const char *data = b && b->data ? b->data : "";
  size_t len = b && b->data ? b->len : 0;
  if (!valid_utf8(data, len) &&
      !(data = cu_result_text_len(r, which, &len)))
    return -1;
  put(o, "\"", 1);
  put_escaped(o, data, len);
  put(o, "\"", 1);
  return 0;
}

/* One result line: the small fields through jansson, the two captured
 * streams escaped straight into the output buffer between them. */
static int put_item(out_buf *out, const batch_line *l, size_t i,
                    const cu_item_result *ir) {
  char *head = dump(item_head(l, i, ir));
  char *tail = head ? dump(item_tail(ir)) : NULL;
  int rc = -1;
  if (head && tail) {
    put(out, head, strlen(head) - 1); /* without its closing brace */
    put(out, ",\"stdout\":", 10);
    rc = put_stream(out, ir->result, CU_STDOUT);
    put(out, ",\"stderr\":", 10);
    rc = rc ? rc : put_stream(out, ir->result, CU_STDERR);
    put(out, ",", 1);
    put(out, tail + 1, strlen(tail + 1)); /* without its opening brace */
    put(out, "\n", 1);
  }
  free(head);
  free(tail);
  return rc;
}

/* Every result byte reaches stdout, or the status says it did not: the
 * lines are written straight to fd 1 (cli_write_all: short writes, EINTR,
 * a non-blocking stdout), and the first failure stops with "write error". */
int cli_parallel_print(const batch *b, const cu_parallel_result *r) {
  if (fflush(stdout) != 0)
    return cli_write_error(errno);
  static out_buf out; /* one per process: 64 KiB off the stack */
  out.len = 0;
  out.err = 0;
  for (size_t i = 0; i < r->n_items && out.err == 0; i++) {
    if (put_item(&out, &b->lines[i], i, r->items[i]) != 0) {
      cli_error("out of memory");
      return CLI_EXIT_FAILURE;
    }
  }
  if (flush_out(&out) != 0)
    return cli_write_error(out.err);
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
