/* SPDX-License-Identifier: MIT */
/*
 * Confinement (docs/design.md, "Confinement"): no_new_privs and Landlock
 * rules enforced on real processes (tests/helpers/prober.c tries writes,
 * execs and TCP connections and says what the kernel answered), project
 * rules from a catalogue layered under a run's, and requests this host
 * cannot meet failing cleanly. Tests that need Landlock skip with the
 * reason where it is missing (valgrind's system call filter hides it).
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spawn/confine.h"

/* Skip (with the reason) unless this host has Landlock at `abi` or newer. */
#define NEED_LANDLOCK(abi)                                                     \
  do {                                                                         \
    if (cu_landlock_abi() < (abi)) {                                           \
      print_message("Landlock ABI %d here, %d needed (kernel without it, "     \
                    "or valgrind's filter): not testable\n",                   \
                    cu_landlock_abi(), (abi));                                 \
      skip();                                                                  \
    }                                                                          \
  } while (0)

typedef struct tmpdirs {
  char a[64], b[64];
  char fa[96], fb[96];
} tmpdirs;

static void dirs_make(tmpdirs *t) {
  snprintf(t->a, sizeof t->a, "/tmp/cu-confine-a-XXXXXX");
  snprintf(t->b, sizeof t->b, "/tmp/cu-confine-b-XXXXXX");
  assert_non_null(mkdtemp(t->a));
  assert_non_null(mkdtemp(t->b));
  snprintf(t->fa, sizeof t->fa, "%s/f", t->a);
  snprintf(t->fb, sizeof t->fb, "%s/f", t->b);
}

static void dirs_free(tmpdirs *t) {
  unlink(t->fa);
  unlink(t->fb);
  rmdir(t->a);
  rmdir(t->b);
}

static cu_result *run_confined(cu_cmd *cmd, const cu_confine *c,
                               int expect_rc) {
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.confine = c;
  o.timeout_ms = 60000;
  cu_result *r = NULL;
  assert_int_equal(cu_run(cmd, &o, &r), expect_rc);
  assert_non_null(r);
  return r;
}

static bool exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* ------------------------------------------------------------ files */

static void test_landlock_write_outside_refused(void **state) {
  (void)state;
  NEED_LANDLOCK(1);
  tmpdirs t;
  dirs_make(&t);
  cu_confine_path p[] = {{t.a, CU_ACCESS_READ | CU_ACCESS_WRITE}};
  cu_confine c = CU_CONFINE_INIT;
  c.paths = p;
  c.n_paths = 1;
  cu_cmd *cmd = cut_cmd("prober", "write", t.fa, "write", t.fb, "status",
                        "NoNewPrivs:", NULL);
  cu_result *r = run_confined(cmd, &c, 0);
  char want[256];
  snprintf(want, sizeof want, "write %s: ok\nwrite %s: EACCES\n"
           "NoNewPrivs:\t1\n", t.fa, t.fb);
  assert_string_equal(r->out.data, want);
  assert_int_equal(r->exit_code, 1);
  assert_int_equal(r->confined, CU_CONFINED_FS | CU_CONFINED_NO_NEW_PRIVS);
  assert_non_null(strstr(cu_result_confine_note(r), "Landlock ABI"));
  assert_true(exists(t.fa));
  assert_false(exists(t.fb));
  cu_result_free(r);
  /* The same command unconfined writes both: the rule made the
   * difference. */
  r = run_confined(cmd, NULL, 0);
  assert_int_equal(r->exit_code, 0);
  assert_true(exists(t.fb));
  assert_int_equal(r->confined, 0);
  assert_string_equal(cu_result_confine_note(r), "");
  cu_result_free(r);
  cu_cmd_free(cmd);
  dirs_free(&t);
  cut_assert_no_children();
}

