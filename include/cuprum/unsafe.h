/* SPDX-License-Identifier: MIT */
/* Placeholder: filled in by the work that owns this concept. */
#ifndef CUPRUM_UNSAFE_H
#define CUPRUM_UNSAFE_H
#endif /* CUPRUM_UNSAFE_H */
