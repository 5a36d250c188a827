/*
 * The floor of the cgroup read benchmark: plain open/read/close of the same interface files the
 * library reads, with nothing else in the loop (no parsing, no allocation, no error context).
 *
 *   floor ROOT GROUP REPEAT WARMUP FILE...
 *
 * ROOT is the hierarchy's root (a cgroup2 mount or a fake tree), GROUP the benchmark's group
 * beneath it; every directory below GROUP (not GROUP itself) is a group whose FILEs are read.
 * Three modes, each timed REPEAT times after WARMUP untimed passes:
 *   read       the file paths (absolute) are built before the clock starts; the loop is open,
 *              read until EOF (a short read is not taken as EOF: the second read returning 0 is
 *              part of the floor, as in any reader that does not know the file's size), close.
 *   read-at    the same with openat(ROOT's descriptor, "GROUP/g0000/cpu.stat"): the path
 *              resolution the library does (it opens beneath the root with openat2), without
 *              the RESOLVE_BENEATH checks; the library's own overhead shows against this one.
 *   walk+read  the clock also covers finding the groups: opendir/readdir recursion from GROUP.
 * One line per timed pass on stdout:
 *   RESULT tool=floor mode=MODE ns=N groups=G files=F bytes=B
 * Built by run.sh with `gcc -O2`.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static char buffer[65536];

struct counts {
    long groups;
    long files;
    long long bytes;
};

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, const char *path) {
    fprintf(stderr, "floor: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

/* open (openat when `dir` is a descriptor), read until EOF, close; the byte count keeps the
 * reads observable. */
static void read_file_at(int dir, const char *path, struct counts *c) {
    int fd = openat(dir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) die("open", path);
    for (;;) {
        ssize_t n = read(fd, buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("read", path);
        }
        if (n == 0) break;
        c->bytes += n;
    }
    close(fd);
    c->files++;
}

static void read_file(const char *path, struct counts *c) { read_file_at(AT_FDCWD, path, c); }

/* Pre-order walk below `dir` (not `dir` itself): each subdirectory is a group. */
static void walk(char *path, size_t len, size_t cap, char **files, int nfiles, struct counts *c,
                 char ***groups, long *ngroups, long *capgroups) {
    DIR *d = opendir(path);
    if (!d) die("opendir", path);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
        size_t n = strlen(e->d_name);
        if (len + 1 + n + 64 >= cap) {
            fprintf(stderr, "floor: path too long\n");
            exit(1);
        }
        path[len] = '/';
        memcpy(path + len + 1, e->d_name, n + 1);
        size_t sub = len + 1 + n;
        c->groups++;
        if (groups) {
            if (*ngroups == *capgroups) {
                *capgroups = *capgroups ? *capgroups * 2 : 1024;
                *groups = realloc(*groups, (size_t)*capgroups * sizeof(char *));
            }
            (*groups)[(*ngroups)++] = strdup(path);
        } else {
            for (int i = 0; i < nfiles; i++) {
                path[sub] = '/';
                strcpy(path + sub + 1, files[i]);
                read_file(path, c);
            }
            path[sub] = '\0';
        }
        walk(path, sub, cap, files, nfiles, c, groups, ngroups, capgroups);
        path[len] = '\0';
    }
    closedir(d);
}

static void report(const char *mode, uint64_t ns, const struct counts *c) {
    printf("RESULT tool=floor mode=%s ns=%llu groups=%ld files=%ld bytes=%lld\n", mode,
           (unsigned long long)ns, c->groups, c->files, c->bytes);
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: floor ROOT GROUP REPEAT WARMUP FILE...\n");
        return 2;
    }
    const char *root = argv[1], *group = argv[2];
    int repeat = atoi(argv[3]), warmup = atoi(argv[4]);
    char **files = argv + 5;
    int nfiles = argc - 5;
    char base[4096];
    snprintf(base, sizeof base, "%s/%s", root, group);

    /* read: the file paths, built once. */
    char path[4096];
    char **groups = NULL;
    long ngroups = 0, capgroups = 0;
    struct counts listing = {0};
    strcpy(path, base);
    walk(path, strlen(path), sizeof path, files, nfiles, &listing, &groups, &ngroups, &capgroups);
    long npaths = ngroups * nfiles;
    char **paths = malloc((size_t)npaths * sizeof(char *));
    for (long g = 0; g < ngroups; g++)
        for (int f = 0; f < nfiles; f++) {
            size_t n = strlen(groups[g]) + 1 + strlen(files[f]) + 1;
            paths[g * nfiles + f] = malloc(n);
            snprintf(paths[g * nfiles + f], n, "%s/%s", groups[g], files[f]);
        }

    /* read-at: the same paths relative to the root, opened from its descriptor. */
    int rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) die("open", root);
    size_t skip = strlen(root) + 1;

    for (int pass = 0; pass < warmup + repeat; pass++) {
        struct counts c = {.groups = ngroups};
        uint64_t t0 = now_ns();
        for (long i = 0; i < npaths; i++) read_file(paths[i], &c);
        uint64_t t1 = now_ns();
        if (pass >= warmup) report("read", t1 - t0, &c);

        struct counts a = {.groups = ngroups};
        t0 = now_ns();
        for (long i = 0; i < npaths; i++) read_file_at(rootfd, paths[i] + skip, &a);
        t1 = now_ns();
        if (pass >= warmup) report("read-at", t1 - t0, &a);

        struct counts w = {0};
        strcpy(path, base);
        t0 = now_ns();
        walk(path, strlen(path), sizeof path, files, nfiles, &w, NULL, NULL, NULL);
        t1 = now_ns();
        if (pass >= warmup) report("walk+read", t1 - t0, &w);
    }
    fflush(stdout);
    return 0;
}
