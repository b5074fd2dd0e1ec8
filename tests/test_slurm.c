/* SPDX-License-Identifier: MIT */
/*
 * `cuprum parallel --executor slurm` on a real one-node Slurm 22.05
 * cluster: tests/slurm/cluster.sh starts munged, slurmctld and slurmd in a
 * private network namespace with a private configuration and runs this
 * executable inside it (ctest does; see tests/CMakeLists.txt). Each item
 * runs as `srun ... cuprum exec-item` on the node: exactly the local argv,
 * a program outside the catalogue refused before anything is submitted,
 * the per-item timeout enforced on the node, --fail-fast and a signal
 * terminating the running steps with nothing left, results naming the
 * node, --limit and a project's confinement applied to the item on the
 * node, --results holding the item's output, and a step cancelled by
 * someone else counted as a failure.
 *
 * ctest-labels: slurm heavy
 */
#include "harness_cli.h"

#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Skip (saying why) when there is no private cluster. */
static void need_cluster(void) {
  const char *why = getenv("CUPRUM_SLURM_SKIP");
  if (why && *why) {
    printf("[ SKIPPED  ] %s\n", why);
    skip();
  }
  if (!getenv("SLURM_CONF") || !getenv("CUPRUM_SLURM_DIR")) {
    printf("[ SKIPPED  ] no private Slurm cluster: run through "
           "tests/slurm/cluster.sh run -- (ctest does)\n");
    skip();
  }
}

static int setup(void **state) { return cli_setup(state); }
static int teardown(void **state) { return cli_teardown(state); }

/* `cuprum parallel --catalogue CAT [EXTRA...] FILE` with `lines` in FILE,
 * locally or on Slurm. */
static cli_result batch(const fixture *fx, const char *lines, bool slurm,
                        const char *const *extra) {
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file, lines, 0644);
  const char *argv[32] = {"parallel", "--catalogue", fx->catalogue};
  size_t n = 3;
  if (slurm) {
    argv[n++] = "--executor";
    argv[n++] = "slurm";
  }
  for (size_t i = 0; extra && extra[i]; i++)
    argv[n++] = extra[i];
  argv[n++] = file;
  argv[n] = NULL;
  return cli_run(NULL, argv);
}

/* The result lines of a run (at most 8), by index. */
typedef struct lines {
  json_t *item[8];
  size_t n;
} lines;

static lines parse(const char *out) {
  lines l = {0};
  for (const char *p = out; *p;) {
    const char *nl = strchr(p, '\n');
    assert_non_null(nl);
    json_error_t err;
    json_t *o = json_loadb(p, (size_t)(nl - p), 0, &err);
    if (!o)
      fail_msg("not JSON (%s): %.*s", err.text, (int)(nl - p), p);
    /* Results stream in completion order: keep them by index. */
    json_int_t i = json_integer_value(json_object_get(o, "index"));
    assert_true(i >= 0 && i < 8 && !l.item[i]);
    l.item[i] = o;
    l.n++;
    p = nl + 1;
  }
  for (size_t i = 0; i < l.n; i++)
    assert_non_null(l.item[i]);
  return l;
}

static void lines_free(lines *l) {
  for (size_t i = 0; i < l->n; i++)
    json_decref(l->item[i]);
}

static const char *str(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (!s)
    fail_msg("no string '%s'", key);
  return s;
}

/* Run a Slurm client (squeue) through libcuprum; its stdout. */
static char *client(const char *prog, const char *const *args) {
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM(prog), NULL), 0);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(cat, CU_PROGRAM(prog), &cmd), 0);
  for (size_t i = 0; args[i]; i++)
    cu_cmd_arg(cmd, args[i]);
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, NULL, &r), 0);
  assert_true(r->ok);
  char *out = strdup(r->out.data);
  cu_result_free(r);
  cu_cmd_free(cmd);
  cu_catalogue_unref(cat);
  return out;
}