/* Read-only: reading works, writing does not. */
static void test_landlock_read_only(void **state) {
  (void)state;
  NEED_LANDLOCK(1);
  tmpdirs t;
  dirs_make(&t);
  int fd = open(t.fa, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  assert_true(fd >= 0);
  close(fd);
  cu_confine_path p[] = {{t.a, CU_ACCESS_READ}};
  cu_confine c = CU_CONFINE_INIT;
  c.paths = p;
  c.n_paths = 1;
  cu_cmd *cmd = cut_cmd("prober", "read", t.fa, "write", t.fa, NULL);
  cu_result *r = run_confined(cmd, &c, 0);
  char want[256];
  snprintf(want, sizeof want, "read %s: ok\nwrite %s: EACCES\n", t.fa, t.fa);
  assert_string_equal(r->out.data, want);
  cu_result_free(r);
  cu_cmd_free(cmd);
  dirs_free(&t);
}

/* ------------------------------------------------------------ exec */

static void test_landlock_exec_outside_refused(void **state) {
  (void)state;
  NEED_LANDLOCK(1);
  const char *other = cut_helper("exitcode");
  cu_confine c = CU_CONFINE_INIT;
  c.restrict_fs = true; /* system paths and the program itself only */
  cu_cmd *cmd = cut_cmd("prober", "exec", other, NULL);
  cu_result *r = run_confined(cmd, &c, 0);
  char want[256];
  snprintf(want, sizeof want, "exec %s: EACCES\n", other);
  assert_string_equal(r->out.data, want);
  assert_int_equal(r->exit_code, 1);
  cu_result_free(r);
  cu_cmd_free(cmd);
  /* A program under /usr (an implicit system path) may be executed. */
  cmd = cut_cmd("prober", "exec", "/usr/bin/true", NULL);
  r = run_confined(cmd, &c, 0);
  assert_string_equal(r->out.data, "");
  assert_int_equal(r->exit_code, 0);
  cu_result_free(r);
  cu_cmd_free(cmd);
  /* And an explicit exec rule opens the helper's directory. */
  char dir[512];
  snprintf(dir, sizeof dir, "%s", other);
  *strrchr(dir, '/') = '\0';
  cu_confine_path p[] = {{dir, CU_ACCESS_READ | CU_ACCESS_EXEC}};
  c.paths = p;
  c.n_paths = 1;
  cmd = cut_cmd("prober", "exec", other, NULL);
  r = run_confined(cmd, &c, 0);
  /* exitcode ran: without an argument it exits 2 with its usage. */
  assert_int_equal(r->exit_code, 2);
  assert_string_equal(r->out.data, "");
  cu_result_free(r);
  cu_cmd_free(cmd);
  cut_assert_no_children();
}

/* The program itself outside every allowed path, with no system paths:
 * the execve of the run is refused (step EXEC, EACCES). */
static void test_landlock_program_not_allowed(void **state) {
  (void)state;
  NEED_LANDLOCK(1);
  int fds = cut_fd_count();
  cu_confine c = CU_CONFINE_INIT;
  c.restrict_fs = true;
  c.no_system_paths = true;
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_result *r = run_confined(cmd, &c, CU_EACCES);
  assert_int_equal(r->spawn_step, CU_STEP_EXEC);
  assert_int_equal(r->spawn_errno, EACCES);
  cu_result_free(r);
  cu_cmd_free(cmd);
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
}

/* ------------------------------------------------------------ network */

/* A listening TCP socket on 127.0.0.1 with a kernel-chosen port. */
static int listen_any(uint16_t *port) {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(s >= 0);
  struct sockaddr_in a = {.sin_family = AF_INET};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s, 8), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  *port = ntohs(a.sin_port);
  return s;
}

