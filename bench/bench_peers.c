/* SPDX-License-Identifier: MIT */
/*
 * Cuprum against the Python peers, round by round in one run: a Python
 * server (bench/peer_server.py) runs one Python sample per request, and
 * this program alternates it with the same operation through Cuprum, so
 * every ratio is a median of same-round ratios (speed: > 1 = Cuprum faster).
 *  - /bin/true, stdout and stderr captured: cu_run() against
 *    subprocess.run(capture_output=True), batches of 20;
 *  - 100 MiB from `cat FILE` captured: cu_run() against subprocess.run;
 *  - `cat FILE | cat` captured: cu_pipeline_run() (default options, and
 *    with the kernel's pipe size between the stages) against two Popen
 *    joined by a kernel pipe, and against the Python cuprum when the server
 *    can import it.
 *
 *   bench_peers RESULT.json SERVER_ARGV...
 * e.g. bench_peers out.json /usr/bin/env PYTHONPATH=DIR python3.12 \
 *        bench/peer_server.py /tmp/cuprum-bench-100m.txt
 * Env: CUPRUM_BENCH_MIB (payload, default 100), CUPRUM_BENCH_SCALE.
 */
#include "bench_util.h"

#define BATCH 20 /* /bin/true runs per sample; as in peer_server.py */

static cu_cmd *true_cmd, *cat_file, *cat_plain;
static cu_pipeline *two;
static size_t payload_len;
static FILE *to_server, *from_server;
static pid_t server_pid;

