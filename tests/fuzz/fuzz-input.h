/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

#ifndef FUZZ_INPUT_H
#define FUZZ_INPUT_H 1

/* What the fuzz targets that read their input as a program share: taking
 * it a byte at a time, and checking invariants. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Returns the next byte of the input '*data' of '*size' bytes and steps
 * past it; 0 once the input is used up. */
static inline uint8_t
fuzz_next(const uint8_t **data, size_t *size)
{
    uint8_t b = 0;

    if (*size) {
        b = **data;
        (*data)++;
        (*size)--;
    }
    return b;
}

/* Aborts, naming the file and line, unless 'OK': a broken invariant. */
#define fuzz_check(OK) fuzz_check__(OK, __FILE__, __LINE__)
static inline void
fuzz_check__(bool ok, const char *file, int line)
{
    if (!ok) {
        fprintf(stderr, "%s:%d: invariant broken\n", file, line);
        abort();
    }
}

#endif /* fuzz-input.h */