static void test_landlock_connect_port(void **state) {
  (void)state;
  NEED_LANDLOCK(4);
  uint16_t p1, p2;
  int s1 = listen_any(&p1), s2 = listen_any(&p2);
  char a1[8], a2[8];
  snprintf(a1, sizeof a1, "%u", p1);
  snprintf(a2, sizeof a2, "%u", p2);
  uint16_t allowed[] = {p1};
  cu_confine c = CU_CONFINE_INIT;
  c.connect = allowed;
  c.n_connect = 1;
  cu_cmd *cmd = cut_cmd("prober", "connect", a1, "connect", a2, NULL);
  cu_result *r = run_confined(cmd, &c, 0);
  char want[128];
  snprintf(want, sizeof want, "connect %s: ok\nconnect %s: EACCES\n", a1,
           a2);
  assert_string_equal(r->out.data, want);
  assert_int_equal(r->confined, CU_CONFINED_NET | CU_CONFINED_NO_NEW_PRIVS);
  cu_result_free(r);
  /* Unconfined, both listeners answer. */
  r = run_confined(cmd, NULL, 0);
  assert_int_equal(r->exit_code, 0);
  cu_result_free(r);
  cu_cmd_free(cmd);
  close(s1);
  close(s2);
}

static void test_landlock_bind_port(void **state) {
  (void)state;
  NEED_LANDLOCK(4);
  cu_confine c = CU_CONFINE_INIT;
  c.restrict_bind = true; /* no port at all */
  cu_cmd *cmd = cut_cmd("prober", "bind", "0", NULL);
  cu_result *r = run_confined(cmd, &c, 0);
  assert_string_equal(r->out.data, "bind 0: EACCES\n");
  cu_result_free(r);
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------ nnp */

static void test_no_new_privs(void **state) {
  (void)state;
  cu_confine c = CU_CONFINE_INIT;
  c.no_new_privs = true;
  cu_cmd *cmd = cut_cmd("prober", "status", "NoNewPrivs:", NULL);
  cu_result *r = run_confined(cmd, &c, 0);
  assert_string_equal(r->out.data, "NoNewPrivs:\t1\n");
  assert_int_equal(r->confined, CU_CONFINED_NO_NEW_PRIVS);
  assert_string_equal(cu_result_confine_note(r), "no_new_privs");
  cu_result_free(r);
  r = run_confined(cmd, NULL, 0);
  assert_string_equal(r->out.data, "NoNewPrivs:\t0\n");
  cu_result_free(r);
  cu_cmd_free(cmd);
}

/* ------------------------------------------------------------ unsupported */

static void test_unsupported_fails_cleanly(void **state) {
  (void)state;
  int fds = cut_fd_count();
  cu__confine_force_abi_for_tests(0);
  cu_confine_path p[] = {{"/tmp", CU_ACCESS_READ}};
  cu_confine c = CU_CONFINE_INIT;
  c.paths = p;
  c.n_paths = 1;
  cu_cmd *cmd = cut_cmd("prober", "read", "/etc/hostname", NULL);
  cu_result *r = run_confined(cmd, &c, CU_EUNSUPPORTED);
  assert_int_equal(r->spawn_step, CU_STEP_CONFINE);
  assert_int_equal(r->pid, 0);
  assert_non_null(strstr(cu_last_error(), "Landlock is not available"));
  cu_result_free(r);
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
  /* Best effort: it runs, and says what it skipped. */
  c.best_effort = true;
  c.no_new_privs = true;
  r = run_confined(cmd, &c, 0);
  assert_int_equal(r->exit_code, 0);
  assert_int_equal(r->confined, CU_CONFINED_NO_NEW_PRIVS);
  assert_non_null(strstr(cu_result_confine_note(r),
                         "Landlock rules skipped: not available"));
  cu_result_free(r);
  /* Port rules need ABI 4. */
  cu__confine_force_abi_for_tests(3);
  uint16_t port = 443;
  cu_confine n = CU_CONFINE_INIT;
  n.connect = &port;
  n.n_connect = 1;
  r = run_confined(cmd, &n, CU_EUNSUPPORTED);
  assert_non_null(strstr(cu_last_error(), "ABI 4"));
  cu_result_free(r);
  cu__confine_force_abi_for_tests(-1);
  cu_cmd_free(cmd);
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
}

static void test_bad_rules_einval(void **state) {
  (void)state;
  int fds = cut_fd_count();
  cu_cmd *cmd = cut_cmd("exitcode", "0", NULL);
  cu_confine_path rel[] = {{"tmp", CU_ACCESS_READ}};
  cu_confine c = CU_CONFINE_INIT;
  c.paths = rel;
  c.n_paths = 1;
  cu_result *r = run_confined(cmd, &c, CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "absolute path"));
  cu_result_free(r);
  cu_confine_path bits[] = {{"/tmp", 0}};
  c.paths = bits;
  r = run_confined(cmd, &c, CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "access"));
  cu_result_free(r);
  c.paths = NULL;
  r = run_confined(cmd, &c, CU_EINVAL);
  cu_result_free(r);
  if (cu_landlock_abi() >= 1) {
    cu_confine_path missing[] = {{"/nonexistent/cu-confine", CU_ACCESS_READ}};
    c.paths = missing;
    r = run_confined(cmd, &c, CU_EINVAL);
    assert_int_equal(r->spawn_step, CU_STEP_CONFINE);
    assert_non_null(strstr(cu_last_error(), "/nonexistent/cu-confine"));
    cu_result_free(r);
  }
  cu_cmd_free(cmd);
  assert_int_equal(cut_fd_count(), fds);
  cut_assert_no_children();
}

