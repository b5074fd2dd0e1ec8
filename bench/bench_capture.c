/* SPDX-License-Identifier: MIT */
/*
 * Capture into memory, interleaved round by round in one run:
 *  - 100 MiB of text from `cat FILE`: cu_run() with default options (AUTO
 *    backend), forced splice and forced readwrite, against a raw ceiling
 *    (posix_spawn + one pipe + a read loop into a doubling buffer; with the
 *    kernel's 64 KiB pipe and with the pipe raised to 1 MiB); and,
 *    where the context API is present, cu_run() with one no-op line
 *    observer (CU_OBSERVE_LINES), which makes the library split and decode
 *    every line. Throughput is decimal GB/s (1e9 bytes per second).
 *  - the same 100 MiB echoed (CU_STREAM_ECHO) and teed (CU_STREAM_TEE) to
 *    /dev/null with each backend: fd-to-fd moves, where splice can help;
 *  - a memcpy of the payload, the memory-bandwidth ceiling;
 *  - 1 KB and 1 MiB payloads, per-run time with each backend.
 *
 *   bench_capture [RESULT.json]
 * Env: CUPRUM_BENCH_MIB (payload, default 100), CUPRUM_BENCH_SCALE.
 */
#include "bench_util.h"

#include <poll.h>

static cu_cmd *cat_big, *cat_1k, *cat_1m;
static size_t payload_len;

typedef struct variant {
  const char *name;
  void (*fn)(const struct variant *);
  const cu_cmd **cmd;        /* which payload */
  size_t len;                /* its size */
  cu_stream_backend backend; /* for cu_run variants */
  cu_stream_mode mode;       /* stdout: capture, or echo/tee to /dev/null */
  int raw_pipe_size;         /* raw variant: F_SETPIPE_SZ, 0 = kernel's */
  size_t per_batch;          /* runs per sample */
  double secs[BU_MAX_SAMPLES]; /* per-run seconds, one per round */
} variant;

/* The ceiling: what a hand-written spawn + read loop achieves. */
static void run_raw_capture(const variant *v) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    bu_die("pipe2: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  const char *const *argv = cu_cmd_argv(*v->cmd);
  pid_t pid;
  int rc = posix_spawn(&pid, cu_cmd_path(*v->cmd), &fa, NULL,
                       (char *const *)argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    bu_die("posix_spawn: %s", strerror(rc));
  close(p[1]);
  if (v->raw_pipe_size)
    (void)fcntl(p[0], F_SETPIPE_SZ, v->raw_pipe_size);
  size_t len;
  char *buf = bu_read_all(p[0], &len);
  close(p[0]);
  waitpid(pid, NULL, 0);
  if (len != v->len)
    bu_die("raw capture: %zu bytes, expected %zu", len, v->len);
  free(buf);
}

static int devnull = -1;

static void run_cu_capture(const variant *v) {
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .backend = v->backend,
                   .out = {.mode = v->mode, .echo_fd = devnull}};
  cu_result *r = NULL;
  bu_check(cu_run(*v->cmd, &o, &r), "cu_run(cat)");
  size_t want = v->mode == CU_STREAM_ECHO ? 0 : v->len;
  if (!r->ok || r->out.len != want)
    bu_die("%s: %zu bytes, expected %zu", v->name, r->out.len, want);
  r = cu_result_free(r);
}

/* The memory-bandwidth ceiling: the payload copied once, buffer to buffer
 * (both allocated and touched up front). */
static char *copy_src, *copy_dst;

