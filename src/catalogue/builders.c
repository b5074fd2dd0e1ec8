/* SPDX-License-Identifier: MIT */
/* The git, rsync and tar builders (cuprum/builders.h): typed values in, a
 * cu_cmd out. They never spawn; every value is validated here or by its
 * typed constructor, and the argv layout is the reviewed one documented in
 * docs/users-guide.md ("The builder set"). */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/args_int.h"
#include "cuprum/args.h"
#include "cuprum/builders.h"
#include "cuprum/error.h"

/* Start `program` from `cat`, with `git -C repo` when repo is set. */
static int start(const cu_catalogue *cat, cu_program program,
                 const cu_safe_path *repo, cu_cmd **cmd) {
  int rc = cu_cmd_new(cat, program, cmd);
  if (rc == 0 && repo)
    rc = cu_cmd_args(*cmd, "-C", cu_safe_path_str(repo), (char *)NULL);
  return rc;
}

/* Hand the command over when every builder call succeeded; free it and
 * keep its error otherwise (the message is the failing call's). */
static int finish(cu_cmd *cmd, cu_cmd **ret) {
  int rc = cu_cmd_status(cmd);
  if (rc != 0) {
    cu_cmd_free(cmd);
    return rc;
  }
  *ret = cmd;
  return 0;
}

static int bad(const char *what, const char *why) {
  return cu__fail(CU_EINVAL, "%s: %s", what, why);
}

/* Free text for an argv (a message, a format, a pattern). */
static int check_text(const char *what, const char *field, const char *s,
                      bool allow_nl_tab) {
  if (!s)
    return cu__fail(CU_EINVAL, "%s: %s is NULL", what, field);
  size_t n = strlen(s);
  if (n == 0)
    return cu__arg_fail(CU_EINVAL, what, "empty", s, n);
  if (cu__text_has_control(s, n, allow_nl_tab))
    return cu__arg_fail(CU_EINVAL, what, "control", s, n);
  return 0;
}

/* ------------------------------------------------------------------- git */

/* CU__OPTS_LOAD, with the INIT macro's name kept unexpanded. */
#define LOAD(o, opts, type, init)                                              \
  do {                                                                         \
    if (!ret)                                                                  \
      return bad(what, "ret is NULL");                                         \
    int rc_ = cu__opts_load(&(o), sizeof(type), (opts), #type, #init);         \
    if (rc_ != 0)                                                              \
      return rc_;                                                              \
  } while (0)

int cu_git_status(const cu_git_status_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_git_status";
  cu_git_status_opts o;
  LOAD(o, opts, cu_git_status_opts, CU_GIT_STATUS_OPTS_INIT);
  if (o.porcelain && o.short_format)
    return bad(what, "porcelain and short_format contradict each other");
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "status");
  if (o.porcelain)
    cu_cmd_arg(cmd, "--porcelain=v1");
  if (o.short_format)
    cu_cmd_arg(cmd, "--short");
  if (o.branch)
    cu_cmd_arg(cmd, "--branch");
  return finish(cmd, ret);
}

int cu_git_checkout(const cu_git_ref *ref, const cu_git_checkout_opts *opts,
                    cu_cmd **ret) {
  static const char what[] = "cu_git_checkout";
  cu_git_checkout_opts o;
  LOAD(o, opts, cu_git_checkout_opts, CU_GIT_CHECKOUT_OPTS_INIT);
  if (!ref)
    return bad(what, "ref is NULL");
  if (o.create && o.detach)
    return bad(what, "create and detach contradict each other (a new "
                     "branch is not a detached HEAD)");
  if (o.start && !o.create)
    return bad(what, "start is only meaningful with create");
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "checkout");
  if (o.create) {
    /* As the Python design: forcing a creation resets an existing branch
     * of that name (-B) instead of failing on it. */
    cu_cmd_arg(cmd, o.force ? "-B" : "-b");
  } else {
    if (o.detach)
      cu_cmd_arg(cmd, "--detach");
    if (o.force)
      cu_cmd_arg(cmd, "--force");
  }
  cu_cmd_arg(cmd, cu_git_ref_str(ref));
  if (o.start)
    cu_cmd_arg(cmd, cu_git_ref_str(o.start));
  cu_cmd_arg(cmd, "--"); /* what precedes is a revision, never a path */
  return finish(cmd, ret);
}

