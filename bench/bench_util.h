/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the end-to-end benchmarks (bench/bench_*.c): clocks,
 * medians of repeated samples, the payload file, running a peer command
 * with posix_spawn, and one JSON results file per program.
 *
 * The machine these run on has two noisy cores, so a single timing means
 * little: every figure is the median of many samples, and every comparison
 * is a ratio of medians taken in the same run, with the variants interleaved
 * so that background noise hits all of them alike.
 *
 * Header-only (static functions): each bench_*.c is its own program.
 */
#ifndef CUPRUM_BENCH_UTIL_H
#define CUPRUM_BENCH_UTIL_H

#include <cuprum/cuprum.h>

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* Not every program uses every helper. */
#define BU_FN static __attribute__((unused))

#define BU_MIB (1024.0 * 1024.0)
#define BU_MAX_STATS 64
#define BU_MAX_SAMPLES 512

/** One measured figure: the summary of its samples. */
typedef struct bu_stat {
  char name[96];
  char unit[16];
  double median, min, max;
  size_t n;
} bu_stat;

/** A derived figure (ratio or throughput) with its goal. */
typedef struct bu_ratio {
  char name[96];
  double value;
  char goal[48]; /* e.g. "<= 1.05", "" when there is none */
  int met;       /* 1 met, 0 not met, -1 no goal */
} bu_ratio;

static bu_stat bu_stats[BU_MAX_STATS];
static size_t bu_n_stats;
static bu_ratio bu_ratios[BU_MAX_STATS];
static size_t bu_n_ratios;

BU_FN __attribute__((noreturn, format(printf, 1, 2))) void
bu_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  exit(1);
}

/*
 * Argument checking shared by every benchmark program. An argument a
 * program does not know must never become an output path: `--help` once
 * wrote a results file named "--help" at the repository root.
 * bu_usage() prints the usage line (stdout and exit 0 for -h/--help, stderr
 * and exit 2 otherwise); bu_is_help() tells which.
 */
