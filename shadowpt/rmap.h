/*
 * shadowpt/rmap.h — the reverse map: for a guest frame, the view pages that
 * map it writable.
 *
 * Protecting a frame (it now holds translated code, or is used as a page
 * table) must find every writable alias of it in every view: this list is
 * where. Entries are not removed when a mapping goes away; they are checked
 * against the view's shadow entry when used (stale ones are skipped), and a
 * frame's list is emptied whenever the frame is protected.
 */
#ifndef POPEK_SHADOWPT_RMAP_H
#define POPEK_SHADOWPT_RMAP_H

#include <stdbool.h>
#include <stdint.h>

struct rmap {
    uint32_t n, cap;
    uint32_t *e;
};

/* An entry: address-space index (4 bits), view (1 bit), linear page (20). */
static inline uint32_t rmap_entry(unsigned space, unsigned view, uint32_t page)
{
    return (uint32_t)space << 21 | (uint32_t)view << 20 | page;
}
static inline unsigned rmap_entry_space(uint32_t e)
{
    return e >> 21;
}
static inline unsigned rmap_entry_view(uint32_t e)
{
    return (e >> 20) & 1;
}
static inline uint32_t rmap_entry_page(uint32_t e)
{
    return e & 0xFFFFF;
}

/* Adds an entry (no duplicates). False when out of memory: the caller must
 * then not leave that mapping writable. */
bool rmap_add(struct rmap *rm, uint32_t entry);
void rmap_clear(struct rmap *rm);
void rmap_free(struct rmap *rm);

#endif