int cu_git_rev_parse(const cu_git_ref *ref, const cu_git_rev_parse_opts *opts,
                     cu_cmd **ret) {
  static const char what[] = "cu_git_rev_parse";
  cu_git_rev_parse_opts o;
  LOAD(o, opts, cu_git_rev_parse_opts, CU_GIT_REV_PARSE_OPTS_INIT);
  if (!ref)
    return bad(what, "ref is NULL");
  if (o.abbrev_ref && o.short_len)
    return bad(what, "abbrev_ref and short_len contradict each other");
  if (o.short_len && (o.short_len < 4 || o.short_len > 64))
    return bad(what, "short_len must be 0 or 4..64");
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "rev-parse");
  cu_cmd_arg(cmd, "--verify");
  if (o.quiet)
    cu_cmd_arg(cmd, "--quiet");
  if (o.short_len)
    cu_cmd_argf(cmd, "--short=%u", o.short_len);
  if (o.abbrev_ref)
    cu_cmd_arg(cmd, "--abbrev-ref");
  cu_cmd_arg(cmd, "--end-of-options");
  cu_cmd_arg(cmd, cu_git_ref_str(ref));
  return finish(cmd, ret);
}

/* A clone source: a URL or a path, never an option, never a transport that
 * runs a command. */
static int check_url(const char *what, const char *url) {
  int rc = check_text(what, "url", url, false);
  if (rc != 0)
    return rc;
  size_t n = strlen(url);
  if (url[0] == '-')
    return cu__arg_fail(CU_EINVAL, what, "dash", url, n);
  if (strncmp(url, "ext::", 5) == 0 || strncmp(url, "fd::", 4) == 0)
    return cu__arg_fail(CU_EINVAL, what, "transport", url, n);
  return 0;
}

int cu_git_clone(const char *url, const cu_safe_path *dest,
                 const cu_git_clone_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_git_clone";
  cu_git_clone_opts o;
  LOAD(o, opts, cu_git_clone_opts, CU_GIT_CLONE_OPTS_INIT);
  if (!dest)
    return bad(what, "dest is NULL");
  int rc = check_url(what, url);
  if (rc != 0)
    return rc;
  if (o.depth < 0)
    return bad(what, "depth is negative");
  cu_cmd *cmd = NULL;
  rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "clone");
  if (o.depth > 0)
    cu_cmd_argf(cmd, "--depth=%d", o.depth);
  if (o.branch)
    cu_cmd_args(cmd, "--branch", cu_git_ref_str(o.branch), (char *)NULL);
  if (o.bare)
    cu_cmd_arg(cmd, "--bare");
  cu_cmd_args(cmd, "--", url, cu_safe_path_str(dest), (char *)NULL);
  return finish(cmd, ret);
}

int cu_git_fetch(const cu_git_fetch_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_git_fetch";
  cu_git_fetch_opts o;
  LOAD(o, opts, cu_git_fetch_opts, CU_GIT_FETCH_OPTS_INIT);
  if (o.ref && !o.remote)
    return bad(what, "ref needs remote");
  if (o.depth < 0)
    return bad(what, "depth is negative");
  if (o.remote && strchr(cu_git_ref_str(o.remote), '/'))
    return cu__arg_fail(CU_EINVAL, what, "remote-name",
                        cu_git_ref_str(o.remote),
                        strlen(cu_git_ref_str(o.remote)));
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "fetch");
  if (o.prune)
    cu_cmd_arg(cmd, "--prune");
  if (o.tags)
    cu_cmd_arg(cmd, "--tags");
  if (o.depth > 0)
    cu_cmd_argf(cmd, "--depth=%d", o.depth);
  if (o.remote) {
    cu_cmd_arg(cmd, "--");
    cu_cmd_arg(cmd, cu_git_ref_str(o.remote));
    if (o.ref)
      cu_cmd_arg(cmd, cu_git_ref_str(o.ref));
  }
  return finish(cmd, ret);
}