/* Jobs Slurm lists (pending, running, completing), one id a line. */
static char *squeue(void) {
  return client("squeue", ARGS("--noheader", "--format=%i %T"));
}

/* Jobs slurmctld has allocated so far: its log's allocation lines. */
static int allocations(void) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/log/slurmctld.log",
           getenv("CUPRUM_SLURM_DIR"));
  FILE *f = fopen(path, "re");
  assert_non_null(f);
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, "_slurm_rpc_allocate_resources"))
      n++;
  fclose(f);
  return n;
}

/* Live (not zombie) processes whose argv[1] is `arg`: the test's items
 * carry an argument no other process has. */
static int live_with_arg(const char *arg) {
  DIR *d = opendir("/proc");
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] < '1' || e->d_name[0] > '9')
      continue;
    char path[300], buf[512], state = 0;
    snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
    FILE *f = fopen(path, "re");
    if (!f)
      continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    /* Under qemu-user via binfmt_misc (flag P) the command line is
     * qemu, the program's path, then the program's own argv: skip the
     * first two. */
    const char *a = buf, *end = buf + len;
    const char *base = strrchr(buf, '/');
    if (cut_emulator() && strncmp(base ? base + 1 : buf, "qemu-", 5) == 0)
      for (int k = 0; k < 2 && a < end; k++)
        a += strlen(a) + 1;
    if (a >= end)
      continue;
    size_t first = strlen(a);
    if (a + first + 1 >= end || strcmp(a + first + 1, arg) != 0)
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    if ((f = fopen(path, "re"))) {
      if (fgets(buf, sizeof buf, f) && strrchr(buf, ')'))
        state = strrchr(buf, ')')[2];
      fclose(f);
    }
    if (state && state != 'Z')
      n++;
  }
  closedir(d);
  return n;
}

/* Nothing of the batch is left: no live item process, no job listed. */
static void assert_nothing_left(const char *arg) {
  int64_t until = cut_now_ms() + 10000 + cut_slack_ms();
  char *q = NULL;
  for (;;) {
    free(q);
    q = squeue();
    if ((q[0] == '\0' && live_with_arg(arg) == 0) || cut_now_ms() > until)
      break;
    usleep(50 * 1000);
  }
  if (q[0] != '\0')
    fail_msg("Slurm still lists jobs: %s", q);
  free(q);
  assert_int_equal(live_with_arg(arg), 0);
}

/* The same argv reaches the program on the node as locally, byte for
 * byte: shell metacharacters, spaces, quotes, an empty argument, options
 * that srun itself takes, a newline. The result names the node. */
static void test_slurm_exact_argv(void **state) {
  need_cluster();
  fixture *fx = *state;
  const char *text =
      "[\"argvdump\", \"a b\", \"$(id)\", \"*\", \"\", \"'\\\"\", "
      "\"--job-name=x\", \"-n\", \"2\", \"line\\nbreak\", \"; rm -rf /\"]\n"
      "[\"writer\", \"--out\", \"3\", \"--err\", \"2\"]\n";
  cli_result local = batch(fx, text, false, NULL);
  assert_status(local, 0);
  cli_result remote = batch(fx, text, true, NULL);
  assert_status(remote, 0);
  lines a = parse(local.out), b = parse(remote.out);
  assert_int_equal(a.n, 2);
  assert_int_equal(b.n, 2);
  char host[256] = "";
  assert_int_equal(gethostname(host, sizeof host - 1), 0);
  for (size_t i = 0; i < 2; i++) {
    assert_string_equal(str(b.item[i], "state"), "done");
    assert_true(json_is_true(json_object_get(b.item[i], "ok")));
    assert_string_equal(str(a.item[i], "stdout"), str(b.item[i], "stdout"));
    assert_true(json_equal(json_object_get(a.item[i], "argv"),
                           json_object_get(b.item[i], "argv")));
    assert_string_equal(str(b.item[i], "host"), host);
    assert_true(atoi(str(b.item[i], "slurm_job_id")) > 0);
    assert_null(json_object_get(a.item[i], "host"));
    /* A Slurm line has every key a local one has (docs/scale-out.md),
     * the node's accounting figures included. */
    const char *key;
    json_t *v;
    json_object_foreach(a.item[i], key, v) {
      (void)v;
      if (!json_object_get(b.item[i], key))
        fail_msg("the Slurm result line lacks '%s'", key);
    }
    assert_true(json_integer_value(json_object_get(b.item[i], "max_rss_kb")) >
                0);
  }
  assert_contains(str(b.item[0], "stdout"), "5:$(id)\n");
  lines_free(&a);
  lines_free(&b);
  cli_free(&local);
  cli_free(&remote);
}