static void run_memcpy(const variant *v) {
  memcpy(copy_dst, copy_src, v->len);
  __asm__ volatile("" : : "r"(copy_dst) : "memory");
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
static void run_cu_observed(const variant *v) {
  cu_hook *hook = NULL;
  bu_check(cu_scope_push(NULL), "cu_scope_push");
  bu_check(cu_observe(noop_observer, NULL, CU_OBSERVE_LINES, &hook),
           "cu_observe");
  lines_seen = 0;
  run_cu_capture(v);
  bu_check(cu_scope_pop(), "cu_scope_pop");
  cu_hook_unref(hook);
  if (lines_seen == 0)
    bu_die("the line observer saw no lines");
}
#endif

#define BIGM(nm, f, b, m)                                                      \
  {.name = nm, .fn = f, .cmd = (const cu_cmd **)&cat_big, .backend = b,        \
   .mode = m, .per_batch = 1}
#define BIG(nm, f, b) BIGM(nm, f, b, CU_STREAM_CAPTURE)
#define SMALL(nm, c, n, b, per)                                                \
  {.name = nm, .fn = run_cu_capture, .cmd = (const cu_cmd **)&c, .len = n,     \
   .backend = b, .per_batch = per}

/* Index 1 (plain cu_run) is the reference of the paired ratios. */
static variant big[] = {
    BIG("raw_read_loop_capture", run_raw_capture, CU_BACKEND_AUTO),
    {.name = "raw_read_loop_capture_1m_pipe", .fn = run_raw_capture,
     .cmd = (const cu_cmd **)&cat_big, .raw_pipe_size = 1 << 20,
     .per_batch = 1},
    BIG("cu_run_capture", run_cu_capture, CU_BACKEND_AUTO),
    BIG("cu_run_capture_splice", run_cu_capture, CU_BACKEND_SPLICE),
    BIG("cu_run_capture_readwrite", run_cu_capture, CU_BACKEND_READWRITE),
    BIG("memcpy_ceiling", run_memcpy, CU_BACKEND_AUTO),
    BIGM("cu_run_echo_devnull_splice", run_cu_capture, CU_BACKEND_SPLICE,
         CU_STREAM_ECHO),
    BIGM("cu_run_echo_devnull_readwrite", run_cu_capture, CU_BACKEND_READWRITE,
         CU_STREAM_ECHO),
    BIGM("cu_run_tee_devnull_splice", run_cu_capture, CU_BACKEND_SPLICE,
         CU_STREAM_TEE),
    BIGM("cu_run_tee_devnull_readwrite", run_cu_capture, CU_BACKEND_READWRITE,
         CU_STREAM_TEE),
#ifdef CU_OBSERVE_LINES
    BIG("cu_run_capture_line_observer", run_cu_observed, CU_BACKEND_AUTO),
#endif
};

static variant small[] = {
    SMALL("cu_run_1k_splice", cat_1k, 1000, CU_BACKEND_SPLICE, 40),
    SMALL("cu_run_1k_readwrite", cat_1k, 1000, CU_BACKEND_READWRITE, 40),
    SMALL("cu_run_1m_splice", cat_1m, 1 << 20, CU_BACKEND_SPLICE, 10),
    SMALL("cu_run_1m_readwrite", cat_1m, 1 << 20, CU_BACKEND_READWRITE, 10),
};

#define N_BIG (sizeof big / sizeof *big)
#define N_SMALL (sizeof small / sizeof *small)

/* Run the group's variants round by round, the order rotating. */
static void run_rounds(variant *v, size_t nv, size_t rounds) {
  for (size_t i = 0; i < nv; i++)
    v[i].fn(&v[i]); /* warm up: page cache, allocator */
  for (size_t r = 0; r < rounds; r++)
    for (size_t k = 0; k < nv; k++) {
      variant *x = &v[(r + k) % nv];
      double t0 = bu_now();
      for (size_t j = 0; j < x->per_batch; j++)
        x->fn(x);
      x->secs[r] = (bu_now() - t0) / (double)x->per_batch;
    }
}

static cu_cmd *cat_of(size_t bytes, const char *path) {
  bu_make_text_file(path, bytes);
  cu_cmd *c;
  bu_check(cu_cmd_new(NULL, CU_CAT, &c), "cu_cmd_new(cat)");
  bu_check(cu_cmd_arg(c, path), "cu_cmd_arg");
  return c;
}

/* Without splice (portable build), the splice rows become readwrite. */
static void drop_splice(variant *v, size_t nv) {
  cu_stream_backend b;
  if (cu_stream_backend_resolve(CU_BACKEND_SPLICE, &b) == 0)
    return;
  printf("(splice unavailable: splice rows run readwrite)\n");
  for (size_t i = 0; i < nv; i++)
    if (v[i].backend == CU_BACKEND_SPLICE)
      v[i].backend = CU_BACKEND_READWRITE;
}

/* The samples of the variant called `name` in v[0..nv). */
static const double *secs_of(const variant *v, size_t nv, const char *name) {
  for (size_t i = 0; i < nv; i++)
    if (strcmp(v[i].name, name) == 0)
      return v[i].secs;
  bu_die("no variant %s", name);
}

/* Speed of a against b (time b / time a), paired over n rounds. */
static void speed(const char *label, const variant *v, size_t nv,
                  const char *a, const char *b, size_t n) {
  bu_derive(label, bu_paired(secs_of(v, nv, b), secs_of(v, nv, a), n), NULL,
            0);
}

static void derive(size_t nb, size_t ns) {
  printf("derived (paired = median of same-round ratios):\n");
  bu_derive("cu_run_capture throughput, GB/s", bu_get("cu_run_capture"), ">=",
            1.0);
  speed("cu_run_capture / raw read loop, speed (paired)", big, N_BIG,
        "cu_run_capture", "raw_read_loop_capture", nb);
  speed("cu_run_capture / raw read loop with a 1 MiB pipe, speed (paired)",
        big, N_BIG, "cu_run_capture", "raw_read_loop_capture_1m_pipe", nb);
  speed("100 MiB: splice / readwrite, speed (paired)", big, N_BIG,
        "cu_run_capture_splice", "cu_run_capture_readwrite", nb);
  speed("echo to /dev/null: splice / readwrite, speed (paired)", big, N_BIG,
        "cu_run_echo_devnull_splice", "cu_run_echo_devnull_readwrite", nb);
  speed("tee to /dev/null: splice / readwrite, speed (paired)", big, N_BIG,
        "cu_run_tee_devnull_splice", "cu_run_tee_devnull_readwrite", nb);
  speed("1 KB: splice / readwrite, speed (paired)", small, N_SMALL,
        "cu_run_1k_splice", "cu_run_1k_readwrite", ns);
  speed("1 MiB: splice / readwrite, speed (paired)", small, N_SMALL,
        "cu_run_1m_splice", "cu_run_1m_readwrite", ns);
#ifdef CU_OBSERVE_LINES
  bu_derive("line observer: time / without observers (paired)",
            bu_paired(secs_of(big, N_BIG, "cu_run_capture_line_observer"),
                      secs_of(big, N_BIG, "cu_run_capture"), nb),
            "<=", 1.5);
#else
  printf("  (line observer: cu_observe not available in this build)\n");
#endif
}

/* Load the payload for the memcpy ceiling; open /dev/null for echo. */
static void setup_ceiling(const char *path) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    bu_die("%s: %s", path, strerror(errno));
  size_t len;
  copy_src = bu_read_all(fd, &len);
  close(fd);
  copy_dst = malloc(len);
  if (!copy_dst || len != payload_len)
    bu_die("cannot load %s", path);
  memset(copy_dst, 0, len);
  devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (devnull < 0)
    bu_die("/dev/null: %s", strerror(errno));
}

