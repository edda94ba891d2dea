/*
 * Copyright (c) 2026 The sfmesh authors.
 * SPDX-License-Identifier: Apache-2.0
 */

/* Runs a libFuzzer target over files, without libFuzzer: each argument is
 * a file or a directory of files.  Built with the sanitizers, it replays the
 * seed corpus and every past crash in 'make check'. */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int n_files;

static void
run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long size;

    if (!f) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(size ? size : 1);
    if (!buf || fread(buf, 1, size, f) != (size_t) size) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    fclose(f);
    LLVMFuzzerTestOneInput(buf, size);
    free(buf);
    n_files++;
}

static void
run_path(const char *path)
{
    struct stat st;

    if (stat(path, &st)) {
        perror(path);
        exit(EXIT_FAILURE);
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(path);
        struct dirent *de;

        while (dir && (de = readdir(dir)) != NULL) {
            char *sub;
            if (de->d_name[0] == '.') {
                continue;
            }
            if (asprintf(&sub, "%s/%s", path, de->d_name) < 0) {
                exit(EXIT_FAILURE);
            }
            run_path(sub);
            free(sub);
        }
        if (dir) {
            closedir(dir);
        }
    } else {
        run_file(path);
    }
}

int
main(int argc, char *argv[])
{
    for (int i = 1; i < argc; i++) {
        run_path(argv[i]);
    }
    printf("replayed %d inputs\n", n_files);
    return 0;
}
