/* SPDX-License-Identifier: MIT */
/* --landlock-*, --connect, --bind, --no-new-privs (confine_opts.h). */
#include "confine_opts.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int add_path(cli_confine_opts *o, const char *sub, const char *opt,
                    const char *path, unsigned access) {
  if (path[0] != '/')
    return cli_usage_error(sub, "%s: '%s' is not an absolute path", opt,
                           path);
  if (o->c.n_paths == sizeof o->paths / sizeof o->paths[0])
    return cli_usage_error(sub, "%s: too many paths", opt);
  o->paths[o->c.n_paths++] = (cu_confine_path){path, access};
  o->c.paths = o->paths;
  return 0;
}

/* "22,443" or "none" into `ports` (capacity 32), appending to *n. */
static int add_ports(const char *sub, const char *opt, const char *arg,
                     uint16_t *ports, size_t *n) {
  if (strcmp(arg, "none") == 0)
    return 0;
  if (arg[0] == '\0')
    return cli_usage_error(sub, "%s: no port given (a list of TCP ports, or "
                           "'none')", opt);
  for (const char *p = arg; *p;) {
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (p[0] < '0' || p[0] > '9' || errno || v > 65535 ||
        (*end && *end != ','))
      return cli_usage_error(sub, "%s: '%s' is not a list of TCP ports "
                             "(0-65535) or 'none'", opt, arg);
    if (*n == 32)
      return cli_usage_error(sub, "%s: too many ports", opt);
    ports[(*n)++] = (uint16_t)v;
    p = *end ? end + 1 : end;
  }
  return 0;
}

int cli_confine_option(cli_confine_opts *o, const char *sub, int opt,
                       const char *arg) {
  int rc = 0;
  switch (opt) {
  case CLI_OPT_LANDLOCK_RO:
    rc = add_path(o, sub, "--landlock-ro", arg, CU_ACCESS_READ);
    break;
  case CLI_OPT_LANDLOCK_RW:
    rc = add_path(o, sub, "--landlock-rw", arg,
                  CU_ACCESS_READ | CU_ACCESS_WRITE);
    break;
  case CLI_OPT_LANDLOCK_EXEC:
    rc = add_path(o, sub, "--landlock-exec", arg,
                  CU_ACCESS_READ | CU_ACCESS_EXEC);
    break;
  case CLI_OPT_LANDLOCK:
    o->c.restrict_fs = true;
    break;
  case CLI_OPT_CONNECT:
    o->c.restrict_connect = true;
    o->c.connect = o->connect;
    rc = add_ports(sub, "--connect", arg, o->connect, &o->c.n_connect);
    break;
  case CLI_OPT_BIND:
    o->c.restrict_bind = true;
    o->c.bind = o->bind;
    rc = add_ports(sub, "--bind", arg, o->bind, &o->c.n_bind);
    break;
  case CLI_OPT_NO_NEW_PRIVS:
    o->c.no_new_privs = true;
    break;
  case CLI_OPT_CONFINE_BEST_EFFORT:
    o->c.best_effort = true;
    break;
  default:
    return -1;
  }
  o->c.size = sizeof o->c;
  o->any = true;
  return rc;
}

void cli_confine_apply(const cli_confine_opts *o, cu_run_opts *ro) {
  ro->confine = o->any ? &o->c : NULL;
}