int main(int argc, char **argv) {
  const char *json = bu_json_arg(argc, argv, "bench_capture [RESULT.json]");
  payload_len = bu_payload_bytes();
  char path[64];
  snprintf(path, sizeof path, "/tmp/cuprum-bench-%zum.txt", payload_len >> 20);
  cat_big = cat_of(payload_len, path);
  cat_1k = cat_of(1000, "/tmp/cuprum-bench-1k.txt");
  cat_1m = cat_of(1 << 20, "/tmp/cuprum-bench-1m.txt");
  for (size_t i = 0; i < N_BIG; i++)
    big[i].len = payload_len;
  setup_ceiling(path);
  drop_splice(big, N_BIG);
  drop_splice(small, N_SMALL);
  printf("bench_capture: backend %s, %zu MiB of text\n", bu_backend(),
         payload_len >> 20);
  size_t nb = bu_reps(9), ns = bu_reps(15);
  run_rounds(big, N_BIG, nb);
  run_rounds(small, N_SMALL, ns);
  double v[BU_MAX_SAMPLES];
  for (size_t i = 0; i < N_BIG; i++) {
    for (size_t r = 0; r < nb; r++)
      v[r] = (double)payload_len / big[i].secs[r] / 1e9;
    bu_record(big[i].name, "GB/s", v, nb);
  }
  for (size_t i = 0; i < N_SMALL; i++) {
    for (size_t r = 0; r < ns; r++)
      v[r] = small[i].secs[r] * 1e6;
    bu_record(small[i].name, "us", v, ns);
  }
  derive(nb, ns);
  bu_write_json(json, "capture");
  cu_cmd_free(cat_big);
  cu_cmd_free(cat_1k);
  cu_cmd_free(cat_1m);
  free(copy_src);
  free(copy_dst);
  close(devnull);
  return 0;
}
