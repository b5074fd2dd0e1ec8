/* SPDX-License-Identifier: MIT */
/*
 * Peer benchmark: Debian's libpipeline against Cuprum, interleaved in one
 * process. Not part of the CMake build (libpipeline is an optional bench
 * dependency): scripts/bench.sh compiles it with pkg-config and links it
 * with build-bench/libcuprum.a.
 *  - `cat FILE | cat | cat | cat > /dev/null`
 *  - `cat FILE | cat` captured into memory (libpipeline: pipeline_want_out
 *    plus a read loop on its output, the library's own way to read output).
 *
 * libpipeline installs a SIGCHLD handler that reaps every child of the
 * process (waitpid(-1)), which would steal Cuprum's children; so each
 * libpipeline sample runs in a forked child (timed inside it) and the
 * Cuprum samples run in this process, where libpipeline never ran.
 *
 *   peer_libpipeline [RESULT.json]
 *   peer_libpipeline --e2e STAGES capture|discard FILE
 *       one run of `cat FILE | cat ...` (STAGES commands), the output read
 *       into memory or sent to /dev/null, for scripts/bench_e2e.sh
 *       (hyperfine); exits 1 when it fails or a capture is short.
 * Env: CUPRUM_BENCH_MIB (payload, default 100), CUPRUM_BENCH_SCALE.
 */
#include "bench_util.h"

#include <pipeline.h>

static char payload_path[64];
static size_t payload_len;
static cu_cmd *cat_file, *cat_plain;
static cu_pipeline *four, *two;

static pipeline *lp_cats(int stages) {
  pipeline *p = pipeline_new();
  pipeline_command_args(p, "cat", payload_path, (char *)NULL);
  for (int i = 1; i < stages; i++)
    pipeline_command_args(p, "cat", (char *)NULL);
  return p;
}

static void lp_four_devnull(void) {
  pipeline *p = lp_cats(4);
  pipeline_want_outfile(p, "/dev/null");
  if (pipeline_run(p) != 0) /* pipeline_run frees the pipeline */
    bu_die("libpipeline: 4-stage pipeline failed");
}

/* `cat FILE | cat ...` read into memory; returns the byte count. */
static size_t lp_capture(int stages) {
  pipeline *p = lp_cats(stages);
  pipeline_want_out(p, -1);
  pipeline_start(p);
  int fd = fileno(pipeline_get_outfile(p));
  size_t len;
  char *buf = bu_read_all(fd, &len);
  if (pipeline_wait(p) != 0)
    bu_die("libpipeline: capture failed");
  pipeline_free(p);
  free(buf);
  return len;
}

static void lp_two_capture(void) {
  size_t len = lp_capture(2);
  if (len != payload_len)
    bu_die("libpipeline: capture got %zu bytes", len);
}

static void cu_pipe(const cu_pipeline *p, cu_stream_mode out) {
  cu_pipeline_opts o = {
      .size = sizeof(cu_pipeline_opts),
      .run = &(cu_run_opts){.size = sizeof(cu_run_opts), .out.mode = out}};
  cu_pipeline_result *r = NULL;
  bu_check(cu_pipeline_run(p, &o, &r), "cu_pipeline_run");
  if (!r->ok)
    bu_die("cuprum pipeline not ok");
  r = cu_pipeline_result_free(r);
}

static void cu_four_discard(void) { cu_pipe(four, CU_STREAM_DISCARD); }
static void cu_two_capture(void) { cu_pipe(two, CU_STREAM_CAPTURE); }

/* Run fn in a forked child that never touches Cuprum; return its time. */
static double isolated(void (*fn)(void)) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0)
    bu_die("pipe2: %s", strerror(errno));
  fflush(NULL); /* libpipeline flushes stdio in the child */
  pid_t pid = fork();
  if (pid < 0)
    bu_die("fork: %s", strerror(errno));
  if (pid == 0) {
    double t0 = bu_now();
    fn();
    double t = bu_now() - t0;
    _exit(write(p[1], &t, sizeof t) == sizeof t ? 0 : 1);
  }
  close(p[1]);
  double t = 0;
  ssize_t n = read(p[0], &t, sizeof t);
  close(p[0]);
  int status;
  waitpid(pid, &status, 0);
  if (n != sizeof t || status != 0)
    bu_die("libpipeline sample failed");
  return t;
}

