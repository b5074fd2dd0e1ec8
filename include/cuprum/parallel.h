/* SPDX-License-Identifier: MIT */
/* Placeholder: filled in by the work that owns this concept. */
#ifndef CUPRUM_PARALLEL_H
#define CUPRUM_PARALLEL_H
#endif /* CUPRUM_PARALLEL_H */
