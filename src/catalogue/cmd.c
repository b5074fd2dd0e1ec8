/* SPDX-License-Identifier: MIT */
/* The typed command builder: a catalogued program plus its argv, with
 * sticky errors so a chain of builder calls is checked once. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"

int cu__cmd_create(const char *argv0, const char *path,
                   const cu_project *project, const cu_catalogue *cat,
                   cu_cmd **ret) {
  cu_cmd *cmd = calloc(1, sizeof *cmd);
  if (!cmd)
    return cu__fail(CU_ENOMEM, "out of memory creating a command");
  cmd->cap = 8;
  cmd->argv = calloc(cmd->cap, sizeof *cmd->argv);
  cmd->path = cu__strdup(path);
  if (cmd->argv)
    cmd->argv[0] = cu__strdup(argv0);
  if (!cmd->argv || !cmd->argv[0] || !cmd->path) {
    cu_cmd_free(cmd);
    return cu__fail(CU_ENOMEM, "out of memory creating a command");
  }
  cmd->argc = 1;
  cmd->argv_bytes = strlen(argv0) + 1;
  cmd->program = CU_PROGRAM(cmd->argv[0]);
  cmd->project = project;
  cmd->catalogue = cu__catalogue_ref(cat);
  *ret = cmd;
  return 0;
}

/* ------------------------------------------------------------ chains */

/*
 * The first error of a chain `new → arg → run`: a constructor that fails
 * leaves the caller's cmd NULL, so the sticky error has nowhere to live.
 * The thread keeps the last constructor failure instead (code and message);
 * a NULL command reaching a builder call or a run replays it. A successful
 * constructor call clears it: a NULL command after that is a plain misuse.
 * Thread-local, like cu_last_error().
 */
static _Thread_local int chain_code;
static _Thread_local char chain_msg[400];

int cu__cmd_constructed(int rc) {
  if (rc == 0) {
    chain_code = 0;
  } else {
    chain_code = rc;
    snprintf(chain_msg, sizeof chain_msg, "%s", cu_last_error());
  }
  return rc;
}

int cu__cmd_null(const char *what) {
  if (chain_code == 0)
    return cu__fail(CU_EINVAL, "%s: the command is NULL", what);
  return cu__fail(chain_code, "%s: the command is NULL because building it "
                              "failed: %s", what, chain_msg);
}

static int cmd_new(const cu_catalogue *cat, cu_program program, cu_cmd **ret) {
  if (!ret || !program.name)
    return cu__fail(CU_EINVAL, "cu_cmd_new: %s is NULL",
                    ret ? "program name" : "ret");
  if (!cat) {
    int rc = cu_catalogue_default(&cat);
    if (rc != 0)
      return rc;
  }
  const cu_project *project = NULL;
  const char *path = NULL;
  int rc = cu_catalogue_lookup(cat, program, &project, &path);
  if (rc != 0)
    return rc;
  return cu__cmd_create(program.name, path, project, cat, ret);
}

int cu_cmd_new(const cu_catalogue *cat, cu_program program, cu_cmd **ret) {
  return cu__cmd_constructed(cmd_new(cat, program, ret));
}

/* ------------------------------------------------------------ sticky state */

/* Record the first failure (its message too) and pass the code through. */
static int record(cu_cmd *cmd, int rc) {
  if (rc < 0 && cmd->status == 0) {
    cmd->status = rc;
    cmd->error = cu__strdup(cu_last_error());
  }
  return rc;
}

int cu__cmd_check(const cu_cmd *cmd) {
  if (!cmd)
    return cu__cmd_null("run");
  if (cmd->status == 0)
    return 0;
  return cu__fail(cmd->status, "command '%s' has an earlier builder error: %s",
                  cmd->program.name,
                  cmd->error ? cmd->error : cu_strerror(cmd->status));
}

/* Every builder call starts here: refuse NULL and replay a sticky error. */
static int begin(cu_cmd *cmd) {
  if (!cmd)
    return cu__cmd_null("adding an argument");
  return cmd->status == 0 ? 0 : cu__cmd_check(cmd);
}

/* Take ownership of `arg` (NULL = allocation failed) and append it. */
static int push(cu_cmd *cmd, char *arg) {
  if (!arg)
    return record(cmd, cu__fail(CU_ENOMEM, "out of memory adding an "
                                           "argument"));
  if (cmd->argc + 1 >= cmd->cap) {
    size_t cap = cmd->cap * 2;
    char **grown = realloc(cmd->argv, cap * sizeof *grown);
    if (!grown) {
      free(arg);
      return record(cmd, cu__fail(CU_ENOMEM, "out of memory adding an "
                                             "argument"));
    }
    cmd->argv = grown;
    cmd->cap = cap;
  }
  cmd->argv_bytes += strlen(arg) + 1;
  cmd->argv[cmd->argc++] = arg;
  cmd->argv[cmd->argc] = NULL;
  return 0;
}

/* ------------------------------------------------------------ arguments */