/* ------------------------------------------------------------ projects */

/* A catalogue with project "boxed" owning prober, confined by `c`. */
static cu_cmd *boxed_cmd(const cu_confine *c, cu_catalogue **cat,
                         const char *const *args) {
  assert_int_equal(cu_catalogue_new(cat), 0);
  cu_program_entry pe = {.program = CU_PROGRAM("prober"),
                         .path = cut_helper("prober")};
  cu_project_spec spec = CU_PROJECT_SPEC_INIT;
  spec.name = "boxed";
  spec.programs = &pe;
  spec.n_programs = 1;
  spec.confine = c;
  assert_int_equal(cu_catalogue_add_project(*cat, &spec), 0);
  cu_cmd *cmd = NULL;
  assert_int_equal(cu_cmd_new(*cat, CU_PROGRAM("prober"), &cmd), 0);
  for (; *args; args++)
    assert_int_equal(cu_cmd_arg(cmd, *args), 0);
  return cmd;
}

static void test_project_rules_apply(void **state) {
  (void)state;
  NEED_LANDLOCK(1);
  tmpdirs t;
  dirs_make(&t);
  cu_confine_path pa[] = {{t.a, CU_ACCESS_WRITE}};
  cu_confine pc = CU_CONFINE_INIT;
  pc.paths = pa;
  pc.n_paths = 1;
  cu_catalogue *cat = NULL;
  const char *args[] = {"write", t.fa, "write", t.fb, NULL};
  cu_cmd *cmd = boxed_cmd(&pc, &cat, args);
  const cu_confine *kept = cu_project_confine(
      cu_catalogue_project(cat, "boxed"));
  assert_non_null(kept);
  assert_string_equal(kept->paths[0].path, t.a);
  cu_result *r = run_confined(cmd, NULL, 0);
  char want[256];
  snprintf(want, sizeof want, "write %s: ok\nwrite %s: EACCES\n", t.fa, t.fb);
  assert_string_equal(r->out.data, want);
  assert_true(r->confined & CU_CONFINED_FS);
  cu_result_free(r);
  /* A run cannot widen it: allowing B per run leaves both layers, so A is
   * refused by the run's layer and B by the project's. */
  cu_confine_path pb[] = {{t.b, CU_ACCESS_WRITE}};
  cu_confine rc = CU_CONFINE_INIT;
  rc.paths = pb;
  rc.n_paths = 1;
  r = run_confined(cmd, &rc, 0);
  snprintf(want, sizeof want, "write %s: EACCES\nwrite %s: EACCES\n", t.fa,
           t.fb);
  assert_string_equal(r->out.data, want);
  cu_result_free(r);
  cu_cmd_free(cmd);
  cu_catalogue_unref(cat);
  dirs_free(&t);
}

