/* SPDX-License-Identifier: MIT */
/*
 * Pipelines and batches, each against its peer in the same run:
 *  - 100 MiB of text through `cat FILE | cat | cat | cat`, output discarded
 *    (the last stage writes to /dev/null) or captured, with the kernel's
 *    pipe size (64 KiB), 256 KiB and the library default (1 MiB) between
 *    stages, against bash running the same pipeline `> /dev/null`;
 *  - `cat FILE | cat` captured into memory, kernel and default pipe sizes;
 *  - 1,000 /bin/true through cu_parallel_run() at limit 2, against
 *    `xargs -P2 -n1 /bin/true` fed a file of 1,000 lines.
 * Variants of one group are interleaved round by round, so a ratio is the
 * median of same-round ratios.
 *
 *   bench_pipeline [RESULT.json]
 * Env: CUPRUM_BENCH_MIB (payload, default 100), CUPRUM_BENCH_SCALE.
 */
#include "bench_util.h"

#define N_TRUE 1000

static cu_cmd *cat_file, *cat_plain, *true_cmd;
static cu_pipeline *four, *two;
static char payload_path[64], lines_path[64], bash_script[256];
static size_t payload_len;

typedef struct variant {
  const char *name;
  void (*fn)(const struct variant *);
  const cu_pipeline *pipeline;
  int pipe_size;
  cu_stream_mode out;
  double secs[BU_MAX_SAMPLES];
} variant;

static void run_cu_pipeline(const variant *v) {
  cu_run_opts run = CU_RUN_OPTS_INIT;
  run.out.mode = v->out;
  cu_pipeline_opts o = CU_PIPELINE_OPTS_INIT;
  o.run = &run;
  o.pipe_size = v->pipe_size;
  cu_pipeline_result *r = NULL;
  bu_check(cu_pipeline_run(v->pipeline, &o, &r), "cu_pipeline_run");
  if (!r->ok)
    bu_die("%s: pipeline not ok (stage %d)", v->name, r->fail_index);
  if (v->out == CU_STREAM_CAPTURE &&
      r->stages[r->n_stages - 1]->out.len != payload_len)
    bu_die("%s: captured %zu bytes", v->name,
           r->stages[r->n_stages - 1]->out.len);
  r = cu_pipeline_result_free(r);
}

static void run_bash(const variant *v) {
  (void)v;
  char *argv[] = {(char *)"/bin/bash", (char *)"-c", bash_script, NULL};
  if (bu_spawn_wait(argv, NULL, 0) != 0)
    bu_die("bash pipeline failed");
}

static void run_cu_parallel(const variant *v) {
  (void)v;
  static cu_batch_item items[N_TRUE];
  static const cu_run_opts inherit = {.size = sizeof(cu_run_opts),
                                      .out.mode = CU_STREAM_INHERIT,
                                      .err.mode = CU_STREAM_INHERIT};
  for (size_t i = 0; i < N_TRUE; i++)
    items[i] = (cu_batch_item){.cmd = true_cmd, .opts = &inherit};
  cu_parallel_result *r = NULL;
  bu_check(cu_parallel_run(items, N_TRUE,
                           &(cu_parallel_opts){.size = sizeof(cu_parallel_opts),
                                               .limit = 2},
                           &r),
           "cu_parallel_run");
  if (!r->ok || r->n_ok != N_TRUE)
    bu_die("parallel: %zu of %d ok", r->n_ok, N_TRUE);
  r = cu_parallel_result_free(r);
}

static void run_xargs(const variant *v) {
  (void)v;
  char *argv[] = {(char *)"/usr/bin/xargs", (char *)"-P2", (char *)"-n1",
                  (char *)cu_cmd_path(true_cmd), NULL};
  if (bu_spawn_wait(argv, lines_path, 0) != 0)
    bu_die("xargs failed");
}

/* Run the group interleaved; record `unit` per variant via `scale`/secs. */
static void interleave(variant *v, size_t nv, size_t rounds, const char *unit,
                       double scale) {
  for (size_t i = 0; i < nv; i++)
    v[i].fn(&v[i]); /* warm up */
  for (size_t r = 0; r < rounds; r++)
    for (size_t k = 0; k < nv; k++) {
      variant *x = &v[(r + k) % nv];
      double t0 = bu_now();
      x->fn(x);
      x->secs[r] = bu_now() - t0;
    }
  double vals[BU_MAX_SAMPLES];
  for (size_t i = 0; i < nv; i++) {
    for (size_t r = 0; r < rounds; r++)
      vals[r] = scale > 0 ? scale / v[i].secs[r] : v[i].secs[r] * 1e3;
    bu_record(v[i].name, unit, vals, rounds);
  }
}

/* Median over rounds of time(b) / time(a): > 1 means a is faster. */
static double paired_speedup(const variant *a, const variant *b, size_t n) {
  return bu_paired(b->secs, a->secs, n);
}

#define CU_PIPE(nm, p, size, mode)                                             \
  {.name = nm, .fn = run_cu_pipeline, .pipeline = p, .pipe_size = size,       \
   .out = mode}

