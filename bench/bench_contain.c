/* SPDX-License-Identifier: MIT */
/*
 * Per-run cost of /bin/true with limits and containment (issue 16): the
 * unconfined cu_run() (posix_spawn), a run with one rlimit (the clone3
 * child path, no cgroup), and a contained run (clone3 CLONE_INTO_CGROUP:
 * cgroup made, entered, killed, waited for, removed), interleaved batch by
 * batch in one run; ratios are medians of same-round ratios.
 *
 *   bench_contain [RESULT.json]
 * 101 rounds, a batch of 5 of every variant each. Where this process may
 * not create cgroups the contained variant is left out (said so).
 * Env: CUPRUM_BENCH_SCALE (percent of the default repetitions).
 */
#include "bench_util.h"

static cu_cmd *true_cmd;

typedef struct variant {
  const char *name;
  cu_run_opts opts;
  double samples[BU_MAX_SAMPLES];
} variant;

static const cu_limit one_limit[] = {{CU_LIMIT_NOFILE, 1024}};

static variant vs[] = {
    {.name = "cu_run_unconfined"},
    {.name = "cu_run_rlimit_clone3"},
    {.name = "cu_run_contained"},
};

static void run_once(const cu_run_opts *o) {
  cu_result *r = NULL;
  bu_check(cu_run(true_cmd, o, &r), "cu_run");
  if (!r->ok)
    bu_die("cu_run: /bin/true not ok");
  r = cu_result_free(r);
}

int main(int argc, char **argv) {
  const char *json = bu_json_arg(argc, argv, "bench_contain [RESULT.json]");
  bu_check(cu_cmd_new(NULL, CU_TRUE, &true_cmd), "cu_cmd_new(true)");
  for (size_t i = 0; i < 3; i++) {
    vs[i].opts = (cu_run_opts)CU_RUN_OPTS_INIT;
    vs[i].opts.out.mode = vs[i].opts.err.mode = CU_STREAM_INHERIT;
  }
  vs[1].opts.limits = one_limit;
  vs[1].opts.n_limits = 1;
  vs[2].opts.contain = CU_CONTAIN_REQUIRE;
  size_t nv = 3;
  cu_result *probe = NULL;
  if (cu_run(true_cmd, &vs[2].opts, &probe) != 0) {
    printf("bench_contain: no containment here (%s): contained run left "
           "out\n", cu_last_error());
    nv = 2;
  }
  cu_result_free(probe);
  size_t rounds = bu_reps(101);
  for (size_t i = 0; i < nv; i++) /* warm up */
    run_once(&vs[i].opts);
  for (size_t r = 0; r < rounds; r++)
    for (size_t k = 0; k < nv; k++) {
      variant *x = &vs[(r + k) % nv];
      double t0 = bu_now();
      for (int j = 0; j < 5; j++)
        run_once(&x->opts);
      x->samples[r] = (bu_now() - t0) * 1e6 / 5;
    }
  printf("derived (paired = median of same-round ratios):\n");
  bu_derive("rlimit (clone3 path) / unconfined (paired)",
            bu_paired(vs[1].samples, vs[0].samples, rounds), NULL, 0);
  if (nv == 3)
    bu_derive("contained / unconfined (paired)",
              bu_paired(vs[2].samples, vs[0].samples, rounds), "<=", 1.2);
  printf("per-run cost of /bin/true (median of batches of 5):\n");
  for (size_t i = 0; i < nv; i++)
    bu_record(vs[i].name, "us", vs[i].samples, rounds);
  bu_write_json(json, "contain");
  cu_cmd_free(true_cmd);
  return 0;
}