int cu_git_log(const cu_git_log_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_git_log";
  cu_git_log_opts o;
  LOAD(o, opts, cu_git_log_opts, CU_GIT_LOG_OPTS_INIT);
  if (o.format) {
    int rc = check_text(what, "format", o.format, false);
    if (rc != 0)
      return rc;
  }
  if (o.max_count < 0)
    return bad(what, "max_count is negative");
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_args(cmd, "log", "--no-color", (char *)NULL);
  if (o.format)
    cu_cmd_argf(cmd, "--format=%s", o.format);
  if (o.max_count > 0)
    cu_cmd_argf(cmd, "--max-count=%d", o.max_count);
  if (o.ref)
    cu_cmd_arg(cmd, cu_git_ref_str(o.ref));
  cu_cmd_arg(cmd, "--");
  return finish(cmd, ret);
}

int cu_git_diff_stat(const cu_git_diff_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_git_diff_stat";
  cu_git_diff_opts o;
  LOAD(o, opts, cu_git_diff_opts, CU_GIT_DIFF_OPTS_INIT);
  if (o.to && !o.from)
    return bad(what, "to needs from");
  if (o.cached && o.to)
    return bad(what, "cached and to contradict each other (--cached "
                     "compares the index with one commit)");
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_args(cmd, "diff", "--stat", "--no-color", (char *)NULL);
  if (o.cached)
    cu_cmd_arg(cmd, "--cached");
  if (o.from)
    cu_cmd_arg(cmd, cu_git_ref_str(o.from));
  if (o.to)
    cu_cmd_arg(cmd, cu_git_ref_str(o.to));
  cu_cmd_arg(cmd, "--");
  return finish(cmd, ret);
}

int cu_git_init(const cu_safe_path *dir, const cu_git_init_opts *opts,
                cu_cmd **ret) {
  static const char what[] = "cu_git_init";
  cu_git_init_opts o;
  LOAD(o, opts, cu_git_init_opts, CU_GIT_INIT_OPTS_INIT);
  if (!dir)
    return bad(what, "dir is NULL");
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "init");
  if (o.bare)
    cu_cmd_arg(cmd, "--bare");
  if (o.quiet)
    cu_cmd_arg(cmd, "--quiet");
  if (o.initial_branch)
    cu_cmd_argf(cmd, "--initial-branch=%s", cu_git_ref_str(o.initial_branch));
  cu_cmd_args(cmd, "--", cu_safe_path_str(dir), (char *)NULL);
  return finish(cmd, ret);
}

int cu_git_add(const cu_safe_path *const *paths, size_t n_paths,
               const cu_git_add_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_git_add";
  cu_git_add_opts o;
  LOAD(o, opts, cu_git_add_opts, CU_GIT_ADD_OPTS_INIT);
  if (n_paths == 0 && !o.all)
    return bad(what, "no paths and not all: nothing to add");
  if (n_paths > 0 && !paths)
    return bad(what, "paths is NULL");
  for (size_t i = 0; i < n_paths; i++)
    if (!paths[i])
      return cu__fail(CU_EINVAL, "%s: paths[%zu] is NULL", what, i);
  cu_cmd *cmd = NULL;
  int rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "add");
  if (o.all)
    cu_cmd_arg(cmd, "--all");
  cu_cmd_arg(cmd, "--");
  for (size_t i = 0; i < n_paths; i++)
    cu_cmd_arg(cmd, cu_safe_path_str(paths[i]));
  return finish(cmd, ret);
}

