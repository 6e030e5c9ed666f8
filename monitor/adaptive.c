/*
 * monitor/adaptive.c — the per-instruction fault counts (adaptive.h).
 */
#include "monitor/adaptive.h"

#include <string.h>

static struct adaptive_entry *slot(const struct adaptive_set *set, guest_linear_t eip)
{
    /* Fibonacci hashing: neighbouring EIPs spread over the table. */
    uint32_t h = (eip * 2654435761u) >> (32 - 13);

    return (struct adaptive_entry *)&set->entries[h & (ADAPTIVE_ENTRIES - 1)];
}

/* Faults needed before the instruction is emulated: more each time it
 * came back in place (a loop that traps once per page it sweeps settles
 * in place). */
static uint32_t threshold(const struct adaptive_entry *e)
{
    return (uint32_t)ADAPTIVE_THRESHOLD << (e->backoff < 6 ? e->backoff : 6);
}

void adaptive_clear(struct adaptive_set *set)
{
    memset(set->entries, 0, sizeof(set->entries));
}

bool adaptive_note_fault(struct adaptive_set *set, guest_linear_t eip)
{
    struct adaptive_entry *e = slot(set, eip);

    if (set->disabled)
        return false;
    if (e->eip != eip) {
        *e = (struct adaptive_entry){.eip = eip};
    }
    if (!e->emulated && ++e->faults >= threshold(e)) {
        e->emulated = true;
        e->emulations = 0;
        e->useless = 0;
    }
    return e->emulated;
}

bool adaptive_note_emulation(struct adaptive_set *set, guest_linear_t eip,
                             enum adaptive_verdict verdict)
{
    struct adaptive_entry *e = slot(set, eip);
    bool back_in_place;

    if (e->eip != eip || !e->emulated)
        return false;
    switch (verdict) {
    case ADAPTIVE_WOULD_TRAP:
        e->useless = 0;
        return false;
    case ADAPTIVE_WOULD_NOT_TRAP:
        back_in_place = ++e->useless >= ADAPTIVE_USELESS;
        break;
    default:
        back_in_place = ++e->emulations >= ((uint32_t)ADAPTIVE_PROBATION << e->backoff);
        break;
    }
    if (!back_in_place)
        return false;
    e->emulated = false; /* keeps eip and the back-off */
    e->faults = 0;
    e->emulations = 0;
    e->useless = 0;
    if (e->backoff < 16)
        e->backoff++;
    return true;
}

void adaptive_forget(struct adaptive_set *set, guest_linear_t eip)
{
    struct adaptive_entry *e = slot(set, eip);

    if (e->eip == eip)
        *e = (struct adaptive_entry){0};
}

bool adaptive_is_emulated(const struct adaptive_set *set, guest_linear_t eip)
{
    const struct adaptive_entry *e = slot(set, eip);

    return !set->disabled && e->emulated && e->eip == eip;
}
