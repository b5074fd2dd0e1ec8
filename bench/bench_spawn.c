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
  double paired; /* median over rounds of this / v[0] in the same round */
} variant;

/*
 * Run `batches` rounds; in each round every variant runs one batch, the
 * order rotating from round to round so no variant always goes first.
 * A sample is the mean per-run time of one batch, in microseconds.
 */
static void interleave(variant *v, size_t nv, size_t batches) {
  for (size_t i = 0; i < nv; i++) /* warm up: page cache, allocator */
    v[i].fn();
  for (size_t b = 0; b < batches; b++) {
    for (size_t k = 0; k < nv; k++) {
      variant *x = &v[(b + k) % nv];
      double t0 = bu_now();
      for (size_t j = 0; j < x->per_batch; j++)
        x->fn();
      x->samples[b] = (bu_now() - t0) * 1e6 / (double)x->per_batch;
    }
  }
  double ratio[BU_MAX_SAMPLES];
  for (size_t i = 1; i < nv; i++) {
    for (size_t b = 0; b < batches; b++)
      ratio[b] = v[i].samples[b] / v[0].samples[b];
    v[i].paired = bu_median(ratio, batches);
  }
  for (size_t i = 0; i < nv; i++)
    bu_record(v[i].name, "us", v[i].samples, batches);
}

/* The first variant of each group is the baseline of its paired ratios. */
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

static void spawn_big_parent(void) {
  size_t gib = (size_t)1 << 30;
  char *mem = malloc(gib);
  if (!mem)
    bu_die("cannot allocate 1 GiB");
  memset(mem, 0x5a, gib); /* touch every page: 262144 mapped 4 KiB pages */
  /* Make the stores observable, or the compiler drops the memset. */
  __asm__ volatile("" : : "r"(mem) : "memory");
  printf("per-run cost of %s, parent holding 1 GiB touched:\n", true_path);
  interleave(big, 4, bu_reps(21));
  __asm__ volatile("" : : "r"(mem) : "memory");
  free(mem);
}

/*
 * Ratios: "paired" is the median over rounds of the two batches' ratio in
 * the same round (drift cancels out); "of medians" compares groups run at
 * different times (small parent against 1 GiB parent).
 */
static void derive(void) {
  printf("derived (paired = median of same-round ratios):\n");
  bu_derive("cu_run_inherit / raw_posix_spawn (paired)", small[1].paired,
            "<=", 1.05);
  bu_derive("cu_run_capture / raw_posix_spawn (paired)", small[2].paired,
            NULL, 0);
  if (getenv("CUPRUM_BENCH_NO_GIB"))
    return;
  bu_derive("gib: cu_run_inherit / raw_posix_spawn (paired)", big[1].paired,
            "<=", 1.05);
  bu_derive("gib: cu_run_capture / raw_posix_spawn (paired)", big[2].paired,
            NULL, 0);
  bu_derive("gib_cu_run_capture / cu_run_capture (of medians)",
            bu_get("gib_cu_run_capture") / bu_get("cu_run_capture"), "<=", 1.10);
  bu_derive("gib_raw_posix_spawn / raw_posix_spawn (of medians)",
            bu_get("gib_raw_posix_spawn") / bu_get("raw_posix_spawn"), NULL, 0);
  bu_derive("gib: fork_exec / cu_run_capture (paired)",
            big[3].paired / big[2].paired, NULL, 0);
}

int main(int argc, char **argv) {
  bu_check(cu_cmd_new(NULL, CU_TRUE, &true_cmd), "cu_cmd_new(true)");
  true_path = cu_cmd_path(true_cmd);
  printf("bench_spawn: backend %s\n", bu_backend());
  printf("per-run cost of %s, parent small (median of batches):\n", true_path);
  interleave(small, 3, bu_reps(41));
  if (!getenv("CUPRUM_BENCH_NO_GIB"))
    spawn_big_parent();
  derive();
  bu_write_json(argc > 1 ? argv[1] : NULL, "spawn");
  cu_cmd_free(true_cmd);
  return 0;
}
