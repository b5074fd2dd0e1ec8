/* SPDX-License-Identifier: MIT */
/*
 * Capture of 100 MiB of text from `cat FILE` into memory: cu_run() with
 * default options against a raw ceiling (posix_spawn + one pipe + a read
 * loop into a doubling buffer), and, where the context API is present, the
 * same cu_run() with one no-op line observer (CU_OBSERVE_LINES), which
 * makes the library split and decode every line. Variants are interleaved
 * round by round; throughput is decimal GB/s (1e9 bytes per second).
 *
 *   bench_capture [RESULT.json]
 * Env: CUPRUM_BENCH_MIB (payload, default 100), CUPRUM_BENCH_SCALE.
 */
#include "bench_util.h"

#include <poll.h>

static cu_cmd *cat_cmd;
static const char *payload_path;
static size_t payload_len;

/* The ceiling: what a hand-written spawn + read loop achieves. */
static void run_raw_capture(void) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    bu_die("pipe2: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  char *argv[] = {(char *)"cat", (char *)payload_path, NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, cu_cmd_path(cat_cmd), &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    bu_die("posix_spawn: %s", strerror(rc));
  close(p[1]);
  size_t len;
  char *buf = bu_read_all(p[0], &len);
  close(p[0]);
  waitpid(pid, NULL, 0);
  if (len != payload_len)
    bu_die("raw capture: %zu bytes, expected %zu", len, payload_len);
  free(buf);
}

static void run_cu_capture(void) {
  cu_result r;
  bu_check(cu_run(cat_cmd, NULL, &r), "cu_run(cat)");
  if (!r.ok || r.out.len != payload_len)
    bu_die("cu_run capture: %zu bytes, expected %zu", r.out.len, payload_len);
  cu_result_free(&r);
}

#ifdef CU_OBSERVE_LINES
static size_t lines_seen;

static int noop_observer(void *data, const cu_event *ev) {
  (void)data;
  if (ev->phase == CU_EV_STDOUT_LINE)
    lines_seen++;
  return 0;
}

/* The same run inside a scope holding one line observer. */
static void run_cu_observed(void) {
  cu_hook *hook = NULL;
  bu_check(cu_scope_push(NULL), "cu_scope_push");
  bu_check(cu_observe(noop_observer, CU_OBSERVE_LINES, NULL, &hook),
           "cu_observe");
  lines_seen = 0;
  run_cu_capture();
  bu_check(cu_scope_pop(), "cu_scope_pop");
  cu_hook_free(hook);
  if (lines_seen == 0)
    bu_die("the line observer saw no lines");
}
#endif

typedef struct variant {
  const char *name;
  void (*fn)(void);
  double gbps[BU_MAX_SAMPLES];
} variant;

static variant variants[] = {
    {.name = "raw_read_loop_capture", .fn = run_raw_capture},
    {.name = "cu_run_capture", .fn = run_cu_capture},
#ifdef CU_OBSERVE_LINES
    {.name = "cu_run_capture_line_observer", .fn = run_cu_observed},
#endif
};
#define N_VARIANTS (sizeof variants / sizeof variants[0])

int main(int argc, char **argv) {
  payload_len = bu_payload_bytes();
  char path[64];
  snprintf(path, sizeof path, "/tmp/cuprum-bench-%zum.txt", payload_len >> 20);
  bu_make_text_file(path, payload_len);
  payload_path = path;
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_cmd), "cu_cmd_new(cat)");
  bu_check(cu_cmd_arg(cat_cmd, path), "cu_cmd_arg");
  printf("bench_capture: backend %s, %zu MiB of text from %s\n", bu_backend(),
         payload_len >> 20, path);

  size_t rounds = bu_reps(9);
  double paired[N_VARIANTS][BU_MAX_SAMPLES];
  for (size_t i = 0; i < N_VARIANTS; i++)
    variants[i].fn(); /* warm up: page cache, allocator */
  for (size_t r = 0; r < rounds; r++) {
    double secs[N_VARIANTS];
    for (size_t k = 0; k < N_VARIANTS; k++) {
      size_t i = (r + k) % N_VARIANTS;
      double t0 = bu_now();
      variants[i].fn();
      secs[i] = bu_now() - t0;
      variants[i].gbps[r] = (double)payload_len / secs[i] / 1e9;
    }
    for (size_t i = 0; i < N_VARIANTS; i++)
      paired[i][r] = secs[i] / secs[1]; /* time relative to plain cu_run */
  }
  for (size_t i = 0; i < N_VARIANTS; i++)
    bu_record(variants[i].name, "GB/s", variants[i].gbps, rounds);

  printf("derived (paired = median of same-round ratios):\n");
  bu_derive("cu_run_capture throughput, GB/s", bu_get("cu_run_capture"), ">=",
            1.0);
  bu_derive("cu_run_capture / raw read loop, throughput (paired)",
            1.0 / bu_median(paired[0], rounds), NULL, 0);
#ifdef CU_OBSERVE_LINES
  bu_derive("line observer: time / without observers (paired)",
            bu_median(paired[2], rounds), "<=", 1.5);
#else
  printf("  (line observer: cu_observe not available in this build)\n");
#endif
  bu_write_json(argc > 1 ? argv[1] : NULL, "capture");
  cu_cmd_free(cat_cmd);
  return 0;
}
