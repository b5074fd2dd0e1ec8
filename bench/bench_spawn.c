/* SPDX-License-Identifier: MIT */
/*
 * Per-run cost of /bin/true: cu_run() (default options: stdout and stderr
 * captured; and with every stream inherited, like for like with the raw
 * call) against raw posix_spawn + waitpid, interleaved batch by batch in one
 * run. Then the same with the parent holding 1 GiB of touched memory, where
 * fork + exec + waitpid is shown as the contrast (fork copies the page
 * tables; posix_spawn uses clone(CLONE_VM|CLONE_VFORK) and does not).
 *
 *   bench_spawn [RESULT.json]
 * Each round runs a batch of every small-parent variant, then (in the
 * first 13 rounds) touches 1 GiB, runs a batch of every 1 GiB variant and
 * frees it; ratios are medians of same-round ratios.
 * Env: CUPRUM_BENCH_SCALE (percent of the default repetitions),
 *      CUPRUM_BENCH_NO_GIB=1 (skip the 1 GiB part).
 */
#include "bench_util.h"

typedef void (*variant_fn)(void);

static cu_cmd *true_cmd;
static const char *true_path;

static void wait_child(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR)
      bu_die("waitpid: %s", strerror(errno));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    bu_die("%s did not exit 0", true_path);
}

static void run_raw_spawn(void) {
  char *argv[] = {(char *)"true", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, true_path, NULL, NULL, argv, environ);
  if (rc != 0)
    bu_die("posix_spawn: %s", strerror(rc));
  wait_child(pid);
}

static void run_fork_exec(void) {
  char *argv[] = {(char *)"true", NULL};
  pid_t pid = fork();
  if (pid < 0)
    bu_die("fork: %s", strerror(errno));
  if (pid == 0) {
    execve(true_path, argv, environ);
    _exit(127);
  }
  wait_child(pid);
}

static void run_cu(const cu_run_opts *opts) {
  cu_result r;
  bu_check(cu_run(true_cmd, opts, &r), "cu_run");
  if (!r.ok)
    bu_die("cu_run: /bin/true not ok");
  cu_result_free(&r);
}

static void run_cu_default(void) { run_cu(NULL); }

static void run_cu_inherit(void) {
  cu_run_opts o = {.out.mode = CU_STREAM_INHERIT,
                   .err.mode = CU_STREAM_INHERIT,
                   .in.mode = CU_STDIN_INHERIT};
  run_cu(&o);
}

typedef struct variant {
  const char *name;
  variant_fn fn;
  size_t per_batch;
  double samples[BU_MAX_SAMPLES];
} variant;

static variant small[] = {
    {.name = "raw_posix_spawn", .fn = run_raw_spawn, .per_batch = 20},
    {.name = "cu_run_inherit", .fn = run_cu_inherit, .per_batch = 20},
    {.name = "cu_run_capture", .fn = run_cu_default, .per_batch = 20},
};

static variant big[] = {
    {.name = "gib_raw_posix_spawn", .fn = run_raw_spawn, .per_batch = 20},
    {.name = "gib_cu_run_inherit", .fn = run_cu_inherit, .per_batch = 20},
    {.name = "gib_cu_run_capture", .fn = run_cu_default, .per_batch = 20},
    {.name = "gib_fork_exec", .fn = run_fork_exec, .per_batch = 2},
};

#define N_SMALL (sizeof small / sizeof *small)
#define N_BIG (sizeof big / sizeof *big)

/*
 * One batch of every variant of a group, the order rotating with the round
 * so no variant always goes first. A sample is the mean per-run time of
 * one batch, in microseconds.
 */
static void run_group(variant *v, size_t nv, size_t round) {
  for (size_t k = 0; k < nv; k++) {
    variant *x = &v[(round + k) % nv];
    double t0 = bu_now();
    for (size_t j = 0; j < x->per_batch; j++)
      x->fn();
    x->samples[round] = (bu_now() - t0) * 1e6 / (double)x->per_batch;
  }
}

/* Allocate and touch 1 GiB: 262144 mapped 4 KiB pages for fork to copy. */
static char *hold_gib(void) {
  char *mem = malloc((size_t)1 << 30);
  if (!mem)
    bu_die("cannot allocate 1 GiB");
  memset(mem, 0x5a, (size_t)1 << 30);
  /* Make the stores observable, or the compiler drops the memset. */
  __asm__ volatile("" : : "r"(mem) : "memory");
  return mem;
}

/*
 * Every round runs the small-parent group, then touches 1 GiB, runs the
 * big-parent group and frees it: so the two parents are compared round by
 * round in the same run, not minutes apart.
 */
static void run_rounds(size_t rounds, size_t gib_rounds) {
  for (size_t i = 0; i < N_SMALL; i++) /* warm up: page cache, allocator */
    small[i].fn();
  for (size_t r = 0; r < rounds; r++) {
    run_group(small, N_SMALL, r);
    if (r >= gib_rounds)
      continue;
    char *mem = hold_gib();
    run_group(big, N_BIG, r);
    __asm__ volatile("" : : "r"(mem) : "memory");
    free(mem);
  }
}

static double paired(const variant *a, const variant *b, size_t n) {
  return bu_paired(a->samples, b->samples, n);
}

static void derive(size_t n, size_t ng) {
  printf("derived (paired = median of same-round ratios):\n");
  bu_derive("cu_run_inherit / raw_posix_spawn (paired)",
            paired(&small[1], &small[0], n), "<=", 1.05);
  bu_derive("cu_run_capture / raw_posix_spawn (paired)",
            paired(&small[2], &small[0], n), NULL, 0);
  if (ng == 0)
    return;
  bu_derive("gib: cu_run_inherit / raw_posix_spawn (paired)",
            paired(&big[1], &big[0], ng), "<=", 1.05);
  bu_derive("gib: cu_run_capture / raw_posix_spawn (paired)",
            paired(&big[2], &big[0], ng), NULL, 0);
  bu_derive("gib_cu_run_capture / cu_run_capture (paired)",
            paired(&big[2], &small[2], ng), "<=", 1.10);
  bu_derive("gib_cu_run_inherit / cu_run_inherit (paired)",
            paired(&big[1], &small[1], ng), "<=", 1.10);
  bu_derive("gib_raw_posix_spawn / raw_posix_spawn (paired)",
            paired(&big[0], &small[0], ng), NULL, 0);
  bu_derive("gib: fork_exec / cu_run_capture (paired)",
            paired(&big[3], &big[2], ng), NULL, 0);
}

static void record(variant *v, size_t nv, size_t n) {
  for (size_t i = 0; i < nv; i++)
    bu_record(v[i].name, "us", v[i].samples, n);
}

int main(int argc, char **argv) {
  bu_check(cu_cmd_new(NULL, CU_TRUE, &true_cmd), "cu_cmd_new(true)");
  true_path = cu_cmd_path(true_cmd);
  printf("bench_spawn: backend %s\n", bu_backend());
  size_t rounds = bu_reps(31);
  size_t gib_rounds = getenv("CUPRUM_BENCH_NO_GIB") ? 0 : bu_reps(13);
  run_rounds(rounds, gib_rounds);
  derive(rounds, gib_rounds); /* before recording: that sorts the samples */
  printf("per-run cost of %s (median of batches of 20; fork: of 2):\n",
         true_path);
  record(small, N_SMALL, rounds);
  record(big, N_BIG, gib_rounds);
  bu_write_json(argc > 1 ? argv[1] : NULL, "spawn");
  cu_cmd_free(true_cmd);
  return 0;
}
