/* SPDX-License-Identifier: MIT */
/* Catalogue size: building, cloning and looking up N programs is linear
 * (a 60,000-program catalogue took 10 s to load when it was quadratic). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this process: unlike wall time, not stretched by whatever
 * else the machine runs. */
static int64_t cpu_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Build a catalogue of n programs in n / per projects, clone it and look
 * every program up; returns the CPU milliseconds it took (best of 3). */
static int64_t build_ms(size_t n, size_t per) {
  int64_t best = INT64_MAX;
  char (*names)[32] = malloc(n * sizeof *names);
  cu_program_entry *pes = malloc(n * sizeof *pes);
  assert_non_null(names);
  assert_non_null(pes);
  for (size_t i = 0; i < n; i++) {
    snprintf(names[i], sizeof names[i], "prog%zu", i);
    pes[i] = (cu_program_entry){.program = CU_PROGRAM(names[i]),
                                .path = "/bin/true"};
  }
  for (int round = 0; round < 3; round++) {
    int64_t t0 = cpu_ms();
    cu_catalogue *cat = NULL;
    assert_int_equal(cu_catalogue_new(&cat), 0);
    for (size_t p = 0; p * per < n; p++) {
      char pname[32];
      snprintf(pname, sizeof pname, "project%zu", p);
      size_t k = n - p * per < per ? n - p * per : per;
      cu_project_spec spec = {.size = sizeof spec,
                              .name = pname,
                              .programs = pes + p * per,
                              .n_programs = k};
      assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
    }
    cu_catalogue *copy = NULL;
    assert_int_equal(cu_catalogue_clone(cat, &copy), 0);
    assert_int_equal(cu_catalogue_count(copy), n);
    for (size_t i = 0; i < n; i += 7)
      assert_true(cu_catalogue_contains(copy, pes[i].program));
    assert_false(cu_catalogue_contains(copy, CU_PROGRAM("absent")));
    /* A repeated program is still found, now through the index. */
    cu_project_spec dup = {.size = sizeof dup,
                           .name = "dup",
                           .programs = pes + n - 1,
                           .n_programs = 1};
    assert_int_equal(cu_catalogue_add_project(copy, &dup),
                     CU_EPROGRAM_CONFLICT);
    cu_catalogue_unref(copy);
    cu_catalogue_unref(cat);
    int64_t t = cpu_ms() - t0;
    best = t < best ? t : best;
  }
  free(pes);
  free(names);
  return best;
}

static void check_linear(size_t per) {
  /* Valgrind is ~20x slower: smaller sizes still show the shape. */
  size_t n = cut_under_valgrind() ? 5000 : 30000;
  int64_t t1 = build_ms(n, per);
  int64_t t2 = build_ms(2 * n, per);
  print_message("catalogue of %zu / %zu programs (%zu per project): "
                "%lld / %lld ms\n", n, 2 * n, per, (long long)t1,
                (long long)t2);
  /* Generous: sanitizers are slow, the machine is shared. */
  assert_true(t2 < 10000);
  /* Linear: twice the size, about twice the time (quadratic is four).
   * Not under valgrind: its own allocator's bookkeeping (every block is
   * tracked for the leak check) dominates and is not the code's shape. */
  if (!cut_under_valgrind())
    assert_true(t2 <= 3 * t1 + 50);
}

static void test_catalogue_one_big_project_is_linear(void **state) {
  (void)state;
  check_linear(60000);
}

static void test_catalogue_many_projects_is_linear(void **state) {
  (void)state;
  check_linear(10);
}

/* Duplicates inside one project are still caught (now by an index). */
static void test_catalogue_repeat_in_project(void **state) {
  (void)state;
  cu_catalogue *cat = NULL;
  assert_int_equal(cu_catalogue_new(&cat), 0);
  cu_program_entry pes[] = {{.program = CU_PROGRAM("a")},
                            {.program = CU_PROGRAM("b")},
                            {.program = CU_PROGRAM("a")}};
  cu_project_spec spec = {
      .size = sizeof spec, .name = "p", .programs = pes, .n_programs = 3};
  assert_int_equal(cu_catalogue_add_project(cat, &spec), CU_EPROGRAM_CONFLICT);
  assert_non_null(strstr(cu_last_error(), "twice"));
  assert_int_equal(cu_catalogue_count(cat), 0);
  spec.n_programs = 2;
  assert_int_equal(cu_catalogue_add_project(cat, &spec), 0);
  assert_int_equal(cu_catalogue_add_project(cat, &spec),
                   CU_EDUPLICATE_PROJECT);
  assert_int_equal(cu_catalogue_allow(cat, CU_PROGRAM("c"), NULL), 0);
  assert_true(cu_catalogue_contains(cat, CU_PROGRAM("c")));
  assert_true(cu_catalogue_contains(cat, CU_PROGRAM("b")));
  cu_catalogue_unref(cat);
}

int main(int argc, char **argv) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_catalogue_one_big_project_is_linear),
      cmocka_unit_test(test_catalogue_many_projects_is_linear),
      cmocka_unit_test(test_catalogue_repeat_in_project),
  };
  return cut_main(argc, argv, tests, sizeof tests / sizeof tests[0], __FILE__);
}
