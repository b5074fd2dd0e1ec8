/* SPDX-License-Identifier: MIT */
/*
 * One run of the end-to-end matrix (scripts/bench_e2e.sh times it with
 * hyperfine, process start-up included): `cat FILE` through cu_run(), or
 * `cat FILE | cat | cat` through cu_pipeline_run(), the final stdout
 * captured into memory or discarded (CU_STREAM_DISCARD), with or without a
 * no-op line observer (cu_observe(…, CU_OBSERVE_LINES, …) in a pushed
 * scope), on the backend asked for.
 *
 *   bench_e2e_driver [--stages 1|3] [--lines] [--capture|--discard]
 *                    [--backend auto|splice|readwrite] FILE
 *   bench_e2e_driver --make-payload BYTES PATH   (text lines, made once)
 *
 * Exits 0 when the run is ok and, when captured, exactly the file's bytes
 * arrived (and, with --lines, the line events add up to them); else 1.
 */
#include "bench_util.h"

typedef struct e2e_opts {
  int stages;
  bool lines, capture;
  cu_stream_backend backend;
  const char *path;
} e2e_opts;

/* The no-op line observer; it only adds up the bytes the lines stand for,
 * so the driver can check that every line arrived. */
static int count_lines(void *data, const cu_event *ev) {
  if (ev->phase == CU_EV_STDOUT_LINE) {
    size_t *n = data;
    bool whole = !(ev->line_flags & (CU_LINE_SPLIT | CU_LINE_PARTIAL));
    *n += ev->line_len + (whole ? 1 : 0);
  }
  return 0;
}

static _Noreturn void usage(const char *arg) {
  bu_usage(arg, "bench_e2e_driver [--stages 1|3] [--lines] "
                "[--capture|--discard] [--backend auto|splice|readwrite] FILE\n"
                "       bench_e2e_driver --make-payload BYTES PATH");
}

static e2e_opts parse(int argc, char **argv) {
  e2e_opts o = {.stages = 1, .capture = true};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--stages") && i + 1 < argc)
      o.stages = atoi(argv[++i]);
    else if (!strcmp(a, "--lines"))
      o.lines = true;
    else if (!strcmp(a, "--capture") || !strcmp(a, "--discard"))
      o.capture = a[2] == 'c';
    else if (!strcmp(a, "--backend") && i + 1 < argc)
      bu_check(cu_stream_backend_parse(argv[++i], &o.backend), "--backend");
    else if (a[0] != '-' && !o.path)
      o.path = a;
    else
      usage(a);
  }
  if (!o.path || (o.stages != 1 && o.stages != 3))
    usage(NULL);
  return o;
}

/* Run once; return the captured length (0 when discarded). */
static size_t run_once(const e2e_opts *o, const cu_cmd *cat_file,
                       const cu_cmd *cat_plain) {
  cu_run_opts ro = {.size = sizeof(cu_run_opts),
                    .backend = o->backend,
                    .out.mode =
                        o->capture ? CU_STREAM_CAPTURE : CU_STREAM_DISCARD};
  size_t len;
  if (o->stages == 1) {
    cu_result *r = NULL;
    bu_check(cu_run(cat_file, &ro, &r), "cu_run");
    if (!r->ok)
      bu_die("cat: not ok (exit %d, signal %d)", r->exit_code, r->term_signal);
    len = r->out.len;
    r = cu_result_free(r);
    return len;
  }
  cu_pipeline *p;
  bu_check(cu_pipeline_of(&p, cat_file, cat_plain, cat_plain, (cu_cmd *)NULL),
           "cu_pipeline_of");
  cu_pipeline_result *r = NULL;
  bu_check(cu_pipeline_run(p,
                           &(cu_pipeline_opts){.size = sizeof(cu_pipeline_opts),
                                               .run = &ro},
                           &r),
           "cu_pipeline_run");
  if (!r->ok)
    bu_die("pipeline: not ok (stage %d)", r->fail_index);
  len = r->stages[r->n_stages - 1]->out.len;
  r = cu_pipeline_result_free(r);
  cu_pipeline_free(p);
  return len;
}

/* With --lines the run happens inside a scope holding the observer. */
static void run_checked(const e2e_opts *o, size_t expect) {
  cu_cmd *cat_file, *cat_plain;
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_file), "cu_cmd_new(cat)");
  bu_check(cu_cmd_arg(cat_file, o->path), "cu_cmd_arg");
  bu_check(cu_cmd_new(NULL, CU_CAT, &cat_plain), "cu_cmd_new(cat)");
  size_t got = 0, line_bytes = 0;
  if (o->lines) {
    int rc;
    CU_SCOPE(rc, NULL) {
      bu_check(cu_observe(count_lines, &line_bytes, CU_OBSERVE_LINES, NULL),
               "cu_observe");
      got = run_once(o, cat_file, cat_plain);
    }
    bu_check(rc, "cu_scope_push");
  } else {
    got = run_once(o, cat_file, cat_plain);
  }
  cu_cmd_free(cat_file);
  cu_cmd_free(cat_plain);
  if (o->capture && got != expect)
    bu_die("captured %zu of %zu bytes", got, expect);
  /* discarded output goes child -> /dev/null: no lines to observe */
  if (o->lines && o->capture && line_bytes != expect)
    bu_die("line events cover %zu of %zu bytes", line_bytes, expect);
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--make-payload")) {
    bu_make_text_file(argv[3], (size_t)strtoull(argv[2], NULL, 10));
    return 0;
  }
  e2e_opts o = parse(argc, argv);
  struct stat st;
  if (stat(o.path, &st) != 0)
    bu_die("%s: %s", o.path, strerror(errno));
  run_checked(&o, (size_t)st.st_size);
  return 0;
}
