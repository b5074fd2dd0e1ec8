/* SPDX-License-Identifier: MIT */
/**
 * @file cuprum/otel.h
 * @brief libcuprum-otel: the OTLP/HTTP transport for cuprum/trace.h.
 *
 * A separate library (link `-lcuprum-otel -lcuprum`; libcurl.so.4 is
 * loaded with dlopen() when the first transport is made) so the core stays
 * libc-only. It is built when libcurl's
 * development files are present. Not included by cuprum/cuprum.h.
 *
 * Usage: make a transport with cu_otel_http_new(), then pass
 * cu_otel_http_export as cu_tracer_opts.export_fn and the transport as
 * export_data. Free the transport after the tracer (cu_tracer_free()
 * stops the only thread that calls it).
 *
 * Variables read when the matching option is NULL/zero, as the
 * OpenTelemetry specification defines them: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
 * (used as is), OTEL_EXPORTER_OTLP_ENDPOINT (+ "/v1/traces"),
 * OTEL_EXPORTER_OTLP_TRACES_HEADERS / OTEL_EXPORTER_OTLP_HEADERS
 * ("k=v,k2=v2", URL-decoded), OTEL_EXPORTER_OTLP_TRACES_TIMEOUT /
 * OTEL_EXPORTER_OTLP_TIMEOUT (ms). Default endpoint:
 * http://localhost:4318/v1/traces. The body is OTLP/JSON
 * (Content-Type: application/json); OTLP/protobuf is not offered.
 *
 * Thread-safety: a transport is used by one tracer's export thread; make
 * one per tracer.
 */
#ifndef CUPRUM_OTEL_H
#define CUPRUM_OTEL_H

#include "attrs.h"

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cu_otel_http cu_otel_http;

/** Transport options. Versioned by `size`: start from CU_OTEL_HTTP_OPTS_INIT. */
typedef struct cu_otel_http_opts {
  size_t size;             /**< sizeof(cu_otel_http_opts) */
  const char *endpoint;    /**< full URL of the traces endpoint; NULL = the
                                OTEL_* variables, else the default */
  const char *headers;     /**< "k=v,k2=v2"; NULL = the OTEL_* variables */
  int64_t timeout_ms;      /**< cap per request; 0 = OTEL_* or 10000 */
} cu_otel_http_opts;

#define CU_OTEL_HTTP_OPTS_INIT {.size = sizeof(cu_otel_http_opts)}

/**
 * Make a transport. Headers (`headers`, else OTEL_EXPORTER_OTLP_TRACES_HEADERS
 * or OTEL_EXPORTER_OTLP_HEADERS) are "name=value" pairs separated by commas,
 * each percent-decoded (W3C Baggage syntax, as the OpenTelemetry exporter
 * specification says: blanks, SP or HTAB, around a pair, its name and its
 * value are allowed and dropped, so "a=1, b = 2" is two headers); an entry
 * without "=" or with an empty name is skipped, as that specification asks
 * for malformed entries.
 * Errors: CU_EINVAL (bad size; an endpoint that is not http:// or
 * https://; a header whose decoded name is not an RFC 9110 token, whose
 * decoded value holds a control byte such as CR, LF or NUL, which could
 * split the request, or whose line would pass 1023 bytes), CU_ENOMEM, CU_ESYS (libcurl.so.4 could not be
 * loaded, lacks a function this needs, or failed to initialise; libcurl is
 * loaded with dlopen() at the first call, not at program start).
 * Being outside libcuprum, this library does not set cu_last_error():
 * report cu_strerror() of the code and the endpoint you passed.
 * `*ret` is written only on success.
 */
int cu_otel_http_new(const cu_otel_http_opts *opts, cu_otel_http **ret)
    CU_NODISCARD CU_NONNULL(2);

/** The endpoint in use (owned by the transport). */
const char *cu_otel_http_endpoint(const cu_otel_http *h);

/**
 * cu_trace_export_fn for cu_tracer_opts.export_fn: POST `body` to the
 * endpoint, giving up when the tracer's deadline runs out (checked every
 * 20 ms, so shutdown is never held up) or after the transport's own
 * timeout. Returns 0 on a 2xx answer, -1 otherwise (refused, timed out,
 * non-2xx).
 */
int cu_otel_http_export(void *transport, const char *body, size_t len,
                        const cu_trace_deadline *deadline)
    CU_NODISCARD CU_ACCESS_RO(2, 3);

/** Free a transport; returns NULL. NULL is ignored. */
cu_otel_http *cu_otel_http_free(cu_otel_http *h);

#ifdef __cplusplus
}
#endif
#endif /* CUPRUM_OTEL_H */
