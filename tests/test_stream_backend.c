/* SPDX-License-Identifier: MIT */
/* Backend selection: names, parsing, CUPRUM_STREAM_BACKEND values, caching,
 * the thread-local override, forced and compiled-out unavailability.
 * ctest-labels: threads */
/* This file passes NULL on purpose to check the documented CU_EINVAL
 * answers, so the public CU_NONNULL annotations are off (cuprum/attrs.h). */
#define CU_NO_NONNULL 1
#include <pthread.h>

#include "stream/stream_internal.h"
#include "stream_util.h"

/* Resolve AUTO with the environment set to `value` (NULL = unset). */
static int resolve_env(const char *value, cu_stream_backend *ret) {
  if (value)
    setenv(CU_STREAM_BACKEND_ENV, value, 1);
  else
    unsetenv(CU_STREAM_BACKEND_ENV);
  cu__backend_reset_for_tests();
  return cu_stream_backend_resolve(CU_BACKEND_AUTO, ret);
}

static int teardown(void **state) {
  (void)state;
  unsetenv(CU_STREAM_BACKEND_ENV);
  cu__backend_reset_for_tests();
  cu__splice_force_unavailable(NULL);
  return cu_stream_backend_set_override(CU_BACKEND_AUTO) == 0 ? 0 : -1;
}

static cu_stream_backend best(void) {
  return cu_stream_splice_available() ? CU_BACKEND_SPLICE
                                      : CU_BACKEND_READWRITE;
}

static void names(void **state) {
  (void)state;
  assert_string_equal(cu_stream_backend_name(CU_BACKEND_AUTO), "auto");
  assert_string_equal(cu_stream_backend_name(CU_BACKEND_SPLICE), "splice");
  assert_string_equal(cu_stream_backend_name(CU_BACKEND_READWRITE),
                      "readwrite");
  assert_string_equal(cu_stream_backend_name((cu_stream_backend)42),
                      "unknown");
}

static void parse_values(void **state) {
  (void)state;
  static const struct {
    const char *text;
    cu_stream_backend want;
  } ok[] = {{"auto", CU_BACKEND_AUTO},        {"AUTO", CU_BACKEND_AUTO},
            {" Splice\t", CU_BACKEND_SPLICE}, {"sPlIcE", CU_BACKEND_SPLICE},
            {"readwrite", CU_BACKEND_READWRITE},
            {"\n ReadWrite \n", CU_BACKEND_READWRITE},
            {"", CU_BACKEND_AUTO},            {"   ", CU_BACKEND_AUTO}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    cu_stream_backend got = (cu_stream_backend)99;
    assert_int_equal(cu_stream_backend_parse(ok[i].text, &got), 0);
    assert_int_equal(got, ok[i].want);
  }
  static const char *bad[] = {"rust", "python", "spl ice", "read-write",
                              "autox", "splice2"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    cu_stream_backend got = (cu_stream_backend)99;
    assert_int_equal(cu_stream_backend_parse(bad[i], &got), CU_EBACKEND);
    assert_int_equal(got, 99); /* untouched on error */
    assert_non_null(strstr(cu_last_error(), "auto, splice, readwrite"));
    assert_non_null(strstr(cu_last_error(), bad[i]));
  }
  assert_int_equal(cu_stream_backend_parse(NULL, &(cu_stream_backend){0}),
                   CU_EINVAL);
}

static void env_values(void **state) {
  (void)state;
  cu_stream_backend got;
  assert_int_equal(resolve_env(NULL, &got), 0);
  assert_int_equal(got, best());
  assert_int_equal(resolve_env("", &got), 0);
  assert_int_equal(got, best());
  assert_int_equal(resolve_env(" AuTo ", &got), 0);
  assert_int_equal(got, best());
  assert_int_equal(resolve_env("\tREADWRITE\n", &got), 0);
  assert_int_equal(got, CU_BACKEND_READWRITE);
  int rc = resolve_env("Splice", &got);
  if (cu_stream_splice_available()) {
    assert_int_equal(rc, 0);
    assert_int_equal(got, CU_BACKEND_SPLICE);
  } else {
    assert_int_equal(rc, CU_EBACKEND);
    assert_non_null(strstr(cu_last_error(), cu_stream_splice_why()));
  }
  assert_int_equal(resolve_env("bogus", &got), CU_EBACKEND);
  assert_non_null(strstr(cu_last_error(), "CUPRUM_STREAM_BACKEND='bogus'"));
  assert_non_null(strstr(cu_last_error(), "auto, splice, readwrite"));
}

/* The variable is read once; changes are seen only after a reset. */
static void env_is_cached(void **state) {
  (void)state;
  cu_stream_backend got;
  assert_int_equal(resolve_env("readwrite", &got), 0);
  setenv(CU_STREAM_BACKEND_ENV, "bogus", 1);
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_AUTO, &got), 0);
  assert_int_equal(got, CU_BACKEND_READWRITE);
  cu__backend_reset_for_tests();
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_AUTO, &got),
                   CU_EBACKEND);
}

