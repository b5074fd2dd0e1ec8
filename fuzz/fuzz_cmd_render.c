/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for cu_cmd_render(): the input split on NUL bytes is an
 * argv (argv[0] too, set in the command directly), rendered, and the line
 * read back by the strict POSIX word splitter below must give the same
 * argv byte for byte.
 *
 * Why a splitter of our own rather than glibc's wordexp(3): wordexp has no
 * $'...' (which cu_cmd_render() documents for unprintable bytes), and it
 * performs the expansions a shell would, so agreement would not prove the
 * line is inert. This splitter accepts only what a POSIX shell (and bash
 * --posix) reads literally: unquoted, a word may hold no metacharacter,
 * quote, expansion ($ `), glob (* ? [), no '#' or '~' at its start, no
 * '!' '{' '}' and no byte outside printable ASCII; a first word may not
 * be a reserved word or hold an unquoted '=' (it would be an assignment).
 * '...' is literal; outside quotes only \' is used; $'...' may hold
 * \ooo (1-3 octal digits), \\ and \' escapes and nothing else special.
 * Words are separated by exactly one space. Anything else is a defect of
 * the renderer and aborts. It also checks the documented promises: the
 * line is valid UTF-8 without control characters. A real shell reads a
 * sample of such lines in tests/test_render.c (bash --posix, dash).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cuprum/cuprum.h>

#include "catalogue/cmd_int.h"
#include "fuzz_check.h"

#define MAX_ARGS 32

static bool unquoted_ok(unsigned char c, bool word_start) {
  if (c <= 0x20 || c >= 0x7f)
    return false;
  if (strchr("|&;<>()$`\\\"'*?[!{}", c))
    return false;
  return !(word_start && (c == '#' || c == '~'));
}

static const char *const reserved[] = {
    "case", "do", "done", "elif", "else", "esac", "fi", "for", "if", "in",
    "then", "until", "while", "function", "select", "time", "coproc", "!",
    "{", "}", "[[", "]]"};

/* Parse one word at *pp into out (at least strlen(*pp)+1 bytes). */
static void split_word(const char **pp, char *out, size_t *out_len,
                       bool first) {
  const char *p = *pp;
  size_t n = 0;
  bool quoted_any = false, all_bare = true;
  while (*p && *p != ' ') {
    if (*p == '\'') { /* '...' */
      quoted_any = true;
      all_bare = false;
      p++;
      while (*p && *p != '\'')
        out[n++] = *p++;
      CHECK(*p == '\'');
      p++;
    } else if (p[0] == '\\' && p[1] == '\'') {
      quoted_any = true;
      all_bare = false;
      out[n++] = '\'';
      p += 2;
    } else if (p[0] == '$' && p[1] == '\'') { /* $'...' */
      quoted_any = true;
      all_bare = false;
      p += 2;
      while (*p && *p != '\'') {
        if (*p != '\\') {
          out[n++] = *p++;
          continue;
        }
        p++;
        if (*p == '\\' || *p == '\'') {
          out[n++] = *p++;
          continue;
        }
        CHECK(*p >= '0' && *p <= '7');
        unsigned v = 0;
        for (int d = 0; d < 3 && *p >= '0' && *p <= '7'; d++)
          v = v * 8 + (unsigned)(*p++ - '0');
        CHECK(v > 0 && v <= 0377);
        out[n++] = (char)v;
      }
      CHECK(*p == '\'');
      p++;
    } else {
      CHECK(unquoted_ok((unsigned char)*p, n == 0 && p == *pp));
      /* an unquoted '=' before any quoting makes `X=1 cmd` an assignment */
      CHECK(!(first && *p == '=' && !quoted_any));
      out[n++] = *p++;
    }
  }
  out[n] = '\0';
  if (first && all_bare)
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
      CHECK(strcmp(out, reserved[i]) != 0);
  CHECK(n > 0 || quoted_any); /* an empty word must be quoted */
  *out_len = n;
  *pp = p;
}

/* Valid UTF-8 (no overlongs, surrogates or values past U+10FFFF) without
 * C0/C1 controls or DEL. */
static void check_printable_utf8(const unsigned char *s) {
  while (*s) {
    unsigned c = *s;
    if (c < 0x80) {
      CHECK(c >= 0x20 && c != 0x7f);
      s++;
      continue;
    }
    size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
    CHECK(c >= 0xc2 && c <= 0xf4);
    uint32_t cp = c & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
      CHECK((s[i] & 0xc0) == 0x80);
      cp = cp << 6 | (s[i] & 0x3fu);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    CHECK(cp >= min[n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff));
    CHECK(cp > 0x9f);
    s += n;
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *words[MAX_ARGS];
  size_t n_words = 0;
  char *copy = malloc(size + 1);
  CHECK(copy);
  memcpy(copy, data, size);
  copy[size] = '\0';
  for (size_t s = 0; n_words < MAX_ARGS;) {
    words[n_words++] = copy + s;
    s += strlen(copy + s) + 1;
    if (s > size)
      break;
  }
  cu_cmd *cmd = NULL;
  CHECK(cu_unsafe_cmd_new("/bin/sh", &cmd) == 0);
  /* argv[0] is whatever the program was named: set it as the fuzzer says */
  char *argv0 = strdup(words[0]);
  CHECK(argv0);
  free(cmd->argv[0]);
  cmd->argv[0] = argv0;
  cmd->program.name = argv0;
  for (size_t i = 1; i < n_words; i++)
    CHECK(cu_cmd_arg(cmd, words[i]) == 0);
  char *line = NULL;
  CHECK(cu_cmd_render(cmd, &line) == 0 && line);
  check_printable_utf8((const unsigned char *)line);
  char *out = malloc(strlen(line) + 1);
  CHECK(out);
  const char *p = line;
  for (size_t i = 0; i < n_words; i++) {
    if (i) {
      CHECK(*p == ' ');
      p++;
    }
    size_t len = 0;
    split_word(&p, out, &len, i == 0);
    CHECK(len == strlen(words[i]) && memcmp(out, words[i], len) == 0);
  }
  CHECK(*p == '\0');
  free(out);
  free(line);
  cu_cmd_free(cmd);
  free(copy);
  return 0;
}