/* A program outside the catalogue anywhere in the batch: refused before
 * anything is submitted (slurmctld allocates nothing; the item before it
 * never runs). */
static void test_slurm_refuses_before_submitting(void **state) {
  need_cluster();
  fixture *fx = *state;
  char marker[PATH_MAX], text[2 * PATH_MAX];
  path_in(fx, "ran", marker);
  snprintf(text, sizeof text, "[\"touch\", \"%s\"]\n[\"sh\", \"-c\", \"id\"]\n",
           marker);
  int before = allocations();
  cli_result r = batch(fx, text, true, NULL);
  assert_status(r, 125);
  assert_contains(r.err, "sh");
  assert_contains(r.err, "refusing to run it");
  assert_string_equal(r.out, "");
  assert_int_equal(access(marker, F_OK), -1);
  assert_int_equal(allocations(), before);
  cli_free(&r);
}

/* --timeout is enforced by cuprum on the node (TERM to the item's process
 * group there), not by Slurm's whole-minute --time. */
static void test_slurm_timeout_on_node(void **state) {
  need_cluster();
  fixture *fx = *state;
  int64_t t0 = cut_now_ms();
  cli_result r = batch(fx, "[\"sleeper\", \"30002\"]\n[\"exitcode\", \"0\"]\n",
                       true, ARGS("--timeout", "0.5"));
  assert_true(cut_now_ms() - t0 < 20000 + cut_slack_ms());
  assert_status(r, 124);
  lines l = parse(r.out);
  assert_int_equal(l.n, 2);
  assert_true(json_is_true(json_object_get(l.item[0], "timed_out")));
  assert_int_equal(json_integer_value(json_object_get(l.item[0], "signal")),
                   SIGTERM);
  assert_string_equal(str(l.item[0], "stdout"), "ready\n");
  assert_true(atoi(str(l.item[0], "slurm_job_id")) > 0);
  assert_true(json_is_true(json_object_get(l.item[1], "ok")));
  lines_free(&l);
  cli_free(&r);
  assert_nothing_left("30002");
}

/* --fail-fast: the failure stops the running steps, which ignore TERM
 * (so only the KILL after the grace ends them); the driver marks them
 * terminated and nothing of them is left on the node. */
static void test_slurm_fail_fast_terminates_steps(void **state) {
  need_cluster();
  fixture *fx = *state;
  cli_result r = batch(fx,
                       "[\"sleeper\", \"30003\", \"--ignore-term\"]\n"
                       "[\"sleeper\", \"30003\", \"--ignore-term\"]\n"
                       "[\"sleeper\", \"800\"]\n"
                       "[\"exitcode\", \"3\"]\n",
                       true, ARGS("-j", "4", "--fail-fast", "--grace", "0.5"));
  assert_status(r, 3);
  lines l = parse(r.out);
  assert_int_equal(l.n, 4);
  assert_string_equal(str(l.item[0], "state"), "terminated");
  assert_string_equal(str(l.item[1], "state"), "terminated");
  assert_false(json_is_true(json_object_get(l.item[0], "ok")));
  assert_string_equal(str(l.item[3], "state"), "done");
  assert_int_equal(json_integer_value(json_object_get(l.item[3], "exit_code")),
                   3);
  lines_free(&l);
  cli_free(&r);
  assert_nothing_left("30003");
}