/* The run narrows what the project allows: project A and B, run A. */
static void test_project_rules_narrowed_by_run(void **state) {
  (void)state;
  NEED_LANDLOCK(1);
  tmpdirs t;
  dirs_make(&t);
  cu_confine_path pab[] = {{t.a, CU_ACCESS_WRITE}, {t.b, CU_ACCESS_WRITE}};
  cu_confine pc = CU_CONFINE_INIT;
  pc.paths = pab;
  pc.n_paths = 2;
  cu_catalogue *cat = NULL;
  const char *args[] = {"write", t.fa, "write", t.fb, NULL};
  cu_cmd *cmd = boxed_cmd(&pc, &cat, args);
  cu_result *r = run_confined(cmd, NULL, 0);
  assert_int_equal(r->exit_code, 0);
  cu_result_free(r);
  cu_confine_path pa[] = {{t.a, CU_ACCESS_WRITE}};
  cu_confine rc = CU_CONFINE_INIT;
  rc.paths = pa;
  rc.n_paths = 1;
  r = run_confined(cmd, &rc, 0);
  char want[256];
  snprintf(want, sizeof want, "write %s: ok\nwrite %s: EACCES\n", t.fa, t.fb);
  assert_string_equal(r->out.data, want);
  cu_result_free(r);
  cu_cmd_free(cmd);
  cu_catalogue_unref(cat);
  dirs_free(&t);
}

/* A project's rules are checked when it is added. */
static void test_project_rules_invalid(void **state) {
  (void)state;
  cu_confine_path rel[] = {{"relative", CU_ACCESS_READ}};
  cu_confine pc = CU_CONFINE_INIT;
  pc.paths = rel;
  pc.n_paths = 1;
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  cu_project_spec spec = CU_PROJECT_SPEC_INIT;
  spec.name = "bad";
  spec.confine = &pc;
  assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EINVAL);
  assert_non_null(strstr(cu_last_error(), "project 'bad': confine.paths[0]"));
  assert_null(cu_catalogue_project(cat, "bad"));
  cu_catalogue_unref(cat);
}

/* Every stage of a pipeline is confined. */
static void test_pipeline_stages_confined(void **state) {
  (void)state;
  cu_confine c = CU_CONFINE_INIT;
  c.no_new_privs = true;
  cu_cmd *a = cut_cmd("prober", "status", "NoNewPrivs:", NULL);
  cu_cmd *b = cut_cmd("prober", "status", "NoNewPrivs:", NULL);
  cu_pipeline *p = NULL;
  assert_int_equal(cu_pipeline_new(&p), 0);
  assert_int_equal(cu_pipeline_add(p, a), 0);
  assert_int_equal(cu_pipeline_add(p, b), 0);
  cu_run_opts o = CU_RUN_OPTS_INIT;
  o.confine = &c;
  cu_pipeline_opts po = CU_PIPELINE_OPTS_INIT;
  po.run = &o;
  cu_pipeline_result *r = NULL;
  assert_int_equal(cu_pipeline_run(p, &po, &r), 0);
  assert_int_equal(r->n_stages, 2);
  assert_string_equal(r->stages[1]->out.data, "NoNewPrivs:\t1\n");
  assert_int_equal(r->stages[0]->confined, CU_CONFINED_NO_NEW_PRIVS);
  assert_int_equal(r->stages[1]->confined, CU_CONFINED_NO_NEW_PRIVS);
  cu_pipeline_result_free(r);
  cu_pipeline_free(p);
  cu_cmd_free(a);
  cu_cmd_free(b);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_landlock_write_outside_refused),
    cmocka_unit_test(test_landlock_read_only),
    cmocka_unit_test(test_landlock_exec_outside_refused),
    cmocka_unit_test(test_landlock_program_not_allowed),
    cmocka_unit_test(test_landlock_connect_port),
    cmocka_unit_test(test_landlock_bind_port),
    cmocka_unit_test(test_no_new_privs),
    cmocka_unit_test(test_unsupported_fails_cleanly),
    cmocka_unit_test(test_bad_rules_einval),
    cmocka_unit_test(test_project_rules_apply),
    cmocka_unit_test(test_project_rules_narrowed_by_run),
    cmocka_unit_test(test_project_rules_invalid),
    cmocka_unit_test(test_pipeline_stages_confined),
};

CU_TEST_MAIN(tests)