int cu_cmd_arg(cu_cmd *cmd, const char *arg) {
  int rc = begin(cmd);
  if (rc != 0)
    return rc;
  if (!arg)
    return record(cmd, cu__fail(CU_EINVAL,
                                "command '%s': argument %zu is NULL",
                                cmd->program.name, cmd->argc));
  return push(cmd, cu__strdup(arg));
}

int cu_cmd_argn(cu_cmd *cmd, const char *arg, size_t len) {
  int rc = begin(cmd);
  if (rc != 0)
    return rc;
  if (!arg && len)
    return record(cmd, cu__fail(CU_EINVAL,
                                "command '%s': argument %zu is NULL",
                                cmd->program.name, cmd->argc));
  if (len && memchr(arg, '\0', len))
    return record(cmd, cu__fail(CU_ENULARG,
                                "command '%s': argument %zu contains a NUL "
                                "byte at offset %zu",
                                cmd->program.name, cmd->argc,
                                (size_t)((const char *)memchr(arg, '\0', len) -
                                         arg)));
  char *copy = malloc(len + 1);
  if (copy) {
    if (len)
      memcpy(copy, arg, len);
    copy[len] = '\0';
  }
  return push(cmd, copy);
}

int cu_cmd_vargs(cu_cmd *cmd, va_list ap) {
  int rc = begin(cmd);
  for (const char *arg; rc == 0 && (arg = va_arg(ap, const char *));)
    rc = cu_cmd_arg(cmd, arg);
  return rc;
}

int cu_cmd_args(cu_cmd *cmd, ...) {
  va_list ap;
  va_start(ap, cmd);
  int rc = cu_cmd_vargs(cmd, ap);
  va_end(ap);
  return rc;
}

int cu_cmd_argf(cu_cmd *cmd, const char *fmt, ...) {
  int rc = begin(cmd);
  if (rc != 0)
    return rc;
  if (!fmt)
    return record(cmd, cu__fail(CU_EINVAL, "command '%s': format is NULL",
                                cmd->program.name));
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  int n = vasprintf(&out, fmt, ap);
  va_end(ap);
  return push(cmd, n < 0 ? NULL : out);
}

int cu_cmd_arg_int(cu_cmd *cmd, long long value) {
  return cu_cmd_argf(cmd, "%lld", value);
}

/* ------------------------------------------------------------ flags */

static bool flag_name_ok(const char *name) {
  if (!name || !name[0] || name[0] == '-')
    return false;
  for (const unsigned char *p = (const unsigned char *)name; *p; p++)
    if (*p == '=' || *p <= ' ' || *p == 0x7f)
      return false;
  return true;
}

int cu_cmd_flag(cu_cmd *cmd, const char *name, const char *value) {
  int rc = begin(cmd);
  if (rc != 0)
    return rc;
  if (!flag_name_ok(name))
    return record(cmd, cu__fail(CU_EINVAL,
                                "command '%s': invalid flag name '%s' (empty, "
                                "leading '-', '=' or whitespace)",
                                cmd->program.name, name ? name : "(null)"));
  char *flag = value ? cu__asprintf("--%s=%s", name, value)
                     : cu__asprintf("--%s", name);
  /* Python-style keyword names: max_count becomes --max-count. */
  char *end = flag ? strchr(flag, '=') : NULL;
  for (char *p = flag ? flag + 2 : NULL; p && *p && p != end; p++)
    if (*p == '_')
      *p = '-';
  return push(cmd, flag);
}

int cu_cmd_flag_int(cu_cmd *cmd, const char *name, long long value) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", value);
  return cu_cmd_flag(cmd, name, buf);
}

/* ------------------------------------------------------------ accessors */

int cu_cmd_status(const cu_cmd *cmd) {
  /* A NULL command is a failed constructor's (cmd.h): its code, so a chain
   * checked once at the end reports why it failed. */
  return cmd ? cmd->status : cu__cmd_null("cu_cmd_status");
}

cu_program cu_cmd_program(const cu_cmd *cmd) {
  return cmd ? cmd->program : CU_PROGRAM(NULL);
}

const char *cu_cmd_path(const cu_cmd *cmd) { return cmd ? cmd->path : NULL; }

const cu_project *cu_cmd_project(const cu_cmd *cmd) {
  return cmd ? cmd->project : NULL;
}

size_t cu_cmd_argv_count(const cu_cmd *cmd) { return cmd ? cmd->argc : 0; }

const char *const *cu_cmd_argv(const cu_cmd *cmd) {
  return cmd ? (const char *const *)cmd->argv : NULL;
}

/* ------------------------------------------------------------ rendering */

