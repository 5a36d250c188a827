/*
 * Independent reference for the CPU probe's known answers (Sources/Probes/CPU/CPUKernels.swift).
 *
 *   gcc -O2 -ffp-contract=off -o known_answers known_answers.c
 *   ./known_answers                 # prints the integer, float and vector answers for the 4 seeds
 *   ./known_answers hash-buffer N   # writes the hash kernel's 16 KiB input for seed N to stdout
 *                                   # (its digest: ./known_answers hash-buffer N | sha256sum)
 *
 * The Swift kernels must produce exactly these values; CPUKernelTests compares them with the
 * constants in the Swift source and, when gcc is present, with this program's output.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint64_t integer_seeds[4] = {
    0x0123456789ABCDEFull, 0xFEDCBA9876543210ull, 0x0F1E2D3C4B5A6978ull, 0x8796A5B4C3D2E1F0ull};

static uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

/* integer: xorshift64 driving a multiply/rotate/add mix, with a 64-bit division every 16 steps. */
static uint64_t integer_kernel(uint64_t seed) {
    uint64_t x = seed, acc = 0x9E3779B97F4A7C15ull;
    for (uint32_t i = 0; i < 32768; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        acc = (acc ^ x) * 0xBF58476D1CE4E5B9ull;
        acc = rotl(acc, 31) + i;
        if ((i & 15) == 0) acc ^= acc / ((x >> 40) | 1);
    }
    return acc;
}

/* float: C = A x B for 64x64 doubles whose entries are multiples of 1/8, so every product and
 * sum is exact; the answer is the bit pattern of sum C[i][j] * (i*64 + j + 1). */
#define N 64
static uint64_t float_kernel(int s) {
    static double a[N][N], b[N][N], c[N][N];
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            a[i][j] = (double)((i * 37 + j * 11 + s * 5) % 17 - 8) / 8.0;
            b[i][j] = (double)((i * 13 + j * 29 + s * 7 + 3) % 19 - 9) / 8.0;
            c[i][j] = 0;
        }
    for (int i = 0; i < N; i++)
        for (int k = 0; k < N; k++) {
            double aik = a[i][k];
            for (int j = 0; j < N; j++) c[i][j] += aik * b[k][j];
        }
    double sum = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) sum += c[i][j] * (double)(i * N + j + 1);
    uint64_t bits;
    memcpy(&bits, &sum, 8);
    return bits;
}

/* vector: 8 x 16 float lanes iterate the logistic map v = (3.9 * v) * (1 - v) 4096 times;
 * the answer is FNV-1a over the lanes' bit patterns (accumulator-major). */
static uint64_t vector_kernel(int s) {
    float v[8][16];
    for (int a = 0; a < 8; a++)
        for (int l = 0; l < 16; l++) v[a][l] = (float)(((a * 16 + l) * 7 + s * 13) % 89 + 5) / 100.0f;
    for (int step = 0; step < 4096; step++)
        for (int a = 0; a < 8; a++)
            for (int l = 0; l < 16; l++) v[a][l] = 3.9f * v[a][l] * (1.0f - v[a][l]);
    uint64_t h = 0xcbf29ce484222325ull;
    for (int a = 0; a < 8; a++)
        for (int l = 0; l < 16; l++) {
            uint32_t bits;
            memcpy(&bits, &v[a][l], 4);
            h = (h ^ bits) * 0x100000001b3ull;
        }
    return h;
}

/* hash: a 16 KiB buffer of xorshift64 words (little-endian) from a seed derived from N. */
static void hash_buffer(int s, unsigned char *out) {
    uint64_t x = 0x9E3779B97F4A7C15ull ^ ((uint64_t)(s + 1) * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 16384; i += 8) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        for (int b = 0; b < 8; b++) out[i + b] = (unsigned char)(x >> (8 * b));
    }
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "hash-buffer") == 0) {
        unsigned char buf[16384];
        hash_buffer(atoi(argv[2]), buf);
        fwrite(buf, 1, sizeof buf, stdout);
        return 0;
    }
    for (int s = 0; s < 4; s++) printf("integer %d 0x%016llx\n", s, (unsigned long long)integer_kernel(integer_seeds[s]));
    for (int s = 0; s < 4; s++) printf("float %d 0x%016llx\n", s, (unsigned long long)float_kernel(s));
    for (int s = 0; s < 4; s++) printf("vector %d 0x%016llx\n", s, (unsigned long long)vector_kernel(s));
    return 0;
}
