/* SPDX-License-Identifier: MIT */
/* Placeholder: filled in by the work that owns this concept. */
#ifndef CUPRUM_LOG_H
#define CUPRUM_LOG_H
#endif /* CUPRUM_LOG_H */
