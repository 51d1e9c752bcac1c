/* Syscall microbenchmark workload for `cargo xtask bench capture`.
 *
 *   syscall-loop getppid N
 *   syscall-loop openclose N PATH
 *   syscall-loop paced N PATH RATE
 *
 * Runs N iterations in CHUNKS chunks and prints one JSON line:
 * {"mode":..,"iters":N,"ns":TOTAL,"best_ns_per_iter":X}, X being the fastest
 * chunk's: on a shared machine, noise only ever adds time, so the fastest
 * chunk is the steadiest estimate of the syscalls' own cost.
 * `paced` makes N open/close pairs at RATE pairs per second (an alert storm
 * at a chosen rate); its best_ns_per_iter is the plain average.
 * C rather than Rust so that each iteration is exactly the syscalls named and
 * nothing else (no std wrappers, no allocation). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CHUNKS 20

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s getppid|openclose N [PATH]\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    long n = strtol(argv[2], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "syscall-loop: bad iteration count %s\n", argv[2]);
        return 2;
    }
    int getppid_mode = strcmp(mode, "getppid") == 0;
    const char *path = argc > 3 ? argv[3] : NULL;
    if (strcmp(mode, "paced") == 0) {
        double rate = argc > 4 ? strtod(argv[4], NULL) : 0;
        if (path == NULL || !(rate > 0)) {
            fprintf(stderr, "syscall-loop: paced needs a PATH and a RATE > 0\n");
            return 2;
        }
        long long t0 = now_ns();
        long done = 0;
        while (done < n) {
            /* Catch up with the schedule, then sleep a little: the rate is
             * kept on average, in bursts no longer than one sleep. */
            double due = (double)(now_ns() - t0) * rate / 1e9 + 1;
            while (done < n && (double)done < due) {
                int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                    perror("syscall-loop: openat");
                    return 1;
                }
                close(fd);
                done++;
            }
            if (done < n) {
                struct timespec ts = {0, 50000};
                nanosleep(&ts, NULL);
            }
        }
        long long t1 = now_ns();
        printf("{\"mode\":\"paced\",\"iters\":%ld,\"ns\":%lld,\"best_ns_per_iter\":%.3f}\n", n, t1 - t0,
               (double)(t1 - t0) / (double)n);
        return 0;
    }
    if (!getppid_mode && strcmp(mode, "openclose") != 0) {
        fprintf(stderr, "syscall-loop: unknown mode %s\n", mode);
        return 2;
    }
    if (!getppid_mode && path == NULL) {
        fprintf(stderr, "syscall-loop: openclose needs a PATH\n");
        return 2;
    }
    long chunk = n / CHUNKS > 0 ? n / CHUNKS : 1;
    double best = -1;
    long done = 0;
    long long t0 = now_ns();
    while (done < n) {
        long m = n - done < chunk ? n - done : chunk;
        long long c0 = now_ns();
        if (getppid_mode) {
            /* The raw syscall: glibc's wrapper is not cached today, but this
             * states the intent. */
            for (long i = 0; i < m; i++)
                syscall(SYS_getppid);
        } else {
            for (long i = 0; i < m; i++) {
                int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                    perror("syscall-loop: openat");
                    return 1;
                }
                close(fd);
            }
        }
        double per = (double)(now_ns() - c0) / (double)m;
        if (best < 0 || per < best)
            best = per;
        done += m;
    }
    long long t1 = now_ns();
    printf("{\"mode\":\"%s\",\"iters\":%ld,\"ns\":%lld,\"best_ns_per_iter\":%.3f}\n", mode, n, t1 - t0, best);
    return 0;
}
