/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for `cuprum parallel`'s input: the JSON-lines item
 * parser and the --args template expansion ({} = the line, {#} = its
 * 1-based number), through the static input_next() of tools/cmd_parallel.c
 * (fuzz/seam_parallel.c) reading the input as the batch reads its FILE.
 *
 * Input: a first byte choosing the mode; JSON lines when it is even, else
 * --args: the bytes up to the first "\n\n" are the template (NUL-separated
 * words), the rest the argument lines.
 * Checks, per item: JSON mode gives a non-empty array of strings and the
 * line is not blank; --args mode gives exactly one word per template word,
 * each equal to an independent expansion of that word (left to right,
 * "{#}" before "{}" never overlapping: "{{}}" -> "{" LINE "}"); the reader
 * stops with 0 or 125 (a rejected line, said on stderr); no crash, leak or
 * UB.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "seams.h"

#define MAX_WORDS 16

typedef struct ctx {
  char **template;
  int n_template;
} ctx;

/* Reference expansion, written apart from the tool's. */
static char *expand(const char *t, const char *line, size_t seq) {
  char num[24];
  snprintf(num, sizeof num, "%zu", seq);
  size_t cap = 1, len = 0;
  for (const char *p = t; *p; p++)
    cap += strlen(line) + strlen(num) + 1;
  char *out = malloc(cap);
  CHECK(out);
  for (size_t i = 0; t[i];) {
    if (t[i] == '{' && t[i + 1] == '}') {
      memcpy(out + len, line, strlen(line));
      len += strlen(line);
      i += 2;
    } else if (t[i] == '{' && t[i + 1] == '#' && t[i + 2] == '}') {
      memcpy(out + len, num, strlen(num));
      len += strlen(num);
      i += 3;
    } else {
      out[len++] = t[i++];
    }
  }
  out[len] = '\0';
  return out;
}

static void check_item(void *user, size_t seq, const void *v,
                       const char *line) {
  const ctx *c = user;
  const json_t *argv = v;
  CHECK(json_is_array(argv));
  if (!c->template) {
    CHECK(json_array_size(argv) > 0);
    CHECK(line[strspn(line, " \t\r\n")] != '\0');
    for (size_t i = 0; i < json_array_size(argv); i++)
      CHECK(json_is_string(json_array_get(argv, i)));
    return;
  }
  CHECK(json_array_size(argv) == (size_t)c->n_template);
  for (int i = 0; i < c->n_template; i++) {
    char *want = expand(c->template[i], line, seq);
    const json_t *s = json_array_get(argv, (size_t)i);
    CHECK(json_is_string(s));
    CHECK(json_string_length(s) == strlen(want));
    CHECK(memcmp(json_string_value(s), want, strlen(want)) == 0);
    free(want);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1)
    return 0;
  bool args = data[0] & 1;
  const char *body = (const char *)data + 1;
  size_t n = size - 1;
  ctx c = {0};
  char *words[MAX_WORDS + 1];
  char *tbuf = NULL;
  if (args) {
    const char *sep = memmem(body, n, "\n\n", 2);
    size_t tl = sep ? (size_t)(sep - body) : n;
    tbuf = malloc(tl + 1);
    CHECK(tbuf);
    memcpy(tbuf, body, tl);
    tbuf[tl] = '\0';
    for (size_t s = 0; c.n_template < MAX_WORDS;) {
      words[c.n_template++] = tbuf + s;
      size_t l = strlen(tbuf + s);
      if (s + l >= tl)
        break;
      s += l + 1;
    }
    c.template = words;
    body = sep ? sep + 2 : body + n;
    n = sep ? n - tl - 2 : 0;
  }
  FILE *f = fmemopen((void *)(n ? body : "\n"), n ? n : 1, "r");
  CHECK(f);
  int rc = fuzz_parallel_items(f, c.template, c.n_template, check_item, &c);
  CHECK(rc == 0 || rc == 125);
  fclose(f);
  free(tbuf);
  return 0;
}