/* SIGTERM to the driver: the running steps are cancelled, the status is
 * 143, nothing is left. */
static void test_slurm_signal_cancels(void **state) {
  need_cluster();
  fixture *fx = *state;
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file,
             "[\"sleeper\", \"30004\"]\n[\"sleeper\", \"30004\"]\n", 0644);
  cli_proc p;
  cli_start(&p, false, -1,
            ARGS("parallel", "--catalogue", fx->catalogue, "--executor",
                 "slurm", "-j", "2", file));
  /* Both items running on the node. */
  int64_t until = cut_now_ms() + 20000 + cut_slack_ms();
  while (live_with_arg("30004") < 2 && cut_now_ms() < until)
    usleep(20 * 1000);
  assert_int_equal(live_with_arg("30004"), 2);
  assert_int_equal(kill(p.pid, SIGTERM), 0);
  cli_result r = cli_finish(&p);
  assert_status(r, 128 + SIGTERM);
  lines l = parse(r.out);
  assert_int_equal(l.n, 2);
  for (size_t i = 0; i < 2; i++)
    assert_string_equal(str(l.item[i], "state"), "terminated");
  lines_free(&l);
  cli_free(&r);
  assert_nothing_left("30004");
}

/* The line of `text` that starts with `prefix` (a copy), or NULL. */
static char *line_of(const char *text, const char *prefix) {
  for (const char *p = text; *p;) {
    size_t len = strcspn(p, "\n");
    if (strncmp(p, prefix, strlen(prefix)) == 0)
      return strndup(p, len);
    p += len + (p[len] == '\n');
  }
  return NULL;
}

/* What applies to an item locally applies to it on the node: --limit
 * (forwarded to `cuprum exec-item`, not applied to the local srun) and
 * its project's own "confine" (kept by the node's pinned catalogue); and
 * --results DIR holds the item's output, not srun's. */
static void test_slurm_item_options_on_node(void **state) {
  need_cluster();
  if (cu_landlock_abi() < 4) { /* "connect": [] needs ABI 4 */
    printf("[ SKIPPED  ] Landlock ABI %d here, 4 needed (cuprum doctor)\n",
           cu_landlock_abi());
    skip();
  }
  fixture *fx = *state;
  char cat[PATH_MAX], file[PATH_MAX], results[PATH_MAX], path[PATH_MAX + 32];
  char open_dir[PATH_MAX], secret[PATH_MAX], text[4 * PATH_MAX];
  /* The confined project may read open/ (Landlock) and nothing else of
   * the fixture's directory; no_new_privs and an empty connect list too:
   * every kind of rule makes the round trip through the item. */
  path_in(fx, "open", open_dir);
  assert_int_equal(mkdir(open_dir, 0755), 0);
  snprintf(path, sizeof path, "%s/ok", open_dir);
  write_file(path, "x\n", 0644);
  path_in(fx, "secret", secret);
  write_file(secret, "x\n", 0644);
  path_in(fx, "confined.json", cat);
  snprintf(text, sizeof text,
           "{\"projects\": [\n"
           "  {\"name\": \"plain\", \"programs\": [\"cat\"]},\n"
           "  {\"name\": \"confined\", \"programs\": [\"grep\"],\n"
           "   \"confine\": {\"no_new_privs\": true, \"read\": [\"%s\"],\n"
           "                \"connect\": []}}]}\n",
           open_dir);
  write_file(cat, text, 0644);
  path_in(fx, "batch.jsonl", file);
  snprintf(text, sizeof text,
           "[\"cat\", \"/proc/self/limits\"]\n"
           "[\"grep\", \"NoNewPrivs\", \"/proc/self/status\"]\n"
           "[\"cat\", \"/proc/self/status\"]\n"
           "[\"grep\", \"x\", \"%s/ok\"]\n"
           "[\"grep\", \"x\", \"%s\"]\n",
           open_dir, secret);
  write_file(file, text, 0644);
  path_in(fx, "results", results);
  cli_result r = cli_run(
      NULL, ARGS("parallel", "--catalogue", cat, "--executor", "slurm",
                 "--limit", "nofile=77", "--results", results, file));
  assert_status(r, 2); /* grep of the secret: refused by Landlock */
  lines l = parse(r.out);
  assert_int_equal(l.n, 5);
  assert_string_equal(str(l.item[3], "stdout"), "x\n");
  assert_int_equal(json_integer_value(json_object_get(l.item[4], "exit_code")),
                   2);
  assert_contains(str(l.item[4], "stderr"), "Permission denied");
  char *nofile = line_of(str(l.item[0], "stdout"), "Max open files");
  assert_non_null(nofile);
  assert_contains(nofile, " 77 ");
  free(nofile);
  /* The confined project's item has no_new_privs, the other not. */
  assert_contains(str(l.item[1], "stdout"), "NoNewPrivs:\t1");
  char *nnp = line_of(str(l.item[2], "stdout"), "NoNewPrivs:");
  assert_non_null(nnp);
  assert_string_equal(nnp, "NoNewPrivs:\t0");
  free(nnp);
  for (size_t i = 0; i < 5; i++) {
    snprintf(path, sizeof path, "%s/%zu/stdout", results, i + 1);
    char *kept = cli_slurp(path, NULL);
    assert_string_equal(kept, str(l.item[i], "stdout"));
    free(kept);
    snprintf(path, sizeof path, "%s/%zu/stderr", results, i + 1);
    kept = cli_slurp(path, NULL);
    assert_string_equal(kept, str(l.item[i], "stderr"));
    free(kept);
  }
  lines_free(&l);
  cli_free(&r);
}

