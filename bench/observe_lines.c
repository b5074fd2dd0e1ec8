/* SPDX-License-Identifier: MIT */
/*
 * Cost of line events: capture 100 MiB of text (80-byte lines) from `cat`
 * with no observer, with a no-op observer that does not ask for lines, and
 * with a no-op line observer (CU_OBSERVE_LINES). The goal is a line
 * observer costing at most 1.5x the unobserved run.
 *
 *   observe_lines [--reps N] [--mib M] [OUT.json]
 *
 * Every figure is the median of N runs (default 7); the ratio is of medians.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cuprum/cuprum.h>

#include "bench_util.h"

#define MAX_REPS 64

static int noop(void *data, const cu_event *ev) {
  (void)data;
  (void)ev;
  return 0;
}

/* One capture of `path`; returns seconds, or -1 on error. */
static double capture(const cu_cmd *cmd, size_t expect) {
  cu_result *res = NULL;
  double t0 = bu_now();
  int rc = cu_run(cmd, NULL, &res);
  double t = bu_now() - t0;
  bool ok = rc == 0 && res->ok && res->out.len == expect;
  if (!ok)
    fprintf(stderr, "observe_lines: run failed: %s\n", cu_last_error());
  res = cu_result_free(res);
  return ok ? t : -1;
}

/* Median seconds of `reps` captures with `flags` observer (-1 = none). */
static double median_run(const cu_cmd *cmd, size_t expect, int reps,
                         int flags) {
  double t[MAX_REPS];
  int rc;
  CU_SCOPE(rc, NULL) {
    if (flags >= 0 && cu_observe(noop, NULL, (unsigned)flags, NULL) != 0)
      return -1;
    for (int i = 0; i < reps; i++)
      if ((t[i] = capture(cmd, expect)) < 0)
        return -1;
  }
  if (rc != 0)
    return -1;
  qsort(t, (size_t)reps, sizeof *t, bu_cmp_double);
  return t[reps / 2];
}

/* Unknown arguments never become the output path. */
static _Noreturn void usage(const char *arg) {
  bool help = !strcmp(arg, "-h") || !strcmp(arg, "--help");
  if (!help)
    fprintf(stderr, "observe_lines: unknown argument '%s'\n", arg);
  fputs("usage: observe_lines [--reps N] [--mib N] [RESULT.json]\n",
        help ? stdout : stderr);
  exit(help ? 0 : 2);
}

int main(int argc, char **argv) {
  int reps = 7;
  size_t mib = 100;
  const char *json = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--mib") && i + 1 < argc)
      mib = (size_t)atol(argv[++i]);
    else if (argv[i][0] != '-' && argv[i][0] != '\0' && !json)
      json = argv[i];
    else
      usage(argv[i]);
  }
  if (reps < 1 || reps > MAX_REPS || mib < 1)
    return 2;
  size_t bytes = mib << 20;
  bytes -= bytes % 80;
  char path[] = "/tmp/cu_observe_lines_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || close(fd) != 0 || bu_make_lines(path, bytes) != 0)
    return 1;
  cu_cmd *cmd = NULL;
  if (cu_cmd_new(NULL, CU_CAT, &cmd) != 0 || cu_cmd_arg(cmd, path) != 0) {
    fprintf(stderr, "observe_lines: %s\n", cu_last_error());
    unlink(path);
    return 1;
  }
  double none = median_run(cmd, bytes, reps, -1);
  double events = median_run(cmd, bytes, reps, 0);
  double lines = median_run(cmd, bytes, reps, CU_OBSERVE_LINES);
  cu_cmd_free(cmd);
  unlink(path);
  if (none <= 0 || events <= 0 || lines <= 0)
    return 1;
  double mb = (double)bytes / 1e6;
  printf("capture %zu MiB of 80-byte lines from cat (median of %d)\n", mib,
         reps);
  printf("  %-28s %8.3f s %8.0f MB/s  %5.2fx\n", "no observer", none,
         mb / none, 1.0);
  printf("  %-28s %8.3f s %8.0f MB/s  %5.2fx\n", "observer without lines",
         events, mb / events, events / none);
  printf("  %-28s %8.3f s %8.0f MB/s  %5.2fx  (goal <= 1.50x)\n",
         "no-op line observer", lines, mb / lines, lines / none);
  if (json) {
    FILE *f = fopen(json, "we");
    if (!f)
      return 1;
    fprintf(f,
            "{\n  \"benchmark\": \"observe_lines\",\n  \"mib\": %zu,\n"
            "  \"reps\": %d,\n  \"none_s\": %.6f,\n  \"events_s\": %.6f,\n"
            "  \"lines_s\": %.6f,\n  \"lines_ratio\": %.4f\n}\n",
            mib, reps, none, events, lines, lines / none);
    fclose(f);
  }
  return 0;
}
