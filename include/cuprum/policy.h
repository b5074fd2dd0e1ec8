/* SPDX-License-Identifier: MIT */
/* Placeholder: filled in by the work that owns this concept. */
#ifndef CUPRUM_POLICY_H
#define CUPRUM_POLICY_H
#endif /* CUPRUM_POLICY_H */