int cu_git_commit(const char *message, const cu_git_commit_opts *opts,
                  cu_cmd **ret) {
  static const char what[] = "cu_git_commit";
  cu_git_commit_opts o;
  LOAD(o, opts, cu_git_commit_opts, CU_GIT_COMMIT_OPTS_INIT);
  int rc = check_text(what, "message", message, true);
  if (rc != 0)
    return rc;
  cu_cmd *cmd = NULL;
  rc = start(o.catalogue, CU_GIT, o.repo, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_arg(cmd, "commit");
  if (o.all)
    cu_cmd_arg(cmd, "--all");
  if (o.allow_empty)
    cu_cmd_arg(cmd, "--allow-empty");
  if (o.quiet)
    cu_cmd_arg(cmd, "--quiet");
  cu_cmd_argf(cmd, "--message=%s", message);
  return finish(cmd, ret);
}

/* ----------------------------------------------------------------- rsync */

static int check_patterns(const char *what, const char *field,
                          const char *const *p, size_t n) {
  if (n > 0 && !p)
    return cu__fail(CU_EINVAL, "%s: %s is NULL", what, field);
  for (size_t i = 0; i < n; i++) {
    int rc = check_text(what, field, p[i], false);
    if (rc != 0)
      return rc;
  }
  return 0;
}

/* rsync reads "host:path" when a ':' comes before the first '/'. */
static bool rsync_reads_remote(const char *s) {
  const char *colon = strchr(s, ':');
  const char *slash = strchr(s, '/');
  return colon && (!slash || colon < slash);
}

static void rsync_path(cu_cmd *cmd, const cu_safe_path *p) {
  const char *s = cu_safe_path_str(p);
  if (!cu_safe_path_is_absolute(p) && rsync_reads_remote(s))
    cu_cmd_argf(cmd, "./%s", s);
  else
    cu_cmd_arg(cmd, s);
}

int cu_rsync(const cu_safe_path *const *sources, size_t n_sources,
             const cu_safe_path *dest, const cu_rsync_opts *opts,
             cu_cmd **ret) {
  static const char what[] = "cu_rsync";
  cu_rsync_opts o;
  LOAD(o, opts, cu_rsync_opts, CU_RSYNC_OPTS_INIT);
  if (n_sources == 0 || !sources || !dest)
    return bad(what, "needs at least one source and a dest");
  for (size_t i = 0; i < n_sources; i++)
    if (!sources[i])
      return cu__fail(CU_EINVAL, "%s: sources[%zu] is NULL", what, i);
  if (o.delete_extraneous && !o.archive && !o.recursive)
    return bad(what, "delete_extraneous needs archive or recursive (rsync "
                     "refuses --delete without recursion)");
  int rc = check_patterns(what, "include", o.include, o.n_include);
  if (rc == 0)
    rc = check_patterns(what, "exclude", o.exclude, o.n_exclude);
  if (rc != 0)
    return rc;
  cu_cmd *cmd = NULL;
  rc = cu_cmd_new(o.catalogue, CU_RSYNC, &cmd);
  if (rc != 0)
    return rc;
  if (o.archive)
    cu_cmd_arg(cmd, "--archive");
  if (o.recursive)
    cu_cmd_arg(cmd, "--recursive");
  if (o.delete_extraneous)
    cu_cmd_arg(cmd, "--delete");
  if (o.dry_run)
    cu_cmd_arg(cmd, "--dry-run");
  if (o.verbose)
    cu_cmd_arg(cmd, "--verbose");
  if (o.compress)
    cu_cmd_arg(cmd, "--compress");
  for (size_t i = 0; i < o.n_include; i++)
    cu_cmd_argf(cmd, "--include=%s", o.include[i]);
  for (size_t i = 0; i < o.n_exclude; i++)
    cu_cmd_argf(cmd, "--exclude=%s", o.exclude[i]);
  cu_cmd_arg(cmd, "--");
  for (size_t i = 0; i < n_sources; i++)
    rsync_path(cmd, sources[i]);
  rsync_path(cmd, dest);
  return finish(cmd, ret);
}

/* ------------------------------------------------------------------- tar */

static int tar_start(const char *what, const cu_tar_opts *o, char mode,
                     const cu_safe_path *archive, cu_cmd **cmd) {
  if (!archive)
    return bad(what, "archive is NULL");
  if ((unsigned)o->compression > CU_TAR_XZ)
    return bad(what, "compression is not a cu_tar_compression");
  int rc = cu_cmd_new(o->catalogue, CU_TAR, cmd);
  if (rc != 0)
    return rc;
  cu_cmd_argf(*cmd, "-%c", mode);
  static const char *const flag[] = {NULL, NULL, "-z", "-j", "-J"};
  if (flag[o->compression])
    cu_cmd_arg(*cmd, flag[o->compression]);
  if (o->verbose)
    cu_cmd_arg(*cmd, "-v");
  cu_cmd_args(*cmd, "-f", cu_safe_path_str(archive), (char *)NULL);
  return 0;
}

int cu_tar_create(const cu_safe_path *archive,
                  const cu_safe_path *const *members, size_t n_members,
                  const cu_tar_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_tar_create";
  cu_tar_opts o;
  LOAD(o, opts, cu_tar_opts, CU_TAR_OPTS_INIT);
  if (n_members == 0 || !members)
    return bad(what, "needs at least one member");
  for (size_t i = 0; i < n_members; i++)
    if (!members[i])
      return cu__fail(CU_EINVAL, "%s: members[%zu] is NULL", what, i);
  if (o.allow_unsafe_members)
    return bad(what, "allow_unsafe_members is for extract only");
  cu_cmd *cmd = NULL;
  int rc = tar_start(what, &o, 'c', archive, &cmd);
  if (rc != 0)
    return rc;
  if (o.directory)
    cu_cmd_args(cmd, "-C", cu_safe_path_str(o.directory), (char *)NULL);
  cu_cmd_arg(cmd, "--");
  for (size_t i = 0; i < n_members; i++)
    cu_cmd_arg(cmd, cu_safe_path_str(members[i]));
  return finish(cmd, ret);
}

int cu_tar_list(const cu_safe_path *archive, const cu_tar_opts *opts,
                cu_cmd **ret) {
  static const char what[] = "cu_tar_list";
  cu_tar_opts o;
  LOAD(o, opts, cu_tar_opts, CU_TAR_OPTS_INIT);
  if (o.directory || o.allow_unsafe_members)
    return bad(what, "directory and allow_unsafe_members do not apply to "
                     "listing");
  cu_cmd *cmd = NULL;
  int rc = tar_start(what, &o, 't', archive, &cmd);
  if (rc != 0)
    return rc;
  return finish(cmd, ret);
}

int cu_tar_extract(const cu_safe_path *archive, const cu_safe_path *dest,
                   const cu_tar_opts *opts, cu_cmd **ret) {
  static const char what[] = "cu_tar_extract";
  cu_tar_opts o;
  LOAD(o, opts, cu_tar_opts, CU_TAR_OPTS_INIT);
  if (!dest)
    return bad(what, "dest is NULL");
  if (o.directory)
    return bad(what, "directory is for create; the destination is dest");
  cu_cmd *cmd = NULL;
  int rc = tar_start(what, &o, 'x', archive, &cmd);
  if (rc != 0)
    return rc;
  cu_cmd_args(cmd, "-C", cu_safe_path_str(dest), "--no-same-owner",
              "--no-same-permissions", "--no-overwrite-dir", (char *)NULL);
  if (o.allow_unsafe_members)
    cu_cmd_arg(cmd, "--absolute-names");
  return finish(cmd, ret);
}