/* An item cancelled on the node by someone else (scancel) was ended from
 * outside, as a local item killed by kill(1) is: "done", not ok, a
 * failure of the batch; only the items cuprum stops are "terminated".
 * The item ignores TERM, so Slurm's TERM reaches `cuprum exec-item`,
 * which cancels the run (KILL after the 0.2 s grace, well within the
 * cluster's KillWait of 2 s) and reports it cancelled. */
static void test_slurm_outside_cancel_is_a_failure(void **state) {
  need_cluster();
  fixture *fx = *state;
  char file[PATH_MAX];
  path_in(fx, "batch.jsonl", file);
  write_file(file, "[\"sleeper\", \"30005\", \"--ignore-term\"]\n", 0644);
  cli_proc p;
  cli_start(&p, false, -1,
            ARGS("parallel", "--catalogue", fx->catalogue, "--executor",
                 "slurm", "--grace", "0.2", file));
  int64_t until = cut_now_ms() + 20000 + cut_slack_ms();
  while (live_with_arg("30005") < 1 && cut_now_ms() < until)
    usleep(20 * 1000);
  assert_int_equal(live_with_arg("30005"), 1);
  char *ids = client("squeue", ARGS("--noheader", "--format=%i"));
  ids[strcspn(ids, "\n")] = '\0';
  assert_true(atoi(ids) > 0);
  free(client("scancel", ARGS(ids)));
  free(ids);
  cli_result r = cli_finish(&p);
  assert_true(r.status != 0);
  lines l = parse(r.out);
  assert_int_equal(l.n, 1);
  assert_string_equal(str(l.item[0], "state"), "done");
  assert_false(json_is_true(json_object_get(l.item[0], "ok")));
  assert_contains(str(l.item[0], "error"), "cancelled on the node");
  assert_contains(r.err, "first failure");
  lines_free(&l);
  cli_free(&r);
  assert_nothing_left("30005");
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_slurm_exact_argv, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slurm_refuses_before_submitting,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_slurm_timeout_on_node, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_slurm_fail_fast_terminates_steps,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_slurm_signal_cancels, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_slurm_item_options_on_node, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_slurm_outside_cancel_is_a_failure,
                                      setup, teardown),
  };
  return cut_main(argc, argv, tests, sizeof tests / sizeof *tests, __FILE__);
}
