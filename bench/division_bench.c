/* bench/division_bench.c -- look-up time in the compiled division table:
 * N random codes of every level (fixed seed, drawn from the table itself)
 * found by sg_division_find, then their full paths written, then name
 * prefix searches; the table read from a file as the service maps it.
 * Usage: division_bench TABLE [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "bench_util.h"
#include "songgang/division.h"

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: division_bench TABLE [N]\n");
        return 2;
    }
    size_t n = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
    int fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    sg_division d;
    double t0 = now_us();
    if (sg_division_load(&d, map, (size_t)st.st_size) != 0) {
        fprintf(stderr, "division_bench: %s is not a division table\n",
                argv[1]);
        return 1;
    }
    double load_us = now_us() - t0;
    char (*codes)[13] = malloc(n * sizeof(*codes));
    for (size_t i = 0; i < n; i++) {
        sg_division_code(&d, (uint32_t)pick(d.n), codes[i]);
    }
    size_t found = 0;
    t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        uint32_t at;
        found += sg_division_find(&d, codes[i], strlen(codes[i]), &at) == 0;
    }
    double find_us = now_us() - t0;
    char path[512];
    size_t bytes = 0;
    t0 = now_us();
    for (size_t i = 0; i < n; i++) {
        uint32_t at;
        sg_division_find(&d, codes[i], strlen(codes[i]), &at);
        bytes += sg_division_path(&d, at, path, sizeof(path));
    }
    double path_us = now_us() - t0;
    static const char *const q[] = {"涂埠", "永修", "东城", "江西", "新村"};
    uint32_t out[20];
    size_t hits = 0, nq = 100000;
    t0 = now_us();
    for (size_t i = 0; i < nq; i++) {
        const char *s = q[i % 5];
        hits += sg_division_search(&d, s, strlen(s), out, 20);
    }
    double search_us = now_us() - t0;
    printf("table %s: %u entries, %lld bytes (edition %u, cut-off %s)\n",
           argv[1], d.n, (long long)st.st_size, d.edition, d.cutoff);
    printf("load and check: %.1f ms\n", load_us / 1e3);
    printf("find: %zu codes, %zu found, %.0f ns each\n", n, found,
           find_us * 1e3 / (double)n);
    printf("find + full path: %.0f ns each (%zu bytes of paths)\n",
           path_us * 1e3 / (double)n, bytes);
    printf("name prefix search (first 20): %.0f ns each (%zu hits)\n",
           search_us * 1e3 / (double)nq, hits);
    munmap(map, (size_t)st.st_size);
    close(fd);
    free(codes);
    return 0;
}
