/* SPDX-License-Identifier: MIT */
/*
 * What the CU_STDIN_BYTES snapshot costs (docs/performance.md, "Stdin
 * snapshot"): `cat` fed MIB MiB from memory, stdout discarded, with each
 * backend, by cu_run() (the caller is blocked: written straight from its
 * buffer) and by a loop task (the run copies the buffer at start); and a
 * bare memcpy of the same bytes into memory already faulted in. Median of 9 runs
 * after one warm-up. Build it against another libcuprum (an older one,
 * which fed the caller's pages by vmsplice) to compare.
 *
 *   stdin_snapshot [MIB]
 */
#include <cuprum/cuprum.h>

#include "bench_util.h"
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUNS 9

/* Unknown arguments are rejected, never taken for a size. */
static _Noreturn void usage(const char *arg) {
  bool help = !strcmp(arg, "-h") || !strcmp(arg, "--help");
  if (!help)
    fprintf(stderr, "stdin_snapshot: unknown argument '%s'\n", arg);
  fputs("usage: stdin_snapshot [MIB]\n", help ? stdout : stderr);
  exit(help ? 0 : 2);
}

int main(int argc, char **argv) {
  size_t mib = 100;
  if (argc > 2)
    usage(argv[2]);
  if (argc == 2) {
    char *end = NULL;
    unsigned long v = strtoul(argv[1], &end, 10);
    if (argv[1][0] < '0' || argv[1][0] > '9' || *end != '\0' || v == 0 ||
        v > 4096)
      usage(argv[1]);
    mib = (size_t)v;
  }
  size_t len = mib << 20;
  char *buf = malloc(len), *copy = malloc(len);
  if (!buf || !copy)
    return 1;
  memset(buf, 'x', len);
  memset(copy, 0, len);
  cu_cmd *cat = NULL;
  if (cu_cmd_new(NULL, CU_CAT, &cat) != 0) {
    fprintf(stderr, "%s\n", cu_last_error());
    return 1;
  }
  const cu_stream_backend backends[] = {CU_BACKEND_SPLICE,
                                        CU_BACKEND_READWRITE};
  for (size_t b = 0; b < 2; b++) {
    cu_run_opts o = {.size = sizeof(cu_run_opts),
                     .in = {.mode = CU_STDIN_BYTES, .data = buf, .len = len},
                     .out = {.mode = CU_STREAM_DISCARD},
                     .backend = backends[b]};
    double t[RUNS];
    for (int i = -1; i < RUNS; i++) {
      cu_result *r = NULL;
      double t0 = bu_now();
      if (cu_run(cat, &o, &r) != 0 || !r->ok) {
        fprintf(stderr, "run failed: %s\n", cu_last_error());
        return 1;
      }
      if (i >= 0)
        t[i] = bu_now() - t0;
      r = cu_result_free(r);
    }
    double m = bu_median(t, RUNS);
    printf("cu_run    cat, %zu MiB stdin, %-9s %8.2f ms  %6.2f GB/s\n", mib,
           cu_stream_backend_name(backends[b]), m * 1e3, (double)len / m / 1e9);
  }
  /* A loop task: the caller has its buffer back at once, so the run
   * copies it (the cost being measured). */
  for (size_t b = 0; b < 2; b++) {
    cu_run_opts o = {.size = sizeof(cu_run_opts),
                     .in = {.mode = CU_STDIN_BYTES, .data = buf, .len = len},
                     .out = {.mode = CU_STREAM_DISCARD},
                     .backend = backends[b]};
    double t[RUNS];
    for (int i = -1; i < RUNS; i++) {
      cu_loop *loop = NULL;
      cu_task *task = NULL;
      const cu_result *r = NULL; /* owned by the task */
      double t0 = bu_now();
      if (cu_loop_new(&loop) != 0 || cu_loop_spawn(loop, cat, &o, &task) ||
          cu_task_wait(task, &r) != 0 || !r->ok) {
        fprintf(stderr, "task failed: %s\n", cu_last_error());
        return 1;
      }
      if (i >= 0)
        t[i] = bu_now() - t0;
      cu_task_free(task);
      cu_loop_free(loop);
    }
    double m = bu_median(t, RUNS);
    printf("loop task cat, %zu MiB stdin, %-9s %8.2f ms  %6.2f GB/s\n", mib,
           cu_stream_backend_name(backends[b]), m * 1e3, (double)len / m / 1e9);
  }
  double t[RUNS];
  for (int i = -1; i < RUNS; i++) {
    double t0 = bu_now();
    memcpy(copy, buf, len);
    __asm__ volatile("" : : "r"(copy) : "memory");
    if (i >= 0)
      t[i] = bu_now() - t0;
    buf[i + 1] ^= 1; /* a fresh copy each time */
  }
  double m = bu_median(t, RUNS);
  printf("memcpy %zu MiB                          %8.2f ms  %6.2f GB/s\n", mib,
         m * 1e3, (double)len / m / 1e9);
  cu_cmd_free(cat);
  free(buf);
  free(copy);
  return 0;
}
