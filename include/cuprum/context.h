/* SPDX-License-Identifier: MIT */
/* Placeholder: filled in by the work that owns this concept. */
#ifndef CUPRUM_CONTEXT_H
#define CUPRUM_CONTEXT_H
#endif /* CUPRUM_CONTEXT_H */