static double timed(void (*fn)(void)) {
  double t0 = bu_now();
  fn();
  return bu_now() - t0;
}

/* Interleave a (Cuprum) against b (libpipeline, isolated); record GB/s;
 * return the median of time(b)/time(a). */
static double duel(const char *na, void (*a)(void), const char *nb,
                   void (*b)(void), size_t rounds) {
  double ga[BU_MAX_SAMPLES], gb[BU_MAX_SAMPLES], q[BU_MAX_SAMPLES];
  timed(a); /* warm up */
  isolated(b);
  for (size_t r = 0; r < rounds; r++) {
    double ta, tb;
    if (r % 2) {
      tb = isolated(b);
      ta = timed(a);
    } else {
      ta = timed(a);
      tb = isolated(b);
    }
    ga[r] = (double)payload_len / ta / 1e9;
    gb[r] = (double)payload_len / tb / 1e9;
    q[r] = tb / ta;
  }
  bu_record(na, "GB/s", ga, rounds);
  bu_record(nb, "GB/s", gb, rounds);
  return bu_median(q, rounds);
}

/* One CLI-style run for the hyperfine matrix; libpipeline only. */
static int e2e_once(int stages, const char *mode, const char *path) {
  struct stat st;
  if (stat(path, &st) != 0 || stages < 1 ||
      strlen(path) >= sizeof payload_path)
    bu_die("--e2e: bad arguments");
  snprintf(payload_path, sizeof payload_path, "%s", path);
  if (!strcmp(mode, "capture"))
    return lp_capture(stages) != (size_t)st.st_size;
  pipeline *p = lp_cats(stages);
  pipeline_want_outfile(p, "/dev/null");
  return pipeline_run(p) != 0; /* pipeline_run frees the pipeline */
}

int main(int argc, char **argv) {
  if (argc == 5 && !strcmp(argv[1], "--e2e"))
    return e2e_once(atoi(argv[2]), argv[3], argv[4]);
  const char *json = bu_json_arg(argc, argv,
                                 "peer_libpipeline [RESULT.json]\n"
                                 "       peer_libpipeline --e2e STAGES MODE FILE");
  payload_len = bu_payload_bytes();
  snprintf(payload_path, sizeof payload_path, "/tmp/cuprum-bench-%zum.txt",
           payload_len >> 20);
  bu_make_text_file(payload_path, payload_len);
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_file), "cu_cmd_new(cat)");
  bu_check(cu_cmd_arg(cat_file, payload_path), "cu_cmd_arg");
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_plain), "cu_cmd_new(cat)");
  bu_check(cu_pipeline_of(&four, cat_file, cat_plain, cat_plain, cat_plain,
                          (cu_cmd *)NULL), "cu_pipeline_of");
  bu_check(cu_pipeline_of(&two, cat_file, cat_plain, (cu_cmd *)NULL),
           "cu_pipeline_of");
  printf("peer_libpipeline: backend %s, %zu MiB\n", bu_backend(),
         payload_len >> 20);
  double s4 = duel("cu_4stage_discard_default", cu_four_discard,
                   "libpipeline_4stage_devnull", lp_four_devnull, bu_reps(7));
  double s2 = duel("cu_2stage_capture_default", cu_two_capture,
                   "libpipeline_2stage_capture", lp_two_capture, bu_reps(9));
  printf("derived (paired; > 1: cuprum faster):\n");
  bu_derive("cu 4stage discard vs libpipeline (paired)", s4, NULL, 0);
  bu_derive("cu 2stage capture vs libpipeline (paired)", s2, NULL, 0);
  bu_write_json(json, "peer_libpipeline");
  cu_pipeline_free(four);
  cu_pipeline_free(two);
  cu_cmd_free(cat_file);
  cu_cmd_free(cat_plain);
  return 0;
}