static variant four_stage[] = {
    {.name = "bash_4stage_devnull", .fn = run_bash},
    CU_PIPE("cu_4stage_discard_kernel64k", NULL, CU_PIPE_SIZE_KERNEL,
            CU_STREAM_DISCARD),
    CU_PIPE("cu_4stage_discard_256k", NULL, 256 * 1024, CU_STREAM_DISCARD),
    CU_PIPE("cu_4stage_discard_1m", NULL, CU_PIPE_SIZE_DEFAULT,
            CU_STREAM_DISCARD),
    CU_PIPE("cu_4stage_capture_kernel64k", NULL, CU_PIPE_SIZE_KERNEL,
            CU_STREAM_CAPTURE),
    CU_PIPE("cu_4stage_capture_1m", NULL, CU_PIPE_SIZE_DEFAULT,
            CU_STREAM_CAPTURE),
};

static variant two_stage[] = {
    CU_PIPE("cu_2stage_capture_kernel64k", NULL, CU_PIPE_SIZE_KERNEL,
            CU_STREAM_CAPTURE),
    CU_PIPE("cu_2stage_capture_1m", NULL, CU_PIPE_SIZE_DEFAULT,
            CU_STREAM_CAPTURE),
    CU_PIPE("cu_2stage_capture_256k", NULL, 256 * 1024, CU_STREAM_CAPTURE),
};

static variant batch[] = {
    {.name = "xargs_P2_1000_true", .fn = run_xargs},
    {.name = "cu_parallel_limit2_1000_true", .fn = run_cu_parallel},
};

static void setup(void) {
  payload_len = bu_payload_bytes();
  snprintf(payload_path, sizeof payload_path, "/tmp/cuprum-bench-%zum.txt",
           payload_len >> 20);
  bu_make_text_file(payload_path, payload_len);
  snprintf(lines_path, sizeof lines_path, "/tmp/cuprum-bench-lines-%d.txt",
           N_TRUE);
  FILE *f = fopen(lines_path, "w");
  if (!f)
    bu_die("%s: %s", lines_path, strerror(errno));
  for (int i = 0; i < N_TRUE; i++)
    fprintf(f, "%d\n", i);
  fclose(f);
  snprintf(bash_script, sizeof bash_script,
           "cat '%s' | cat | cat | cat > /dev/null", payload_path);
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_file), "cu_cmd_new(cat)");
  bu_check(cu_cmd_arg(cat_file, payload_path), "cu_cmd_arg");
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_plain), "cu_cmd_new(cat)");
  bu_check(cu_cmd_new(NULL, CU_TRUE, &true_cmd), "cu_cmd_new(true)");
  bu_check(cu_pipeline_of(&four, cat_file, cat_plain, cat_plain, cat_plain,
                          (cu_cmd *)NULL),
           "cu_pipeline_of(4)");
  bu_check(cu_pipeline_of(&two, cat_file, cat_plain, (cu_cmd *)NULL),
           "cu_pipeline_of(2)");
  for (size_t i = 1; i < sizeof four_stage / sizeof *four_stage; i++)
    four_stage[i].pipeline = four;
  for (size_t i = 0; i < sizeof two_stage / sizeof *two_stage; i++)
    two_stage[i].pipeline = two;
}

static void derive(size_t r4, size_t r2, size_t rb) {
  printf("derived (paired = median of same-round ratios; > 1: cuprum faster):\n");
  const char *goal = ">=";
  for (size_t i = 1; i < sizeof four_stage / sizeof *four_stage; i++) {
    char name[96];
    snprintf(name, sizeof name, "%s vs bash (paired)", four_stage[i].name);
    /* the goal is for the discard rows: like for like with `> /dev/null` */
    int discard = four_stage[i].out == CU_STREAM_DISCARD;
    bu_derive(name, paired_speedup(&four_stage[i], &four_stage[0], r4),
              discard ? goal : NULL, 0.95);
  }
  bu_derive("4stage discard: 1m vs kernel64k (paired)",
            paired_speedup(&four_stage[3], &four_stage[1], r4), NULL, 0);
  bu_derive("2stage capture: 1m vs kernel64k (paired)",
            paired_speedup(&two_stage[1], &two_stage[0], r2), NULL, 0);
  bu_derive("2stage capture: 256k vs kernel64k (paired)",
            paired_speedup(&two_stage[2], &two_stage[0], r2), NULL, 0);
  bu_derive("cu_parallel vs xargs -P2 (paired)",
            paired_speedup(&batch[1], &batch[0], rb), goal, 1.0);
}

int main(int argc, char **argv) {
  const char *json = bu_json_arg(argc, argv, "bench_pipeline [RESULT.json]");
  setup();
  double mb = (double)payload_len / 1e9;
  printf("bench_pipeline: backend %s, %zu MiB of text from %s\n", bu_backend(),
         payload_len >> 20, payload_path);
  printf("cat | cat | cat | cat:\n");
  size_t r4 = bu_reps(9), r2 = bu_reps(9), rb = bu_reps(5);
  interleave(four_stage, sizeof four_stage / sizeof *four_stage, r4, "GB/s",
             mb);
  printf("cat FILE | cat, captured:\n");
  interleave(two_stage, sizeof two_stage / sizeof *two_stage, r2, "GB/s", mb);
  printf("1,000 x /bin/true, 2 at a time:\n");
  interleave(batch, sizeof batch / sizeof *batch, rb, "ms", 0);
  derive(r4, r2, rb);
  bu_write_json(json, "pipeline");
  cu_pipeline_free(four);
  cu_pipeline_free(two);
  cu_cmd_free(cat_file);
  cu_cmd_free(cat_plain);
  cu_cmd_free(true_cmd);
  return 0;
}
