/* SPDX-License-Identifier: MIT */
/*
 * libcuprum-otel: OTLP/HTTP (JSON) transport over libcurl for the core's
 * tracer. Only the tracer's export thread calls cu_otel_http_export, so one
 * curl handle per transport needs no lock.
 *
 * libcurl is loaded with dlopen() when the first transport is made, not
 * linked: linking it makes every program that links libcuprum-otel (the
 * cuprum CLI among them) load libcurl and its thirty-odd dependencies at
 * start, about 8 ms on every run, traced or not.
 */
#include <errno.h>
#include <dlfcn.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#define CURL_DISABLE_TYPECHECK 1 /* the calls below go through pointers */
#include <curl/curl.h>

#include "cuprum/error.h"
#include "cuprum/otel.h"
#include "otel_headers.h"


struct cu_otel_http {
  CURLM *multi;
  CURL *curl;
  struct curl_slist *headers;
  char *endpoint;
  int64_t timeout_ms;
};

/* The libcurl functions this file calls, resolved once from libcurl.so.4
 * (its soname since 7.16; the ABI those prototypes describe). */
static struct {
  CURLcode (*global_init)(long);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  CURLM *(*multi_init)(void);
  CURLMcode (*multi_cleanup)(CURLM *);
  CURLMcode (*multi_add_handle)(CURLM *, CURL *);
  CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
  CURLMcode (*multi_perform)(CURLM *, int *);
  CURLMsg *(*multi_info_read)(CURLM *, int *);
  CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int,
                          int *);
} lc;

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

/* POSIX's dlsym() returns void *; storing it through a void ** is the
 * conversion POSIX documents for function pointers. */
static bool load(void *lib, void *fn_ptr, const char *name) {
  void *sym = dlsym(lib, name);
  *(void **)fn_ptr = sym;
  return sym != NULL;
}

static void init_curl(void) {
  void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (!lib)
    return; /* stays CURLE_FAILED_INIT: cu_otel_http_new says so */
  bool ok = load(lib, &lc.global_init, "curl_global_init") &&
            load(lib, &lc.slist_append, "curl_slist_append") &&
            load(lib, &lc.slist_free_all, "curl_slist_free_all") &&
            load(lib, &lc.easy_init, "curl_easy_init") &&
            load(lib, &lc.easy_cleanup, "curl_easy_cleanup") &&
            load(lib, &lc.easy_setopt, "curl_easy_setopt") &&
            load(lib, &lc.easy_getinfo, "curl_easy_getinfo") &&
            load(lib, &lc.multi_init, "curl_multi_init") &&
            load(lib, &lc.multi_cleanup, "curl_multi_cleanup") &&
            load(lib, &lc.multi_add_handle, "curl_multi_add_handle") &&
            load(lib, &lc.multi_remove_handle, "curl_multi_remove_handle") &&
            load(lib, &lc.multi_perform, "curl_multi_perform") &&
            load(lib, &lc.multi_info_read, "curl_multi_info_read") &&
            load(lib, &lc.multi_poll, "curl_multi_poll");
  if (!ok)
    return; /* the library stays loaded: harmless, and never unloaded */
  curl_init_rc = lc.global_init(CURL_GLOBAL_ALL);
}

#define curl_slist_append lc.slist_append
#define curl_slist_free_all lc.slist_free_all
#define curl_easy_init lc.easy_init
#define curl_easy_cleanup lc.easy_cleanup
#undef curl_easy_setopt /* curl.h may wrap these two in macros */
#undef curl_easy_getinfo
#define curl_easy_setopt lc.easy_setopt
#define curl_easy_getinfo lc.easy_getinfo
#define curl_multi_init lc.multi_init
#define curl_multi_cleanup lc.multi_cleanup
#define curl_multi_add_handle lc.multi_add_handle
#define curl_multi_remove_handle lc.multi_remove_handle
#define curl_multi_perform lc.multi_perform
#define curl_multi_info_read lc.multi_info_read
#define curl_multi_poll lc.multi_poll

static const char *env_first(const char *a, const char *b) {
  const char *v = getenv(a);
  if (v && *v)
    return v;
  v = getenv(b);
  return v && *v ? v : NULL;
}

static char *make_endpoint(const char *given) {
  if (given)
    return strdup(given);
  const char *v = getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
  if (v && *v)
    return strdup(v);
  v = getenv("OTEL_EXPORTER_OTLP_ENDPOINT");
  if (!v || !*v)
    return strdup("http://localhost:4318/v1/traces");
  size_t n = strlen(v);
  while (n > 0 && v[n - 1] == '/')
    n--;
  char *s = malloc(n + sizeof "/v1/traces");
  if (s) {
    memcpy(s, v, n);
    strcpy(s + n, "/v1/traces");
  }
  return s;
}

/* libcurl reads "Name: " (no value) as "remove header Name" and sends a
 * header with an empty value when it is written "Name;" (CURLOPT_HTTPHEADER),
 * so `name=` in the list becomes that form: the header is sent, empty. */
static int append_header(void *data, const char *line) {
  cu_otel_http *h = data;
  char empty[CU__OTEL_HEADER_MAX + 2];
  size_t n = strlen(line);
  if (n >= 2 && n <= CU__OTEL_HEADER_MAX && line[n - 2] == ':' &&
      line[n - 1] == ' ' && !memchr(line, ':', n - 2)) {
    memcpy(empty, line, n - 2);
    memcpy(empty + n - 2, ";", 2);
    line = empty;
  }
  struct curl_slist *l = curl_slist_append(h->headers, line);
  if (!l)
    return CU_ENOMEM;
  h->headers = l;
  return 0;
}

