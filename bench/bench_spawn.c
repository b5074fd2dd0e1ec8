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
 * Each of 121 rounds runs a batch of 5 of every small-parent variant; 21
 * rounds spread among them also touch 1 GiB, run a batch of 20 of every
 * 1 GiB variant and free it; ratios are medians of same-round ratios.
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

/*
 * posix_spawn with the attributes cu_run() asks for (own process group,
 * empty signal mask, every signal back to default, fds >= 3 closed): the
 * difference to this row is the library's own work (loop, pidfd, result).
 */
static void run_raw_spawn_attrs(void) {
  static posix_spawnattr_t attr;
  static posix_spawn_file_actions_t fa;
  static bool ready;
  if (!ready) {
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
                                         POSIX_SPAWN_SETSIGMASK |
                                         POSIX_SPAWN_SETSIGDEF);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    ready = true;
  }
  char *argv[] = {(char *)"true", NULL};
  pid_t pid;
  int rc = posix_spawn(&pid, true_path, &fa, &attr, argv, environ);
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
  cu_result *r = NULL;
  bu_check(cu_run(true_cmd, opts, &r), "cu_run");
  if (!r->ok)
    bu_die("cu_run: /bin/true not ok");
  r = cu_result_free(r);
}

static void run_cu_default(void) { run_cu(NULL); }

static void run_cu_inherit(void) {
  cu_run_opts o = {.size = sizeof(cu_run_opts),
                   .out.mode = CU_STREAM_INHERIT,
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
    {.name = "raw_posix_spawn", .fn = run_raw_spawn, .per_batch = 5},
    {.name = "cu_run_inherit", .fn = run_cu_inherit, .per_batch = 5},
    {.name = "cu_run_capture", .fn = run_cu_default, .per_batch = 5},
    {.name = "raw_posix_spawn_cuprum_attrs", .fn = run_raw_spawn_attrs,
     .per_batch = 5},
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
static void run_group(variant *v, size_t nv, size_t round, size_t slot) {
  for (size_t k = 0; k < nv; k++) {
    variant *x = &v[(round + k) % nv];
    double t0 = bu_now();
    for (size_t j = 0; j < x->per_batch; j++)
      x->fn();
    x->samples[slot] = (bu_now() - t0) * 1e6 / (double)x->per_batch;
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
 * Every round runs the small-parent group (small batches, many rounds:
 * fine-grained interleaving); every `stride`-th round then touches 1 GiB,
 * runs the big-parent group and frees it, so the two parents are compared
 * round by round in the same run, not minutes apart.
 */
static size_t stride;

static void run_rounds(size_t rounds, size_t gib_rounds) {
  for (size_t i = 0; i < N_SMALL; i++) /* warm up: page cache, allocator */
    small[i].fn();
  stride = gib_rounds ? rounds / gib_rounds : 0;
  for (size_t r = 0; r < rounds; r++) {
    run_group(small, N_SMALL, r, r);
    if (!stride || r % stride || r / stride >= gib_rounds)
      continue;
    char *mem = hold_gib();
    run_group(big, N_BIG, r, r / stride);
    __asm__ volatile("" : : "r"(mem) : "memory");
    free(mem);
  }
}

/* The small-parent samples of the rounds that also ran the 1 GiB group. */
static const double *at_gib_rounds(const variant *v, size_t ng) {
  static double pick[BU_MAX_SAMPLES];
  for (size_t g = 0; g < ng; g++)
    pick[g] = v->samples[g * stride];
  return pick;
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
  bu_derive("raw with cu_run's spawn attributes / raw_posix_spawn (paired)",
            paired(&small[3], &small[0], n), NULL, 0);
  bu_derive("cu_run_inherit / raw with the same attributes (paired)",
            paired(&small[1], &small[3], n), NULL, 0);
  if (ng == 0)
    return;
  bu_derive("gib: cu_run_inherit / raw_posix_spawn (paired)",
            paired(&big[1], &big[0], ng), "<=", 1.05);
  bu_derive("gib: cu_run_capture / raw_posix_spawn (paired)",
            paired(&big[2], &big[0], ng), NULL, 0);
  bu_derive("gib_cu_run_capture / cu_run_capture (paired)",
            bu_paired(big[2].samples, at_gib_rounds(&small[2], ng), ng), "<=",
            1.10);
  bu_derive("gib_cu_run_inherit / cu_run_inherit (paired)",
            bu_paired(big[1].samples, at_gib_rounds(&small[1], ng), ng), "<=",
            1.10);
  bu_derive("gib_raw_posix_spawn / raw_posix_spawn (paired)",
            bu_paired(big[0].samples, at_gib_rounds(&small[0], ng), ng), NULL,
            0);
  bu_derive("gib: fork_exec / cu_run_capture (paired)",
            paired(&big[3], &big[2], ng), NULL, 0);
}

static void record(variant *v, size_t nv, size_t n) {
  for (size_t i = 0; i < nv; i++)
    bu_record(v[i].name, "us", v[i].samples, n);
}

int main(int argc, char **argv) {
  const char *json = bu_json_arg(argc, argv, "bench_spawn [RESULT.json]");
  bu_check(cu_cmd_new(NULL, CU_TRUE, &true_cmd), "cu_cmd_new(true)");
  true_path = cu_cmd_path(true_cmd);
  printf("bench_spawn: backend %s\n", bu_backend());
  size_t rounds = bu_reps(121);
  size_t gib_rounds = getenv("CUPRUM_BENCH_NO_GIB") ? 0 : bu_reps(21);
  run_rounds(rounds, gib_rounds);
  derive(rounds, gib_rounds); /* before recording: that sorts the samples */
  printf("per-run cost of %s (median of batches: 5 small parent, 20 at 1 GiB, 2 fork):\n",
         true_path);
  record(small, N_SMALL, rounds);
  if (gib_rounds)
    record(big, N_BIG, gib_rounds);
  bu_write_json(json, "spawn");
  cu_cmd_free(true_cmd);
  return 0;
}
