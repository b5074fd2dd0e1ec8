/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the event JSON encoder (cu_event_format(), the
 * "v":1 schema of docs/users-guide.md), round-tripped: an event is built
 * from the input (phase, numbers, flags, and NUL-separated strings for
 * program, path, cwd, line, argv, environment overlay and tags), encoded,
 * parsed back with jansson (duplicate keys rejected), and every field
 * compared with what it must be:
 *   - strings exactly, after the documented treatment of bytes that are
 *     not UTF-8: each byte that does not start a valid UTF-8 sequence
 *     becomes one U+FFFD (a reference decoder here, written apart from
 *     src/base/fmt.c's); NULL strings as null;
 *   - numbers and booleans exactly; the time an RFC 3339 string;
 *   - env and tags as objects, the last of repeated names winning;
 *   - exactly the keys the phase has (no more, no fewer).
 * The human and logfmt forms, and JSON with the default redaction, are
 * produced too: each one line without control characters (a newline or an
 * escape sequence in an argument, a tag or a variable name must not forge
 * a record or drive a terminal); the redacted JSON must parse.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/cuprum.h>
#include <cuprum/log.h>
#include <cuprum/redact.h>

#include "fuzz_check.h"
#include "fuzz_input.h"

#define MAX_ITEMS 8

static cu_redact *no_redact;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  no_redact = fuzz_redact_nothing();
  return 0;
}

/* Reference: what the encoder must make of raw bytes. */
static size_t valid_utf8(const unsigned char *p, size_t left) {
  unsigned c = p[0];
  if (c < 0x80)
    return 1;
  size_t n;
  uint32_t cp;
  if ((c & 0xe0) == 0xc0) {
    n = 2;
    cp = c & 0x1f;
  } else if ((c & 0xf0) == 0xe0) {
    n = 3;
    cp = c & 0x0f;
  } else if ((c & 0xf8) == 0xf0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (left < n)
    return 0;
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3fu);
  }
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
      (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  return n;
}

static char *sanitized(const char *s, size_t len, size_t *ret_len) {
  char *o = malloc(len * 3 + 1);
  CHECK(o);
  size_t n = 0;
  for (size_t i = 0; i < len;) {
    size_t k = valid_utf8((const unsigned char *)s + i, len - i);
    if (k == 0) {
      memcpy(o + n, "\xEF\xBF\xBD", 3);
      n += 3;
      i++;
    } else {
      memcpy(o + n, s + i, k);
      n += k;
      i += k;
    }
  }
  o[n] = '\0';
  *ret_len = n;
  return o;
}

static void check_str(const json_t *v, const char *raw, size_t raw_len) {
  if (!raw) {
    CHECK(json_is_null(v));
    return;
  }
  CHECK(json_is_string(v));
  size_t len;
  char *want = sanitized(raw, raw_len, &len);
  CHECK(json_string_length(v) == len &&
        memcmp(json_string_value(v), want, len) == 0);
  free(want);
}

static void check_int(const json_t *o, const char *key, long long want) {
  const json_t *v = json_object_get(o, key);
  CHECK(json_is_integer(v) && json_integer_value(v) == want);
}

static void check_bool(const json_t *o, const char *key, bool want) {
  const json_t *v = json_object_get(o, key);
  CHECK(json_is_boolean(v) && json_is_true(v) == want);
}

/* names[i]/values[i] pairs as the encoder must write them: an object,
 * keyed by the sanitized name, the last of the names written alike (equal
 * once sanitized) winning. */
static void check_pairs(const json_t *obj, const char *const *names,
                        const char *const *values, size_t n) {
  CHECK(json_is_object(obj));
  char *keys[16];
  size_t lens[16];
  for (size_t i = 0; i < n; i++)
    keys[i] = sanitized(names[i], strlen(names[i]), &lens[i]);
  size_t distinct = 0;
  for (size_t i = 0; i < n; i++) {
    bool later = false;
    for (size_t j = i + 1; j < n; j++)
      later |= lens[i] == lens[j] && memcmp(keys[i], keys[j], lens[i]) == 0;
    if (later)
      continue;
    distinct++;
    const json_t *v = json_object_getn(obj, keys[i], lens[i]);
    CHECK(v);
    check_str(v, values[i], values[i] ? strlen(values[i]) : 0);
  }
  CHECK(json_object_size(obj) == distinct);
  for (size_t i = 0; i < n; i++)
    free(keys[i]);
}

