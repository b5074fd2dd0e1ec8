/* SPDX-License-Identifier: MIT */
/* The typed command builder: a catalogued program plus its argv, with
 * sticky errors so a chain of builder calls is checked once. */
#include <stdarg.h>
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

int cu_cmd_new(const cu_catalogue *cat, cu_program program, cu_cmd **ret) {
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
    return cu__fail(CU_EINVAL, "the command is NULL");
  if (cmd->status == 0)
    return 0;
  return cu__fail(cmd->status, "command '%s' has an earlier builder error: %s",
                  cmd->program.name,
                  cmd->error ? cmd->error : cu_strerror(cmd->status));
}

/* Every builder call starts here: refuse NULL and replay a sticky error. */
static int begin(cu_cmd *cmd) {
  return cmd && cmd->status == 0 ? 0 : cu__cmd_check(cmd);
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

int cu_cmd_status(const cu_cmd *cmd) { return cmd ? cmd->status : CU_EINVAL; }

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

static bool shell_safe(const char *s) {
  if (!*s)
    return false;
  for (; *s; s++)
    if (!strchr("_@%+=:,./-", *s) &&
        !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
          (*s >= '0' && *s <= '9')))
      return false;
  return true;
}

/* Bytes `s` takes rendered; with `out`, also write them there. */
static size_t quote(const char *s, char *out) {
  size_t n = 0;
  if (shell_safe(s)) {
    n = strlen(s);
    if (out)
      memcpy(out, s, n);
    return n;
  }
  static const char escaped[] = "'\\''"; /* close, literal ', reopen */
  if (out)
    out[n] = '\'';
  n++;
  for (; *s; s++) {
    if (*s == '\'') {
      if (out)
        memcpy(out + n, escaped, sizeof escaped - 1);
      n += sizeof escaped - 1;
    } else {
      if (out)
        out[n] = *s;
      n++;
    }
  }
  if (out)
    out[n] = '\'';
  return n + 1;
}

int cu_cmd_render(const cu_cmd *cmd, char **ret) {
  if (!cmd || !ret)
    return cu__fail(CU_EINVAL, "cu_cmd_render: %s is NULL",
                    cmd ? "ret" : "cmd");
  size_t len = 0;
  for (size_t i = 0; i < cmd->argc; i++)
    len += quote(cmd->argv[i], NULL) + 1;
  char *line = malloc(len + 1);
  if (!line)
    return cu__fail(CU_ENOMEM, "out of memory rendering a command");
  size_t at = 0;
  for (size_t i = 0; i < cmd->argc; i++) {
    if (i)
      line[at++] = ' ';
    at += quote(cmd->argv[i], line + at);
  }
  line[at] = '\0';
  *ret = line;
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
