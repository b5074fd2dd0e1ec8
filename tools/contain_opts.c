/* SPDX-License-Identifier: MIT */
/* --contain, --limit, --cgroup-parent, --time (contain_opts.h). */
#include "contain_opts.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct {
  const char *key;
  cu_limit_kind kind;
  char unit; /* 's' seconds, 'b' bytes, 'n' count, 'f' CPU fraction */
} keys[] = {
    {"cpu", CU_LIMIT_CPU, 's'},       {"as", CU_LIMIT_AS, 'b'},
    {"data", CU_LIMIT_DATA, 'b'},     {"nofile", CU_LIMIT_NOFILE, 'n'},
    {"nproc", CU_LIMIT_NPROC, 'n'},   {"core", CU_LIMIT_CORE, 'b'},
    {"fsize", CU_LIMIT_FSIZE, 'b'},   {"mem", CU_LIMIT_MEMORY_MAX, 'b'},
    {"pids", CU_LIMIT_PIDS_MAX, 'n'}, {"cpus", CU_LIMIT_CPU_MAX, 'f'},
};

/* A value in the key's unit: seconds (s, m, h suffixes), bytes (K, M, G,
 * T: powers of 1024), counts, or a CPU fraction (0.5 = half a CPU, stored
 * in thousandths). 0 on success, -1 when malformed. */
static int parse_value(const char *text, size_t len, char unit,
                       uint64_t *ret) {
  char buf[64];
  if (len == 0 || len >= sizeof buf || text[0] < '0' || text[0] > '9')
    return -1;
  memcpy(buf, text, len);
  buf[len] = '\0';
  char *end = NULL;
  errno = 0;
  if (unit == 'f') {
    double v = strtod(buf, &end);
    if (errno || *end || v <= 0 || v > 1e6)
      return -1;
    *ret = (uint64_t)(v * 1000 + 0.5);
    return 0;
  }
  unsigned long long v = strtoull(buf, &end, 10);
  if (errno)
    return -1;
  unsigned long long mul = 1;
  if (unit == 's' && *end)
    mul = *end == 's' ? 1 : *end == 'm' ? 60 : *end == 'h' ? 3600 : 0;
  else if (unit == 'b' && *end)
    mul = *end == 'K'   ? 1ULL << 10
          : *end == 'M' ? 1ULL << 20
          : *end == 'G' ? 1ULL << 30
          : *end == 'T' ? 1ULL << 40
                        : 0;
  else if (*end)
    mul = 0;
  if (mul == 0 || (*end && end[1]) || v > UINT64_MAX / 2 / mul)
    return -1;
  *ret = v * mul;
  return 0;
}

static int parse_limits(cli_contain_opts *o, const char *sub,
                        const char *arg) {
  for (const char *p = arg; *p;) {
    size_t len = strcspn(p, ",");
    if (len == 11 && strncmp(p, "best-effort", 11) == 0) {
      o->best_effort = true;
    } else {
      const char *eq = memchr(p, '=', len);
      size_t k = 0;
      while (eq && k < sizeof keys / sizeof keys[0] &&
             !(strlen(keys[k].key) == (size_t)(eq - p) &&
               strncmp(keys[k].key, p, (size_t)(eq - p)) == 0))
        k++;
      if (!eq || k == sizeof keys / sizeof keys[0])
        return cli_usage_error(sub, "--limit: '%.*s' is not KEY=VALUE with "
                               "KEY one of cpu, as, data, nofile, nproc, "
                               "core, fsize, mem, pids, cpus (or "
                               "best-effort)",
                               (int)len, p);
      uint64_t v = 0;
      if (parse_value(eq + 1, len - (size_t)(eq + 1 - p), keys[k].unit,
                      &v) != 0)
        return cli_usage_error(sub, "--limit: bad value in '%.*s'",
                               (int)len, p);
      if (o->n_limits == sizeof o->limits / sizeof o->limits[0])
        return cli_usage_error(sub, "--limit: too many limits");
      o->limits[o->n_limits++] = (cu_limit){keys[k].kind, v};
    }
    p += len;
    if (*p == ',')
      p++;
  }
  return 0;
}

int cli_contain_option(cli_contain_opts *o, const char *sub, int opt,
                       const char *arg) {
  switch (opt) {
  case CLI_OPT_CONTAIN:
    if (!arg)
      o->contain = CU_CONTAIN_REQUIRE;
    else if (strcmp(arg, "best-effort") == 0)
      o->contain = CU_CONTAIN_BEST_EFFORT;
    else
      return cli_usage_error(sub, "--contain: '%s' is not best-effort", arg);
    return 0;
  case CLI_OPT_LIMIT:
    return parse_limits(o, sub, arg);
  case CLI_OPT_CGROUP_PARENT:
    o->cgroup_parent = arg;
    return 0;
  case CLI_OPT_TIME:
    o->time = true;
    return 0;
  default:
    return -1;
  }
}

void cli_contain_apply(const cli_contain_opts *o, cu_run_opts *ro) {
  ro->contain = o->contain;
  ro->limits = o->n_limits ? o->limits : NULL;
  ro->n_limits = o->n_limits;
  ro->limits_best_effort = o->best_effort;
  ro->cgroup_parent = o->cgroup_parent;
}

void cli_print_time(FILE *f, const cu_result *r) {
  int64_t el_ms = r->duration_ns / 1000000;
  fprintf(f,
          "cuprum: %lld.%02llds user %lld.%02llds system "
          "%lld:%02lld.%02lld elapsed %lldKiB maxrss",
          (long long)(r->user_cpu_us / 1000000),
          (long long)(r->user_cpu_us % 1000000 / 10000),
          (long long)(r->sys_cpu_us / 1000000),
          (long long)(r->sys_cpu_us % 1000000 / 10000),
          (long long)(el_ms / 60000), (long long)(el_ms / 1000 % 60),
          (long long)(el_ms % 1000 / 10), (long long)r->max_rss_kb);
  if (r->contained) {
    fprintf(f, "; cgroup %lld.%02llds cpu",
            (long long)(r->cgroup_cpu_us / 1000000),
            (long long)(r->cgroup_cpu_us % 1000000 / 10000));
    if (r->cgroup_mem_peak >= 0)
      fprintf(f, " %lldKiB mempeak", (long long)(r->cgroup_mem_peak / 1024));
  }
  const char *note = cu_result_contain_note(r);
  if (note && *note)
    fprintf(f, " (%s)", note);
  fputc('\n', f);
}