/* Content-Type, then the configured list (otel_headers.c). */
static int add_headers(cu_otel_http *h, const char *spec) {
  h->headers = curl_slist_append(NULL, "Content-Type: application/json");
  if (!h->headers)
    return CU_ENOMEM;
  return cu__otel_headers_each(spec, append_header, h);
}

cu_otel_http *cu_otel_http_free(cu_otel_http *h) {
  if (!h)
    return NULL;
  if (h->curl)
    curl_easy_cleanup(h->curl);
  if (h->multi)
    curl_multi_cleanup(h->multi);
  curl_slist_free_all(h->headers);
  free(h->endpoint);
  free(h);
  return NULL;
}

/* Every socket close-on-exec from birth and above 2, like every fd the
 * library makes (children get only 0-2; stdio slots are not ours). */
static curl_socket_t open_socket(void *data, curlsocktype purpose,
                                 struct curl_sockaddr *a) {
  (void)data;
  (void)purpose;
  int fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
  if (fd >= 0 && fd < 3) {
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    fd = moved;
  }
  return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static size_t discard(char *p, size_t size, size_t n, void *data) {
  (void)p;
  (void)data;
  return size * n;
}

/* OTEL_EXPORTER_OTLP_*TIMEOUT in milliseconds; unset, not a whole positive
 * number ("10s", "abc", "") or out of range: the specification's 10 s.
 * (atoll would read "10s" as 10 ms and "abc" as 0.) */
static int64_t env_timeout_ms(const char *t) {
  if (!t || !*t)
    return 10000;
  char *end = NULL;
  errno = 0;
  long long v = strtoll(t, &end, 10);
  if (errno != 0 || *end != '\0' || v <= 0)
    return 10000;
  return (int64_t)v;
}

int cu_otel_http_new(const cu_otel_http_opts *opts, cu_otel_http **ret) {
  cu_otel_http_opts o = CU_OTEL_HTTP_OPTS_INIT;
  if (!ret)
    return CU_EINVAL;
  if (opts) { /* the ABI rule (docs/design.md): any size from the size
                 member up; an older one is zero-extended, a newer one
                 must be zero past what this library knows */
    if (opts->size < sizeof(size_t))
      return CU_EINVAL;
    const unsigned char *p = (const unsigned char *)opts;
    for (size_t i = sizeof o; i < opts->size; i++)
      if (p[i])
        return CU_EINVAL;
    memcpy(&o, opts, opts->size < sizeof o ? opts->size : sizeof o);
    o.size = sizeof o;
  }
  pthread_once(&curl_once, init_curl);
  if (curl_init_rc != CURLE_OK)
    return CU_ESYS;
  cu_otel_http *h = calloc(1, sizeof *h);
  if (!h)
    return CU_ENOMEM;
  h->endpoint = make_endpoint(o.endpoint);
  int rc = h->endpoint ? 0 : CU_ENOMEM;
  if (rc == 0 && strncmp(h->endpoint, "http://", 7) != 0 &&
      strncmp(h->endpoint, "https://", 8) != 0)
    rc = CU_EINVAL;
  if (rc == 0)
    rc = add_headers(h, o.headers ? o.headers
                                  : env_first("OTEL_EXPORTER_OTLP_TRACES_HEADERS",
                                              "OTEL_EXPORTER_OTLP_HEADERS"));
  const char *t = env_first("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
                            "OTEL_EXPORTER_OTLP_TIMEOUT");
  h->timeout_ms = o.timeout_ms > 0 ? o.timeout_ms : env_timeout_ms(t);
  if (rc == 0 && (!(h->curl = curl_easy_init()) ||
                  !(h->multi = curl_multi_init())))
    rc = CU_ESYS;
  if (rc != 0) {
    cu_otel_http_free(h);
    return rc;
  }
  CURL *c = h->curl;
  curl_easy_setopt(c, CURLOPT_URL, h->endpoint);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h->headers);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM in a library */
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
  *ret = h;
  return 0;
}

const char *cu_otel_http_endpoint(const cu_otel_http *h) {
  return h ? h->endpoint : NULL;
}

/* Drive the transfer in short polls so a shrinking deadline (shutdown)
 * stops it within ~20 ms. Returns the transfer's result. */
static CURLcode perform(cu_otel_http *h, const cu_trace_deadline *deadline) {
  CURLcode result = CURLE_OPERATION_TIMEDOUT;
  if (curl_multi_add_handle(h->multi, h->curl) != CURLM_OK)
    return CURLE_FAILED_INIT;
  for (;;) {
    int running = 0;
    if (curl_multi_perform(h->multi, &running) != CURLM_OK)
      break;
    if (!running) {
      int left = 0;
      CURLMsg *m = curl_multi_info_read(h->multi, &left);
      if (m && m->msg == CURLMSG_DONE)
        result = m->data.result;
      break;
    }
    int64_t ms = cu_trace_deadline_left_ms(deadline);
    if (deadline && ms <= 0)
      break;
    curl_multi_poll(h->multi, NULL, 0, 20, NULL);
  }
  curl_multi_remove_handle(h->multi, h->curl);
  return result;
}

int cu_otel_http_export(void *transport, const char *body, size_t len,
                        const cu_trace_deadline *deadline) {
  cu_otel_http *h = transport;
  if (!h || !body)
    return -1;
  CURL *c = h->curl;
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)h->timeout_ms);
  long status = 0;
  if (perform(h, deadline) != CURLE_OK)
    return -1;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status < 300 ? 0 : -1;
}