static void start_server(char *const argv[]) {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
    bu_die("pipe2: %s", strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  int rc = posix_spawn(&server_pid, argv[0], &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0)
    bu_die("posix_spawn %s: %s", argv[0], strerror(rc));
  close(in[0]);
  close(out[1]);
  to_server = fdopen(in[1], "w");
  from_server = fdopen(out[0], "r");
  if (!to_server || !from_server)
    bu_die("fdopen: %s", strerror(errno));
}

/* Send one request; return the reply line (static buffer). */
static const char *ask(const char *op) {
  static char line[256];
  fprintf(to_server, "%s\n", op);
  fflush(to_server);
  if (!fgets(line, sizeof line, from_server))
    bu_die("peer server: no reply to %s", op);
  line[strcspn(line, "\n")] = 0;
  if (strncmp(line, "ERR", 3) == 0)
    bu_die("peer server: %s", line);
  return line;
}

static double py_sample(const char *op) { return strtod(ask(op), NULL); }

static double cu_true_batch(void) {
  double t0 = bu_now();
  for (int i = 0; i < BATCH; i++) {
    cu_result *r = NULL;
    bu_check(cu_run(true_cmd, NULL, &r), "cu_run(true)");
    r = cu_result_free(r);
  }
  return (bu_now() - t0) / BATCH;
}

static double cu_capture(void) {
  double t0 = bu_now();
  cu_result *r = NULL;
  bu_check(cu_run(cat_file, NULL, &r), "cu_run(cat)");
  if (!r->ok || r->out.len != payload_len)
    bu_die("capture: %zu bytes", r->out.len);
  r = cu_result_free(r);
  return bu_now() - t0;
}

static double two_stage(int pipe_size) {
  cu_pipeline_opts o = {.size = sizeof(cu_pipeline_opts),
                        .pipe_size = pipe_size};
  double t0 = bu_now();
  cu_pipeline_result *r = NULL;
  bu_check(cu_pipeline_run(two, &o, &r), "cu_pipeline_run");
  if (!r->ok || r->stages[1]->out.len != payload_len)
    bu_die("2-stage: not ok or short");
  r = cu_pipeline_result_free(r);
  return bu_now() - t0;
}

/* The library's default pipes between the stages (1 MiB), and the
 * kernel's (64 KiB), which suit a captured two-stage pipeline better. */
static double cu_two_stage(void) { return two_stage(0); }
static double cu_two_stage_kernel(void) {
  return two_stage(CU_PIPE_SIZE_KERNEL);
}

/*
 * `rounds` rounds of one Cuprum and one Python sample, the order
 * alternating. Records both (unit: "us" per run when `per_run`, else GB/s)
 * and the paired speed ratio Python time / Cuprum time.
 */
static void duel(const char *what, double (*cu)(void), const char *py_op,
                 const char *py_name, size_t rounds, int per_run,
                 const char *goal_op, double goal) {
  double tc[BU_MAX_SAMPLES], tp[BU_MAX_SAMPLES], v[BU_MAX_SAMPLES];
  cu(); /* warm up */
  py_sample(py_op);
  for (size_t r = 0; r < rounds; r++) {
    if (r % 2) {
      tp[r] = py_sample(py_op);
      tc[r] = cu();
    } else {
      tc[r] = cu();
      tp[r] = py_sample(py_op);
    }
  }
  char name[96];
  const double *t[2] = {tc, tp};
  for (int k = 0; k < 2; k++) {
    for (size_t r = 0; r < rounds; r++)
      v[r] = per_run ? t[k][r] * 1e6 : (double)payload_len / t[k][r] / 1e9;
    if (k)
      snprintf(name, sizeof name, "%s_%s", py_name, what);
    else /* one Cuprum row per duel: its samples pair with that peer's */
      snprintf(name, sizeof name, "cu_%s_vs_%s", what, py_name);
    bu_record(name, per_run ? "us" : "GB/s", v, rounds);
  }
  snprintf(name, sizeof name, "%s: cuprum vs %s, speed (paired)", what,
           py_name);
  bu_derive(name, bu_paired(tp, tc, rounds), goal_op, goal);
}

int main(int argc, char **argv) {
  if (argc < 3 || argv[1][0] == '-' || argv[1][0] == '\0')
    bu_usage(argc > 1 ? argv[1] : NULL,
             "bench_peers RESULT.json SERVER_ARGV...");
  payload_len = bu_payload_bytes();
  char path[64];
  snprintf(path, sizeof path, "/tmp/cuprum-bench-%zum.txt", payload_len >> 20);
  bu_make_text_file(path, payload_len);
  bu_check(cu_cmd_new(NULL, CU_TRUE, &true_cmd), "cu_cmd_new(true)");
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_file), "cu_cmd_new(cat)");
  bu_check(cu_cmd_arg(cat_file, path), "cu_cmd_arg");
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_plain), "cu_cmd_new(cat)");
  bu_check(cu_pipeline_of(&two, cat_file, cat_plain, (cu_cmd *)NULL),
           "cu_pipeline_of");
  start_server(argv + 2);
  char hello[256];
  snprintf(hello, sizeof hello, "%s", ask("hello"));
  printf("bench_peers: backend %s; server: %s\n", bu_backend(), hello);
  duel("run_true_capture", cu_true_batch, "true_capture", "py_subprocess",
       bu_reps(15), 1, NULL, 0);
  duel("capture_100m", cu_capture, "capture", "py_subprocess", bu_reps(9), 0,
       ">=", 1.5);
  duel("2stage_capture", cu_two_stage, "popen2", "py_popen", bu_reps(9), 0,
       ">=", 1.5);
  duel("2stage_capture_kernel_pipe", cu_two_stage_kernel, "popen2", "py_popen",
       bu_reps(9), 0, NULL, 0);
  if (strstr(hello, " yes"))
    duel("2stage_capture", cu_two_stage, "pycuprum2", "pycuprum", 3, 0, ">=",
         10);
  else
    printf("  (the Python cuprum is not importable by the server: skipped)\n");
  fclose(to_server); /* EOF ends the server */
  fclose(from_server);
  waitpid(server_pid, NULL, 0);
  bu_write_json(argv[1], "peers");
  cu_pipeline_free(two);
  cu_cmd_free(true_cmd);
  cu_cmd_free(cat_file);
  cu_cmd_free(cat_plain);
  return 0;
}
