/* SPDX-License-Identifier: MIT */
/* The builder of examples/builder-template: only builds, never runs. */
#include "app_grep.h"

#include <stdio.h>
#include <string.h>

/* Checklist item 1: every value validated before it reaches an argv. */
static bool pattern_ok(const char *p) {
  if (!p || !*p)
    return false;
  for (const unsigned char *s = (const unsigned char *)p; *s; s++)
    if (*s < 0x20 || *s == 0x7f)
      return false;
  return true;
}

int app_grep(const char *pattern, const cu_safe_path *const *files,
             size_t n_files, const app_grep_opts *opts, cu_cmd **ret) {
  app_grep_opts o = APP_GREP_OPTS_INIT;
  if (opts) {
    /* A struct from an older caller is shorter: copy what it has. */
    if (opts->size < sizeof(size_t) || opts->size > sizeof o)
      return CU_EINVAL;
    memcpy(&o, opts, opts->size);
  }
  if (!ret || !pattern_ok(pattern) || (n_files > 0 && !files))
    return CU_EINVAL;
  /* Checklist item 4: contradictory options are a clear error. */
  if (o.count && o.quiet)
    return CU_EINVAL; /* -c prints, -q prints nothing */
  if (o.max_count < 0)
    return CU_EINVAL;
  for (size_t i = 0; i < n_files; i++)
    if (!files[i])
      return CU_EINVAL;

  cu_cmd *cmd = NULL;
  int rc = cu_cmd_new(o.catalogue, CU_GREP, &cmd);
  if (rc != 0)
    return rc;
  if (o.ignore_case)
    cu_cmd_arg(cmd, "-i");
  if (o.fixed_strings)
    cu_cmd_arg(cmd, "-F");
  if (o.invert_match)
    cu_cmd_arg(cmd, "-v");
  if (o.count)
    cu_cmd_arg(cmd, "-c");
  if (o.quiet)
    cu_cmd_arg(cmd, "-q");
  if (o.max_count > 0)
    cu_cmd_argf(cmd, "--max-count=%d", o.max_count);
  /* -e: a pattern starting with '-' is still a pattern. */
  cu_cmd_args(cmd, "-e", pattern, (char *)NULL);
  /* Checklist item 3: `--` before positionals. */
  cu_cmd_arg(cmd, "--");
  for (size_t i = 0; i < n_files; i++)
    cu_cmd_arg(cmd, cu_safe_path_str(files[i]));
  rc = cu_cmd_status(cmd); /* the builder calls' errors are sticky */
  if (rc != 0) {
    cu_cmd_free(cmd);
    return rc;
  }
  *ret = cmd;
  return 0;
}
