/* SPDX-License-Identifier: MIT */
/* Registration sugar (cuprum/sh.h): a process-wide name -> (catalogue,
 * program) registry and name-based runs through cu_cmd_new() + cu_run(). */
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/cmd_int.h"
#include "cuprum/cmd.h"
#include "cuprum/error.h"
#include "cuprum/sh.h"

#define NAME_MAX_LEN 64

typedef struct sh_entry {
  char *name;
  char *program; /* the cu_program's name, copied */
  cu_catalogue *cat; /* reference held; NULL = default catalogue */
  struct sh_entry *next;
} sh_entry;

static pthread_mutex_t sh_lock = PTHREAD_MUTEX_INITIALIZER;
static sh_entry *sh_names; /* guarded by sh_lock */

static bool name_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > NAME_MAX_LEN || s[0] == '-')
    return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '+' ||
              c == '-';
    if (!ok)
      return false;
  }
  return true;
}

static void entry_free(sh_entry *e) {
  if (!e)
    return;
  free(e->name);
  free(e->program);
  if (e->cat)
    cu__catalogue_unref(e->cat);
  free(e);
}

int cu_sh_register(const cu_catalogue *cat, const char *name,
                   cu_program program) {
  if (!name || !program.name)
    return cu__fail(CU_EINVAL, "cu_sh_register: name or program is NULL");
  if (!name_ok(name))
    return cu__fail(CU_EINVAL,
                    "cu_sh_register: a name is 1..64 bytes of "
                    "[A-Za-z0-9._+-], not starting with '-'");
  /* Checked now, so a bad registration fails where it is written. */
  cu_cmd *probe = NULL;
  int rc = cu_cmd_new(cat, program, &probe);
  if (rc != 0)
    return rc;
  cu_cmd_free(probe);
  sh_entry *e = calloc(1, sizeof *e);
  if (!e)
    return cu__fail(CU_ENOMEM, "cu_sh_register: out of memory");
  e->name = strdup(name);
  e->program = strdup(program.name);
  e->cat = cat ? cu__catalogue_ref(cat) : NULL;
  if (!e->name || !e->program) {
    entry_free(e);
    return cu__fail(CU_ENOMEM, "cu_sh_register: out of memory");
  }
  pthread_mutex_lock(&sh_lock);
  sh_entry *old = NULL;
  for (sh_entry **p = &sh_names; *p; p = &(*p)->next)
    if (strcmp((*p)->name, name) == 0) {
      old = *p;
      *p = old->next;
      break;
    }
  e->next = sh_names;
  sh_names = e;
  pthread_mutex_unlock(&sh_lock);
  entry_free(old);
  return 0;
}

void cu_sh_reset(void) {
  pthread_mutex_lock(&sh_lock);
  sh_entry *all = sh_names;
  sh_names = NULL;
  pthread_mutex_unlock(&sh_lock);
  while (all) {
    sh_entry *next = all->next;
    entry_free(all);
    all = next;
  }
}

/* Build the command for a registered name: a reference to the catalogue is
 * taken under the lock so a concurrent re-registration cannot free it. */
static int sh_cmd(const char *name, cu_cmd **ret) {
  if (!name)
    return cu__fail(CU_EINVAL, "cu_sh: name is NULL");
  cu_catalogue *cat = NULL;
  char *program = NULL;
  bool found = false;
  pthread_mutex_lock(&sh_lock);
  for (sh_entry *e = sh_names; e; e = e->next)
    if (strcmp(e->name, name) == 0) {
      found = true;
      cat = e->cat ? cu__catalogue_ref(e->cat) : NULL;
      program = strdup(e->program);
      break;
    }
  pthread_mutex_unlock(&sh_lock);
  if (!found)
    return cu__fail(CU_EUNKNOWN_PROGRAM,
                    "cu_sh: \"%.64s\" is not a registered name "
                    "(cu_sh_register); nothing was run",
                    name);
  int rc = program ? cu_cmd_new(cat, CU_PROGRAM(program), ret)
                   : cu__fail(CU_ENOMEM, "cu_sh: out of memory");
  free(program);
  if (cat)
    cu__catalogue_unref(cat);
  return rc;
}

int cu_sh_run(const char *name, const char *const *args,
              const cu_run_opts *opts, cu_result **ret) {
  if (!ret)
    return cu__fail(CU_EINVAL, "cu_sh_run: ret is NULL");
  *ret = NULL; /* as documented, when no command could be made */
  cu_cmd *cmd = NULL;
  int rc = sh_cmd(name, &cmd);
  if (rc != 0)
    return rc;
  for (const char *const *a = args; a && *a; a++)
    cu_cmd_arg(cmd, *a);
  rc = cu_run(cmd, opts, ret);
  cu_cmd_free(cmd);
  return rc;
}

int cu_sh(const char *name, ...) {
  cu_cmd *cmd = NULL;
  int rc = sh_cmd(name, &cmd);
  if (rc != 0)
    return rc;
  va_list ap;
  va_start(ap, name);
  cu_cmd_vargs(cmd, ap);
  va_end(ap);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.out.mode = CU_STREAM_INHERIT;
  o.err.mode = CU_STREAM_INHERIT;
  cu_result *res = NULL;
  rc = cu_run(cmd, &o, &res);
  cu_cmd_free(cmd);
  if (rc == 0 && res)
    rc = res->term_signal ? 128 + res->term_signal : res->exit_code;
  cu_result_free(res);
  return rc;
}