BU_FN int bu_is_help(const char *arg) {
  return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

BU_FN __attribute__((noreturn)) void bu_usage(const char *arg,
                                               const char *usage) {
  int help = arg && bu_is_help(arg);
  if (arg && !help)
    fprintf(stderr, "bench: unknown argument '%s'\n", arg);
  fprintf(help ? stdout : stderr, "usage: %s\n", usage);
  exit(help ? 0 : 2);
}

/* The optional RESULT.json argument of a program that takes nothing else
 * (NULL when absent). Anything starting with '-', or a second argument, is
 * a usage error. */
BU_FN const char *bu_json_arg(int argc, char **argv, const char *usage) {
  for (int i = 1; i < argc; i++)
    if (argv[i][0] == '-' || argv[i][0] == '\0' || i > 1)
      bu_usage(argv[i], usage);
  return argc > 1 ? argv[1] : NULL;
}

/* Die with cuprum's own message when a library call fails. */
BU_FN void bu_check(int rc, const char *what) {
  if (rc < 0)
    bu_die("%s: %s (%s)", what, cu_strerror(rc), cu_last_error());
}

BU_FN double bu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

BU_FN int bu_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of v[0..n) (v is sorted in place). */
BU_FN double bu_median(double *v, size_t n) {
  if (n == 0)
    return 0.0;
  qsort(v, n, sizeof *v, bu_cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* A file of `bytes` (rounded up to whole lines) of 80-byte lines. */
BU_FN int bu_make_lines(const char *path, size_t bytes) {
  FILE *f = fopen(path, "we");
  if (!f)
    return -1;
  char line[80];
  memset(line, 'x', sizeof line - 1);
  line[sizeof line - 1] = '\n';
  for (size_t done = 0; done < bytes; done += sizeof line)
    fwrite(line, 1, sizeof line, f);
  return fclose(f);
}

/* Median over rounds of a[r] / b[r]: a ratio taken within each round, so
 * slow drifts in machine load cancel out. */
BU_FN double bu_paired(const double *a, const double *b, size_t n) {
  double q[BU_MAX_SAMPLES];
  for (size_t r = 0; r < n && r < BU_MAX_SAMPLES; r++)
    q[r] = a[r] / b[r];
  return bu_median(q, n < BU_MAX_SAMPLES ? n : BU_MAX_SAMPLES);
}

/* Summarise samples under `name`, print a table row, return the median. */
BU_FN double bu_record(const char *name, const char *unit, double *v,
                        size_t n) {
  if (bu_n_stats == BU_MAX_STATS)
    bu_die("too many figures");
  bu_stat *s = &bu_stats[bu_n_stats++];
  snprintf(s->name, sizeof s->name, "%s", name);
  snprintf(s->unit, sizeof s->unit, "%s", unit);
  s->median = bu_median(v, n);
  s->min = n ? v[0] : 0.0;
  s->max = n ? v[n - 1] : 0.0;
  s->n = n;
  printf("  %-40s %12.3f %-6s (min %.3f, max %.3f, n=%zu)\n", s->name,
         s->median, s->unit, s->min, s->max, n);
  return s->median;
}

/* The median of a recorded figure, by name (dies when absent). */
BU_FN double bu_get(const char *name) {
  for (size_t i = 0; i < bu_n_stats; i++)
    if (strcmp(bu_stats[i].name, name) == 0)
      return bu_stats[i].median;
  bu_die("no figure named %s", name);
}

/*
 * Record a derived figure. `goal_op` is "<=", ">=" or NULL (no goal);
 * `goal` is the bound it is compared with.
 */
BU_FN void bu_derive(const char *name, double value, const char *goal_op,
                      double goal) {
  if (bu_n_ratios == BU_MAX_STATS)
    bu_die("too many derived figures");
  bu_ratio *r = &bu_ratios[bu_n_ratios++];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->value = value;
  r->met = -1;
  r->goal[0] = 0;
  if (goal_op) {
    snprintf(r->goal, sizeof r->goal, "%s %g", goal_op, goal);
    r->met = goal_op[0] == '<' ? value <= goal : value >= goal;
  }
  printf("  %-56s %9.3f  %s%s\n", r->name, r->value, r->goal,
         r->met < 0 ? "" : r->met ? "  met" : "  NOT met");
}

/* The stream backend the library resolves AUTO to in this process. */
BU_FN const char *bu_backend(void) {
  cu_stream_backend b = CU_BACKEND_AUTO;
  if (cu_stream_backend_resolve(CU_BACKEND_AUTO, &b) < 0)
    return "unresolved";
  return cu_stream_backend_name(b);
}

BU_FN void bu_json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\')
      fputc('\\', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

/* Write every recorded figure as JSON to `path` (NULL: nothing). */
BU_FN void bu_write_json(const char *path, const char *bench) {
  if (!path)
    return;
  FILE *f = fopen(path, "w");
  if (!f)
    bu_die("%s: %s", path, strerror(errno));
  fprintf(f, "{\n  \"bench\": ");
  bu_json_str(f, bench);
  fprintf(f, ",\n  \"backend\": ");
  bu_json_str(f, bu_backend());
  fprintf(f, ",\n  \"ncpu\": %ld,\n  \"figures\": [\n",
          sysconf(_SC_NPROCESSORS_ONLN));
  for (size_t i = 0; i < bu_n_stats; i++) {
    const bu_stat *s = &bu_stats[i];
    fprintf(f, "    {\"name\": ");
    bu_json_str(f, s->name);
    fprintf(f, ", \"unit\": ");
    bu_json_str(f, s->unit);
    fprintf(f,
            ", \"median\": %.6g, \"min\": %.6g, \"max\": %.6g, \"n\": %zu}%s\n",
            s->median, s->min, s->max, s->n, i + 1 < bu_n_stats ? "," : "");
  }
  fprintf(f, "  ],\n  \"derived\": [\n");
  for (size_t i = 0; i < bu_n_ratios; i++) {
    const bu_ratio *r = &bu_ratios[i];
    fprintf(f, "    {\"name\": ");
    bu_json_str(f, r->name);
    fprintf(f, ", \"value\": %.6g, \"goal\": ", r->value);
    bu_json_str(f, r->goal);
    fprintf(f, ", \"met\": %s}%s\n",
            r->met < 0 ? "null" : r->met ? "true" : "false",
            i + 1 < bu_n_ratios ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  if (fclose(f) != 0)
    bu_die("%s: write failed", path);
}

/*
 * Make (or reuse) a text payload of exactly `bytes` bytes at `path`: lines
 * of 20 to 119 printable characters, so line splitting has real work to do.
 */
BU_FN void bu_make_text_file(const char *path, size_t bytes) {
  struct stat st;
  if (stat(path, &st) == 0 && (size_t)st.st_size == bytes)
    return;
  FILE *f = fopen(path, "w");
  if (!f)
    bu_die("%s: %s", path, strerror(errno));
  static const char alpha[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
  char line[128];
  size_t done = 0;
  unsigned seed = 12345;
  while (done < bytes) {
    seed = seed * 1103515245u + 12345u;
    size_t len = 20 + (seed >> 16) % 100;
    for (size_t i = 0; i < len; i++)
      line[i] = alpha[(seed >> (i % 16)) % (sizeof alpha - 1)];
    line[len++] = '\n';
    if (len > bytes - done)
      len = bytes - done;
    if (fwrite(line, 1, len, f) != len)
      bu_die("%s: short write", path);
    done += len;
  }
  if (fclose(f) != 0)
    bu_die("%s: write failed", path);
}

/*
 * Run a peer command (argv[0] an absolute path) to completion with stdin
 * from `in_path` (NULL: inherit) and stdout to /dev/null when `quiet`.
 * Returns its wait status.
 */
BU_FN int bu_spawn_wait(char *const argv[], const char *in_path, int quiet) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (in_path)
    posix_spawn_file_actions_addopen(&fa, 0, in_path, O_RDONLY, 0);
  if (quiet)
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    bu_die("posix_spawn %s: %s", argv[0], strerror(rc));
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      bu_die("waitpid: %s", strerror(errno));
  return status;
}

/* Read fd to EOF into a doubling malloc'd buffer, as a hand-written
 * capture would; returns the buffer (caller frees) and its length. */
BU_FN char *bu_read_all(int fd, size_t *ret_len) {
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf)
      bu_die("out of memory");
    if (len == cap)
      buf = realloc(buf, cap *= 2);
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      bu_die("read: %s", strerror(errno));
    if (n == 0)
      break;
    len += (size_t)n;
  }
  *ret_len = len;
  return buf;
}

/* The payload size in MiB: env CUPRUM_BENCH_MIB (default 100). */
BU_FN size_t bu_payload_bytes(void) {
  const char *s = getenv("CUPRUM_BENCH_MIB");
  long mib = s ? strtol(s, NULL, 10) : 100;
  if (mib <= 0)
    mib = 100;
  return (size_t)mib * 1024 * 1024;
}

/* Repetitions scaled by env CUPRUM_BENCH_SCALE (percent, default 100). */
BU_FN size_t bu_reps(size_t n) {
  const char *s = getenv("CUPRUM_BENCH_SCALE");
  long pct = s ? strtol(s, NULL, 10) : 100;
  if (pct <= 0)
    pct = 100;
  size_t r = n * (size_t)pct / 100;
  return r < 3 ? 3 : r > BU_MAX_SAMPLES ? BU_MAX_SAMPLES : r;
}

#endif /* CUPRUM_BENCH_UTIL_H */
