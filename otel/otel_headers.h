/* SPDX-License-Identifier: MIT */
/* Decoding OTEL_EXPORTER_OTLP_*HEADERS (otel_headers.c). Not installed;
 * libcuprum-otel's version script keeps it local. */
#ifndef CUPRUM_OTEL_HEADERS_H
#define CUPRUM_OTEL_HEADERS_H

#include <stddef.h>

/* The longest "Name: value" line handed on (without its NUL). */
#define CU__OTEL_HEADER_MAX 1023

/* Called once per decoded header with its "Name: value" line; a nonzero
 * return stops the walk and is returned. */
typedef int (*cu__otel_header_fn)(void *data, const char *line);

/*
 * Decode `spec`, the OpenTelemetry exporter's header list: the W3C Baggage
 * syntax without properties (`name=value` members separated by ",", optional
 * blanks (SP, HTAB) around members, names and values, each name and value
 * percent-decoded). Empty members and members without a name or "=" are
 * skipped, as the OpenTelemetry specification asks of malformed entries.
 * A member whose decoded name is not an RFC 9110 token, whose decoded value
 * holds a control byte (anything below 0x20 but HTAB, or DEL), or whose
 * line would be longer than CU__OTEL_HEADER_MAX is refused: CU_EINVAL,
 * after fn has seen the members before it. CU_ENOMEM when a copy fails.
 * NULL spec: 0, no call. Thread-safe; allocates nothing it keeps.
 */
int cu__otel_headers_each(const char *spec, cu__otel_header_fn fn,
                          void *data);

#endif /* CUPRUM_OTEL_HEADERS_H */
