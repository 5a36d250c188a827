/*
 * A minimal STREAM-style reference for the memory probe's bandwidth benchmark (our own code,
 * written after STREAM's description: the classic stream.c is not packaged in Debian).
 *
 *   gcc -O2 -fopenmp -o stream_triad stream_triad.c
 *   OMP_NUM_THREADS=T OMP_PROC_BIND=true OMP_PLACES=cores ./stream_triad ELEMENTS NTIMES [hugepages]
 *
 * Three arrays of ELEMENTS doubles (a = 2, b = 2, c = 0 after STREAM's initialisation, first
 * touched by the threads that use them), then NTIMES rounds of copy, scale, add and triad, each
 * an OpenMP static-schedule loop timed on its own. Like STREAM, the first round is not counted,
 * bytes are counted as STREAM does (2, 2, 3, 3 arrays × 8 bytes × ELEMENTS) and MB = 10^6 bytes.
 * With "hugepages", the arrays are 2 MiB aligned and madvise(MADV_HUGEPAGE)d, as the probe does.
 * Output, one line per kernel: "name best_MBps avg_MBps min_s avg_s max_s".
 */
#define _GNU_SOURCE
#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static double *array(size_t n, int huge) {
    size_t bytes = n * sizeof(double);
    void *p = NULL;
    if (huge) {
        bytes = (bytes + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
        if (posix_memalign(&p, 2u << 20, bytes) != 0) return NULL;
        madvise(p, bytes, MADV_HUGEPAGE);
    } else {
        p = malloc(bytes);
    }
    return p;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s ELEMENTS NTIMES [hugepages]\n", argv[0]);
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10);
    int ntimes = atoi(argv[2]);
    int huge = argc > 3 && strcmp(argv[3], "hugepages") == 0;
    double *a = array(n, huge), *b = array(n, huge), *c = array(n, huge);
    if (!a || !b || !c || ntimes < 2) return 3;
    const double q = 3.0;
    ssize_t j;
#pragma omp parallel for schedule(static)
    for (j = 0; j < (ssize_t)n; j++) { a[j] = 1.0; b[j] = 2.0; c[j] = 0.0; }
#pragma omp parallel for schedule(static)
    for (j = 0; j < (ssize_t)n; j++) a[j] = 2.0 * a[j];

    double *times[4];
    for (int k = 0; k < 4; k++) times[k] = calloc(ntimes, sizeof(double));
    for (int r = 0; r < ntimes; r++) {
        double t = now();
#pragma omp parallel for schedule(static)
        for (j = 0; j < (ssize_t)n; j++) c[j] = a[j];
        times[0][r] = now() - t;
        t = now();
#pragma omp parallel for schedule(static)
        for (j = 0; j < (ssize_t)n; j++) b[j] = q * c[j];
        times[1][r] = now() - t;
        t = now();
#pragma omp parallel for schedule(static)
        for (j = 0; j < (ssize_t)n; j++) c[j] = a[j] + b[j];
        times[2][r] = now() - t;
        t = now();
#pragma omp parallel for schedule(static)
        for (j = 0; j < (ssize_t)n; j++) a[j] = b[j] + q * c[j];
        times[3][r] = now() - t;
    }
    /* Validation, as STREAM does (all elements hold the same value). */
    double aj = 2.0, bj = 2.0, cj = 0.0;
    for (int r = 0; r < ntimes; r++) { cj = aj; bj = q * cj; cj = aj + bj; aj = bj + q * cj; }
    for (size_t i = 0; i < n; i += 4099)
        if (fabs(a[i] - aj) > 1e-13 * fabs(aj) || fabs(b[i] - bj) > 1e-13 * fabs(bj) || fabs(c[i] - cj) > 1e-13 * fabs(cj)) {
            fprintf(stderr, "validation failed at %zu\n", i);
            return 4;
        }
    static const char *names[4] = {"copy", "scale", "add", "triad"};
    static const double arrays[4] = {2, 2, 3, 3};
    for (int k = 0; k < 4; k++) {
        double min = FLT_MAX, max = 0, sum = 0;
        for (int r = 1; r < ntimes; r++) {
            double t = times[k][r];
            if (t < min) min = t;
            if (t > max) max = t;
            sum += t;
        }
        double avg = sum / (ntimes - 1), mb = arrays[k] * sizeof(double) * n / 1e6;
        printf("%s %.1f %.1f %.6f %.6f %.6f\n", names[k], mb / min, mb / avg, min, avg, max);
    }
    return 0;
}