/*
 * The rendered line must paste back into a POSIX shell as the same argv,
 * and must be safe to print: no raw control characters (a newline would
 * forge a log line, an escape sequence would drive the terminal), and valid
 * UTF-8. Three forms, simplest first:
 *   bare       only [A-Za-z0-9_@%+=:,./-], and for the first word no '='
 *              (`X=1 cmd` is an assignment) and no reserved word (`if`);
 *   'single'   everything else that prints: a POSIX sh takes the bytes
 *              literally, a quote becomes '\'' ;
 *   $'dollar'  a word with a byte that must not print raw (C0 controls,
 *              DEL, bytes that are not UTF-8, UTF-8 C1 controls and
 *              bidirectional overrides): those become \ooo octal escapes.
 * $'...' is in POSIX.1-2024 and in bash, zsh, ksh93, mksh, busybox ash and
 * FreeBSD sh; dash 0.5.12 lacks it. It is the only one-word form that can
 * spell every byte (a trailing newline included) on one line: "$(printf ..)"
 * loses trailing newlines. Words that need it are rare, so ordinary
 * commands stay plain POSIX (see docs/design.md).
 */

static const char *const reserved[] = {
    "case", "do",    "done",  "elif",     "else",   "esac",   "fi",
    "for",  "if",    "in",    "then",     "until",  "while",  "function",
    "select", "time", "coproc",
};

static bool is_safe_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || strchr("_@%+=:,./-", c);
}

static bool bare_ok(const char *s, bool first) {
  if (!*s)
    return false;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    if (!is_safe_char(*p) || (first && *p == '='))
      return false;
  for (size_t i = 0; first && i < CU__ARRAY_LEN(reserved); i++)
    if (strcmp(s, reserved[i]) == 0)
      return false;
  return true;
}

/* Length of the printable UTF-8 sequence at `p` (1 for printable ASCII), or
 * 0 when the byte must be escaped. */
static size_t printable_len(const unsigned char *p) {
  if (*p < 0x80)
    return *p >= 0x20 && *p != 0x7f;
  size_t n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 ? 2 : 0;
  if (n == 0 || *p > 0xf4)
    return 0;
  uint32_t cp = *p & (0x3f >> (n - 1));
  for (size_t i = 1; i < n; i++) {
    if ((p[i] & 0xc0) != 0x80)
      return 0;
    cp = cp << 6 | (p[i] & 0x3f);
  }
  static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
    return 0;
  /* C1 controls, and the bidirectional controls that reorder what a reader
   * sees ("Trojan Source"). */
  if (cp <= 0x9f || (cp >= 0x202a && cp <= 0x202e) ||
      (cp >= 0x2066 && cp <= 0x2069) || cp == 0x200e || cp == 0x200f)
    return 0;
  return n;
}

static bool needs_dollar(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p;) {
    size_t n = printable_len(p);
    if (n == 0)
      return true;
    p += n;
  }
  return false;
}

/* Appends to a sized buffer, or only counts when out is NULL. */
typedef struct sink {
  char *out;
  size_t n;
} sink;

static void put(sink *k, const char *s, size_t len) {
  if (k->out)
    memcpy(k->out + k->n, s, len);
  k->n += len;
}

static void quote_dollar(sink *k, const unsigned char *p) {
  put(k, "$'", 2);
  while (*p) {
    size_t n = printable_len(p);
    if (n > 0 && *p != '\\' && *p != '\'' && *p != '!') {
      put(k, (const char *)p, n);
      p += n;
      continue;
    }
    char esc[5];
    snprintf(esc, sizeof esc, "\\%03o", *p);
    put(k, esc, 4);
    p++;
  }
  put(k, "'", 1);
}

static void quote(sink *k, const char *s, bool first) {
  if (bare_ok(s, first)) {
    put(k, s, strlen(s));
  } else if (needs_dollar(s)) {
    quote_dollar(k, (const unsigned char *)s);
  } else {
    put(k, "'", 1);
    for (; *s; s++) {
      if (*s == '\'')
        put(k, "'\\''", 4); /* close, literal ', reopen */
      else
        put(k, s, 1);
    }
    put(k, "'", 1);
  }
}

static void render(const cu_cmd *cmd, sink *k) {
  for (size_t i = 0; i < cmd->argc; i++) {
    if (i)
      put(k, " ", 1);
    quote(k, cmd->argv[i], i == 0);
  }
}

int cu_cmd_render(const cu_cmd *cmd, char **ret) {
  if (!cmd || !ret)
    return cu__fail(CU_EINVAL, "cu_cmd_render: %s is NULL",
                    cmd ? "ret" : "cmd");
  sink count = {0};
  render(cmd, &count);
  sink k = {.out = malloc(count.n + 1)};
  if (!k.out)
    return cu__fail(CU_ENOMEM, "out of memory rendering a command");
  render(cmd, &k);
  k.out[k.n] = '\0';
  *ret = k.out;
  return 0;
}

cu_cmd *cu_cmd_free(cu_cmd *cmd) {
  if (!cmd)
    return NULL;
  for (size_t i = 0; cmd->argv && cmd->argv[i]; i++)
    free(cmd->argv[i]);
  free(cmd->argv);
  free(cmd->path);
  free(cmd->error);
  cu__catalogue_unref(cmd->catalogue);
  if (cmd->hooks)
    cmd->hooks_free(cmd->hooks);
  free(cmd);
  return NULL;
}
