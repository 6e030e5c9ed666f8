/*
 * monitor/adaptive.h — adaptive translation: guest instructions that keep
 * trapping are retranslated to call the monitor instead.
 *
 * An instruction whose memory access cannot be made in place faults on the
 * host every time it runs (13-35 µs here, DESIGN.md §1): a store to a guest
 * page table that is in sync (write-protected), an access to device memory,
 * a store into a frame holding translated code, and a loop that touches a
 * page not mapped yet each time (demand paging: every access a guest #PF or
 * a shadow fill). Emulating it from a callout
 * costs a fraction of that. The monitor counts such faults per guest
 * instruction; at a threshold the instruction's block is dropped and, when
 * translated again, the instruction becomes a callout that the monitor
 * emulates (the way VMware's monitor adapted to its traces).
 *
 * An instruction is not emulated forever: shared code (a kernel's memset or
 * copy routine) may hit a page table once and ordinary memory ever after,
 * and a loop writing a page table traps only on its first write after each
 * resync. The monitor tells each emulation whether the access would have
 * trapped: after a run of ones that would not, the instruction runs in
 * place again. Where it cannot tell (implicit operands), a probation of a
 * number of emulations does the same, doubled at each relapse (back-off).
 *
 * The table is a direct-mapped cache of hints: a collision forgets a count,
 * which only delays the switch. A callout is always correct.
 */
#ifndef POPEK_MONITOR_ADAPTIVE_H
#define POPEK_MONITOR_ADAPTIVE_H

#include "common/types.h"

#define ADAPTIVE_ENTRIES   8192
#define ADAPTIVE_THRESHOLD 3  /* host faults before it is emulated (doubling at each relapse) */
#define ADAPTIVE_PROBATION 64 /* emulations before it runs in place again (doubling) */
#define ADAPTIVE_USELESS   16 /* emulations in a row that would not have trapped */

struct adaptive_set {
    bool disabled;
    struct adaptive_entry {
        guest_linear_t eip;
        uint16_t faults;     /* trapping accesses counted towards emulation */
        uint8_t backoff;     /* times it went back in place (raises thresholds) */
        uint8_t useless;     /* emulations in a row that would not have trapped */
        uint32_t emulations; /* since it was last switched to emulation */
        bool emulated;
    } entries[ADAPTIVE_ENTRIES];
};

void adaptive_clear(struct adaptive_set *set);

/* Counts a trapping access by the instruction at eip. True when the
 * instruction is (now) to be emulated: its block should be retranslated. */
bool adaptive_note_fault(struct adaptive_set *set, guest_linear_t eip);

/* Whether an emulated access would have trapped had it run in place. */
enum adaptive_verdict {
    ADAPTIVE_WOULD_TRAP,
    ADAPTIVE_WOULD_NOT_TRAP,
    ADAPTIVE_UNKNOWN,
};

/* Counts one emulation of the instruction at eip. True when it should run
 * in place again: it is no longer emulated and its block should be
 * retranslated. */
bool adaptive_note_emulation(struct adaptive_set *set, guest_linear_t eip,
                             enum adaptive_verdict verdict);

/* Stops emulating the instruction at eip (it turned out not to be one the
 * monitor can emulate: new code at an old address). */
void adaptive_forget(struct adaptive_set *set, guest_linear_t eip);

/* True when the translator should turn the instruction at eip into a callout. */
bool adaptive_is_emulated(const struct adaptive_set *set, guest_linear_t eip);

#endif
