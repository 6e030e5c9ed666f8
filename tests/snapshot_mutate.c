/*
 * tests/snapshot_mutate.c — writes a copy of a state file with one
 * section's payload damaged, its checksum made right again: a file that
 * passes the format's checks and must be refused (or resumed) by the
 * sections' owners without popek crashing. guest-tests/run-state-fuzz.sh
 * runs popek on thousands of them.
 *
 *     snapshot_mutate IN OUT SEED
 *
 * SEED picks the section (guest RAM included) and the damage: random
 * bytes, one flipped bit, the payload cut short, or bytes appended.
 * Prints the section and the damage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/snapshot.h"

static uint64_t rng_state;

static uint32_t next_random(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rng_state >> 33);
}

int main(int argc, char **argv)
{
    struct popek_error err;
    struct snap_section_info info;
    unsigned count = 0;

    if (argc != 4) {
        fprintf(stderr, "usage: %s IN OUT SEED\n", argv[0]);
        return 2;
    }
    rng_state = strtoull(argv[3], NULL, 0) * 2654435761u + 1;
    struct snap_reader *r = snap_reader_open(argv[1], &err);
    if (!r) {
        fprintf(stderr, "snapshot_mutate: %s\n", err.message);
        return 2;
    }
    while (snap_reader_section_info(r, count, &info))
        count++;
    if (count == 0) {
        fprintf(stderr, "snapshot_mutate: %s has no sections to damage\n", argv[1]);
        snap_reader_close(r);
        return 2;
    }
    unsigned victim = next_random() % count;
    struct snap_writer *w = snap_writer_create(argv[2], &err);
    if (!w) {
        fprintf(stderr, "snapshot_mutate: %s\n", err.message);
        return 2;
    }
    for (unsigned i = 0; i < count; i++) {
        snap_reader_section_info(r, i, &info);
        snap_begin(w, info.name, info.instance, info.version);
        if (i != victim) {
            snap_put_bytes(w, info.data, info.size);
            snap_end(w);
            continue;
        }
        uint8_t *p = malloc(info.size + 16);
        size_t n = info.size;
        const char *what;
        memcpy(p, info.data, n);
        switch (next_random() % 4) {
        case 0:
            what = "random bytes";
            for (unsigned k = 1 + next_random() % 8; n && k > 0; k--)
                p[next_random() % n] = (uint8_t)next_random();
            break;
        case 1:
            what = "a flipped bit";
            if (n)
                p[next_random() % n] ^= (uint8_t)(1u << (next_random() % 8));
            break;
        case 2:
            what = "cut short";
            n = n ? next_random() % n : 0;
            break;
        default:
            what = "bytes appended";
            for (unsigned k = 1 + next_random() % 15; k > 0; k--)
                p[n++] = (uint8_t)next_random();
            break;
        }
        printf("%s#%u: %s\n", info.name, info.instance, what);
        snap_put_bytes(w, p, n);
        snap_end(w);
        free(p);
    }
    snap_reader_close(r);
    if (!snap_writer_commit(w, &err)) {
        fprintf(stderr, "snapshot_mutate: %s\n", err.message);
        return 2;
    }
    return 0;
}
