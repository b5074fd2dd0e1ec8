/* SPDX-License-Identifier: MIT */
/* Redaction as the library's own sinks use it (log, events, metrics,
 * traces). Not installed. */
#ifndef CUPRUM_REDACT_INT_H
#define CUPRUM_REDACT_INT_H

#include "cuprum/redact.h"

/*
 * `*out` becomes `*ev` with argv and env replaced by redacted copies when
 * anything is hidden; `*storage` then owns those copies (free() it) and is
 * NULL when nothing needed hiding (no allocation on that path). On
 * allocation failure argv/env are dropped from `*out` rather than shown,
 * and CU_ENOMEM is returned.
 */
int cu__redact_event(const cu_redact *r, const cu_event *ev, cu_event *out,
                     void **storage);

void cu__redact_storage_free(void *storage);

/* The value shown for a label or attribute: `value`, or CU_REDACTED when a
 * value pattern matches it. */
const char *cu__redact_label(const cu_redact *r, const char *value);

#endif /* CUPRUM_REDACT_INT_H */