/* An explicit request ignores the environment, even an invalid one. */
static void explicit_ignores_env(void **state) {
  (void)state;
  cu_stream_backend got;
  assert_int_equal(resolve_env("bogus", &got), CU_EBACKEND);
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_READWRITE, &got), 0);
  assert_int_equal(got, CU_BACKEND_READWRITE);
  assert_int_equal(cu_stream_backend_resolve((cu_stream_backend)7, &got),
                   CU_EINVAL);
}

static void override_beats_env(void **state) {
  (void)state;
  cu_stream_backend got;
  assert_int_equal(resolve_env("bogus", &got), CU_EBACKEND);
  assert_int_equal(cu_stream_backend_set_override(CU_BACKEND_READWRITE), 0);
  assert_int_equal(cu_stream_backend_get_override(), CU_BACKEND_READWRITE);
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_AUTO, &got), 0);
  assert_int_equal(got, CU_BACKEND_READWRITE);
  cu_stream_backend_info info;
  assert_int_equal(cu_stream_backend_active(&info), 0);
  assert_string_equal(info.source, "override");
  assert_int_equal(cu_stream_backend_set_override(CU_BACKEND_AUTO), 0);
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_AUTO, &got),
                   CU_EBACKEND);
  assert_int_equal(cu_stream_backend_set_override((cu_stream_backend)-1),
                   CU_EINVAL);
}

static void *other_thread(void *arg) {
  *(cu_stream_backend *)arg = cu_stream_backend_get_override();
  return NULL;
}

static void override_is_thread_local(void **state) {
  (void)state;
  assert_int_equal(cu_stream_backend_set_override(CU_BACKEND_READWRITE), 0);
  cu_stream_backend seen = CU_BACKEND_READWRITE;
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, other_thread, &seen), 0);
  assert_int_equal(pthread_join(t, NULL), 0);
  assert_int_equal(seen, CU_BACKEND_AUTO);
}

static void forced_unavailable(void **state) {
  (void)state;
  cu__splice_force_unavailable("forced off by the test");
  assert_false(cu_stream_splice_available());
  cu_stream_backend got;
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_SPLICE, &got),
                   CU_EBACKEND);
  assert_non_null(strstr(cu_last_error(), "forced off by the test"));
  assert_int_equal(resolve_env(NULL, &got), 0);
  assert_int_equal(got, CU_BACKEND_READWRITE);
  cu_stream_backend_info info;
  assert_int_equal(cu_stream_backend_active(&info), 0);
  assert_int_equal(info.backend, CU_BACKEND_READWRITE);
  assert_false(info.splice_available);
  assert_string_equal(info.source, "default");
  assert_non_null(strstr(info.reason, "forced off by the test"));
  assert_int_equal(resolve_env("splice", &got), CU_EBACKEND);
  assert_non_null(strstr(cu_last_error(), "unavailable"));
  assert_int_equal(cu_stream_backend_active(&info), CU_EBACKEND);
  assert_string_equal(info.source, "environment");
}

static void splice_available_here(void **state) {
  (void)state;
  st_require(CU_BACKEND_SPLICE);
  assert_string_equal(cu_stream_splice_why(), "");
  cu_stream_backend_info info;
  assert_int_equal(resolve_env(NULL, &(cu_stream_backend){0}), 0);
  assert_int_equal(cu_stream_backend_active(&info), 0);
  assert_int_equal(info.backend, CU_BACKEND_SPLICE);
  assert_true(info.splice_available);
}

/* In a CUPRUM_NO_SPLICE build the reason names the build option. */
static void compiled_out_message(void **state) {
  (void)state;
  if (cu_stream_splice_available()) {
    printf("[ SKIPPED  ] splice is compiled in and available\n");
    skip();
  }
  const char *why = cu_stream_splice_why();
  if (!strstr(why, "compiled out")) {
    printf("[ SKIPPED  ] splice unavailable for another reason: %s\n", why);
    skip();
  }
  assert_non_null(strstr(why, "CUPRUM_NO_SPLICE"));
  cu_stream_backend got;
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_SPLICE, &got),
                   CU_EBACKEND);
  assert_non_null(strstr(cu_last_error(), "compiled out"));
}

static void active_null(void **state) {
  (void)state;
  assert_int_equal(cu_stream_backend_active(NULL), CU_EINVAL);
  assert_int_equal(cu_stream_backend_resolve(CU_BACKEND_AUTO, NULL),
                   CU_EINVAL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test_teardown(names, teardown),
    cmocka_unit_test_teardown(parse_values, teardown),
    cmocka_unit_test_teardown(env_values, teardown),
    cmocka_unit_test_teardown(env_is_cached, teardown),
    cmocka_unit_test_teardown(explicit_ignores_env, teardown),
    cmocka_unit_test_teardown(override_beats_env, teardown),
    cmocka_unit_test_teardown(override_is_thread_local, teardown),
    cmocka_unit_test_teardown(forced_unavailable, teardown),
    cmocka_unit_test_teardown(splice_available_here, teardown),
    cmocka_unit_test_teardown(compiled_out_message, teardown),
    cmocka_unit_test_teardown(active_null, teardown),
};

CU_TEST_MAIN(tests)