/* One record is one line that drives no terminal: no C0 control or DEL. */
static void check_one_line(const char *text) {
  for (const unsigned char *p = (const unsigned char *)text; *p; p++)
    CHECK(*p >= 0x20 && *p != 0x7f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  in r = {data, size, 0};
  cu_event ev;
  memset(&ev, 0, sizeof ev);
  ev.phase = (cu_event_phase)(take_u64(&r, 1) % 13 + 1);
  unsigned flags = (unsigned)take_u64(&r, 1);
  size_t n_argv = take_u64(&r, 1) % MAX_ITEMS;
  size_t n_env = take_u64(&r, 1) % MAX_ITEMS;
  size_t n_tags = take_u64(&r, 1) % MAX_ITEMS;
  ev.exec_id = take_u64(&r, 8);
  ev.pid = (pid_t)take_u64(&r, 4);
  ev.wall.tv_sec = (time_t)(take_u64(&r, 5) % 253402300800ull); /* < 10000 */
  ev.wall.tv_nsec = (long)(take_u64(&r, 4) % 1000000000u);
  ev.mono.tv_sec = (time_t)(take_u64(&r, 4) & 0x7fffffff);
  ev.mono.tv_nsec = (long)(take_u64(&r, 4) % 1000000000u);
  ev.bytes = take_u64(&r, 8) >> 1;
  ev.exit_code = (int)take_u64(&r, 4);
  ev.term_signal = (int)take_u64(&r, 1);
  ev.duration_ns = (int64_t)(take_u64(&r, 8) >> 1);
  ev.error = -(int)(take_u64(&r, 1) % 40);
  ev.err_no = (int)take_u64(&r, 2);
  ev.stage_index = (int)take_u64(&r, 2);
  ev.n_stages = (int)take_u64(&r, 2);
  ev.user_cpu_us = (int64_t)take_u64(&r, 4);
  ev.sys_cpu_us = (int64_t)take_u64(&r, 4);
  ev.max_rss_kb = (int64_t)take_u64(&r, 4) - 1000;
  ev.cgroup_cpu_us = (int64_t)take_u64(&r, 4);
  ev.cgroup_mem_peak = (int64_t)take_u64(&r, 4) - 1000;
  ev.line_flags = flags & 3;
  ev.noise = flags & 4;
  ev.unsafe = flags & 8;
  ev.contained = flags & 16;
  char *program = take_str(&r), *path = take_str(&r), *cwd = take_str(&r);
  char *line = take_str(&r);
  ev.program = program;
  ev.path = path;
  ev.cwd = (flags & 32) ? NULL : cwd;
  ev.line = (flags & 64) ? NULL : line;
  ev.line_len = ev.line ? strlen(line) : 0;
  char *argv_s[MAX_ITEMS + 1] = {0};
  for (size_t i = 0; i < n_argv; i++)
    if (!(argv_s[i] = take_str(&r)))
      argv_s[i] = strdup("");
  ev.argv = (flags & 128) && n_argv == 0 ? NULL : (const char *const *)argv_s;
  ev.n_argv = n_argv;
  cu_env_var env[MAX_ITEMS];
  cu_tag tags[MAX_ITEMS];
  char *owned[4 * MAX_ITEMS] = {0};
  size_t n_owned = 0;
  const char *env_names[MAX_ITEMS], *env_values[MAX_ITEMS];
  const char *tag_keys[MAX_ITEMS], *tag_values[MAX_ITEMS];
  for (size_t i = 0; i < n_env; i++) {
    char *name = take_str(&r), *value = take_str(&r);
    if (!name)
      name = strdup("N");
    owned[n_owned++] = name;
    owned[n_owned++] = value;
    /* an empty value here stands for an unset (NULL) one */
    env[i] = (cu_env_var){name, value && *value ? value : NULL};
    env_names[i] = env[i].name;
    env_values[i] = env[i].value;
  }
  for (size_t i = 0; i < n_tags; i++) {
    char *key = take_str(&r), *value = take_str(&r);
    if (!key)
      key = strdup("k");
    owned[n_owned++] = key;
    owned[n_owned++] = value;
    tags[i] = (cu_tag){key, value ? value : ""};
    tag_keys[i] = tags[i].key;
    tag_values[i] = tags[i].value;
  }
  ev.env = n_env ? env : NULL;
  ev.n_env = n_env;
  ev.tags = n_tags ? tags : NULL;
  ev.n_tags = n_tags;

  char *text = NULL;
  CHECK(cu_event_format_redacted(&ev, CU_LOG_JSON, no_redact, &text) == 0);
  check_one_line(text);
  json_error_t err;
  json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  CHECK(o && json_is_object(o));
  size_t keys = 0;
  check_int(o, "v", 1);
  keys++;
  const json_t *ph = json_object_get(o, "phase");
  CHECK(json_is_string(ph) &&
        strcmp(json_string_value(ph), cu_event_phase_name(ev.phase)) == 0);
  keys++;
  check_int(o, "exec_id", (long long)ev.exec_id);
  keys++;
  CHECK(json_is_string(json_object_get(o, "time")));
  keys++;
  check_int(o, "mono_ns",
            (long long)ev.mono.tv_sec * 1000000000LL + ev.mono.tv_nsec);
  keys++;
  check_str(json_object_get(o, "program"), program,
            program ? strlen(program) : 0);
  check_str(json_object_get(o, "path"), path, path ? strlen(path) : 0);
  check_str(json_object_get(o, "cwd"), ev.cwd, ev.cwd ? strlen(ev.cwd) : 0);
  keys += 3;
  const json_t *av = json_object_get(o, "argv");
  CHECK(json_is_array(av));
  CHECK(json_array_size(av) == (ev.argv ? n_argv : 0));
  for (size_t i = 0; i < json_array_size(av); i++)
    check_str(json_array_get(av, i), argv_s[i], strlen(argv_s[i]));
  keys++;
  check_pairs(json_object_get(o, "env"), env_names, env_values, n_env);
  check_pairs(json_object_get(o, "tags"), tag_keys, tag_values, n_tags);
  keys += 2;
  check_int(o, "pid", ev.pid);
  CHECK(json_is_null(json_object_get(o, "project")));
  check_bool(o, "unsafe", ev.unsafe);
  check_int(o, "stage", ev.stage_index);
  check_int(o, "stages", ev.n_stages);
  keys += 5;
  switch (ev.phase) {
  case CU_EV_STDOUT_LINE:
  case CU_EV_STDERR_LINE:
    check_str(json_object_get(o, "line"), ev.line ? ev.line : "",
              ev.line_len);
    check_bool(o, "split", ev.line_flags & CU_LINE_SPLIT);
    check_bool(o, "partial", ev.line_flags & CU_LINE_PARTIAL);
    check_bool(o, "noise", ev.noise);
    keys += 4;
    break;
  case CU_EV_STDIN_ERROR:
  case CU_EV_SPAWN_FAILED:
    if (ev.phase == CU_EV_STDIN_ERROR) {
      check_int(o, "bytes", (long long)ev.bytes);
      keys++;
    }
    if (ev.error)
      CHECK(strcmp(json_string_value(json_object_get(o, "error")),
                   cu_err_name(ev.error)) == 0);
    else
      CHECK(json_is_null(json_object_get(o, "error")));
    check_int(o, "errno", ev.err_no);
    keys += 2;
    break;
  case CU_EV_STDIN:
    check_int(o, "bytes", (long long)ev.bytes);
    keys++;
    break;
  case CU_EV_EXIT:
    check_int(o, "exit_code", ev.exit_code);
    check_int(o, "signal", ev.term_signal);
    check_int(o, "duration_ns", ev.duration_ns);
    keys += 3;
    if (ev.max_rss_kb > 0) {
      check_int(o, "user_cpu_us", ev.user_cpu_us);
      check_int(o, "sys_cpu_us", ev.sys_cpu_us);
      check_int(o, "max_rss_kb", ev.max_rss_kb);
      keys += 3;
    }
    if (ev.contained) {
      check_bool(o, "contained", true);
      check_int(o, "cgroup_cpu_us", ev.cgroup_cpu_us);
      keys += 2;
      if (ev.cgroup_mem_peak >= 0) {
        check_int(o, "cgroup_mem_peak", ev.cgroup_mem_peak);
        keys++;
      }
    }
    break;
  case CU_EV_STOPPED:
    check_int(o, "signal", ev.term_signal);
    keys++;
    break;
  default:
    break;
  }
  CHECK(json_object_size(o) == keys);
  json_decref(o);
  free(text);

  /* The other forms and the default redaction: no crash, leak or UB. */
  CHECK(cu_event_format(&ev, CU_LOG_JSON, &text) == 0);
  check_one_line(text);
  o = json_loads(text, JSON_REJECT_DUPLICATES, &err);
  CHECK(o);
  json_decref(o);
  free(text);
  CHECK(cu_event_format(&ev, CU_LOG_HUMAN, &text) == 0);
  check_one_line(text);
  free(text);
  CHECK(cu_event_format(&ev, CU_LOG_LOGFMT, &text) == 0);
  check_one_line(text);
  free(text);

  for (size_t i = 0; i < n_argv; i++)
    free(argv_s[i]);
  for (size_t i = 0; i < n_owned; i++)
    free(owned[i]);
  free(program);
  free(path);
  free(cwd);
  free(line);
  return 0;
}
