/* SPDX-License-Identifier: MIT */
/* Placeholder: filled in by the work that owns this concept. */
#ifndef CUPRUM_PIPELINE_H
#define CUPRUM_PIPELINE_H
#endif /* CUPRUM_PIPELINE_H */
