/*
 * monitor/adaptive.h — adaptive translation: guest instructions that keep
 * trapping are retranslated to call the monitor instead.
 *
 * An instruction whose memory access cannot be made in place faults on the
 * host every time it runs (~13 µs here, DESIGN.md §1): a store to a guest
 * page table that is in sync (write-protected), an access to device memory,
 * a store into a frame holding translated code. Emulating it from a callout
 * costs a fraction of that. The monitor counts such faults per guest
 * instruction; at a threshold the instruction's block is dropped and, when
 * translated again, the instruction becomes a callout that the monitor
 * emulates (the way VMware's monitor adapted to its traces).
 *
 * An instruction is not emulated forever: shared code (a kernel's memset or
 * copy routine) may hit a page table once and ordinary memory ever after.
 * After a number of emulations it runs in place again, and is switched back
 * if it still traps — with the number doubled each time (back-off).
 *
 * The table is a direct-mapped cache of hints: a collision forgets a count,
 * which only delays the switch. A callout is always correct.
 */
#ifndef POPEK_MONITOR_ADAPTIVE_H
#define POPEK_MONITOR_ADAPTIVE_H

#include "common/types.h"

#define ADAPTIVE_ENTRIES   8192
#define ADAPTIVE_THRESHOLD 3  /* host faults at one instruction before it is emulated */
#define ADAPTIVE_PROBATION 64 /* emulations before it runs in place again (doubling) */

struct adaptive_set {
    bool disabled;
    struct adaptive_entry {
        guest_linear_t eip;
        uint16_t faults;     /* 0: empty */
        uint16_t backoff;    /* probation doublings so far */
        uint32_t emulations; /* since it was last switched to emulation */
    } entries[ADAPTIVE_ENTRIES];
};

void adaptive_clear(struct adaptive_set *set);

/* Counts a trapping access by the instruction at eip. True when the
 * instruction is (now) to be emulated: its block should be retranslated. */
bool adaptive_note_fault(struct adaptive_set *set, guest_linear_t eip);

/* Counts one emulation of the instruction at eip. True when its probation
 * is over: it is no longer emulated and its block should be retranslated. */
bool adaptive_note_emulation(struct adaptive_set *set, guest_linear_t eip);

/* True when the translator should turn the instruction at eip into a callout. */
bool adaptive_is_emulated(const struct adaptive_set *set, guest_linear_t eip);

#endif
