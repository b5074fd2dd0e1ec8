/* SPDX-License-Identifier: MIT */
/* Confinement rules as data: load, check and copy a cu_confine. */
#include <stdlib.h>
#include <string.h>

#include "base/internal.h"
#include "catalogue/confine_rules.h"

#define CU__CONFINE_MAX 256
#define CU__ACCESS_ALL (CU_ACCESS_READ | CU_ACCESS_WRITE | CU_ACCESS_EXEC)

static int check_list(const void *arr, size_t n, const char *what,
                      const char *field) {
  if (n && !arr)
    return cu__fail(CU_EINVAL, "%s.%s: the count is %zu but the array is "
                    "NULL", what, field, n);
  if (n > CU__CONFINE_MAX)
    return cu__fail(CU_EINVAL, "%s.%s: %zu entries (at most %d)", what, field,
                    n, CU__CONFINE_MAX);
  return 0;
}

int cu__confine_load(const cu_confine *src, cu_confine *dst,
                     const char *what) {
  int rc = CU__OPTS_LOAD(dst, src, cu_confine, CU_CONFINE_INIT);
  if (rc == 0)
    rc = check_list(dst->paths, dst->n_paths, what, "paths");
  if (rc == 0)
    rc = check_list(dst->connect, dst->n_connect, what, "connect");
  if (rc == 0)
    rc = check_list(dst->bind, dst->n_bind, what, "bind");
  for (size_t i = 0; rc == 0 && i < dst->n_paths; i++) {
    const cu_confine_path *p = &dst->paths[i];
    if (!p->path || p->path[0] != '/')
      rc = cu__fail(CU_EINVAL, "%s.paths[%zu]: %s (an absolute path is "
                    "needed)", what, i, p->path ? p->path : "NULL");
    else if (p->access == 0 || (p->access & ~(unsigned)CU__ACCESS_ALL))
      rc = cu__fail(CU_EINVAL, "%s.paths[%zu].access: %#x (CU_ACCESS_READ, "
                    "_WRITE and _EXEC bits, at least one)", what, i,
                    p->access);
  }
  return rc;
}

bool cu__confine_wanted(const cu_confine *c) {
  return c->no_new_privs || c->restrict_fs || c->n_paths ||
         c->restrict_connect || c->n_connect || c->restrict_bind ||
         c->n_bind;
}

int cu__confine_dup(const cu_confine *c, cu_confine **ret) {
  size_t size = sizeof *c + c->n_paths * sizeof *c->paths +
                (c->n_connect + c->n_bind) * sizeof(uint16_t);
  for (size_t i = 0; i < c->n_paths; i++)
    size += strlen(c->paths[i].path) + 1;
  /* The path array first (pointer alignment), then ports, then strings. */
  cu_confine *d = malloc(size);
  if (!d)
    return cu__fail(CU_ENOMEM, "copying confinement rules");
  *d = *c;
  cu_confine_path *paths = (cu_confine_path *)(d + 1);
  uint16_t *ports = (uint16_t *)(paths + c->n_paths);
  char *str = (char *)(ports + c->n_connect + c->n_bind);
  for (size_t i = 0; i < c->n_paths; i++) {
    size_t len = strlen(c->paths[i].path) + 1;
    memcpy(str, c->paths[i].path, len);
    paths[i] = (cu_confine_path){.path = str, .access = c->paths[i].access};
    str += len;
  }
  if (c->n_connect)
    memcpy(ports, c->connect, c->n_connect * sizeof *ports);
  if (c->n_bind)
    memcpy(ports + c->n_connect, c->bind, c->n_bind * sizeof *ports);
  d->paths = c->n_paths ? paths : NULL;
  d->connect = c->n_connect ? ports : NULL;
  d->bind = c->n_bind ? ports + c->n_connect : NULL;
  *ret = d;
  return 0;
}
