/* SPDX-License-Identifier: MIT */
/* consumer: a program built against an INSTALLED cuprum, the way a user's
 * project builds it (pkg-config, CMake find_package, Meson). It runs
 * `echo` from the default catalogue and checks what came back; with
 * CONSUMER_OTEL it also makes (and frees) an OTLP transport from
 * libcuprum-otel. Exit 0 only when everything worked. */
#include <stdio.h>
#include <string.h>

#include <cuprum/cuprum.h>
#ifdef CONSUMER_OTEL
#include <cuprum/otel.h>
#endif

int main(void) {
  cu_result *res = NULL;
  int rc = cu_run_args(CU_ECHO, (const char *[]){"consumer-ok", NULL}, NULL,
                       &res);
  if (rc != 0) {
    fprintf(stderr, "consumer: %s\n", cu_last_error());
    res = cu_result_free(res);
    return 1;
  }
  int ok = res->ok && strcmp(res->out.data, "consumer-ok\n") == 0;
  printf("cuprum %s: %s", cu_version(), res->out.data);
  res = cu_result_free(res);
#ifdef CONSUMER_OTEL
  cu_otel_http *h = NULL;
  if (cu_otel_http_new(NULL, &h) != 0) {
    fprintf(stderr, "consumer: otel: %s\n", cu_last_error());
    return 1;
  }
  printf("otel endpoint: %s\n", cu_otel_http_endpoint(h));
  h = cu_otel_http_free(h);
#endif
  return ok ? 0 : 1;
}
