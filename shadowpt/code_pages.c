/*
 * shadowpt/code_pages.c — the set of write-protected code pages (code_pages.h).
 */
#include "shadowpt/code_pages.h"

#include <stdlib.h>

struct code_pages {
    const struct guest_ram *ram;
    struct view *view;
    uint32_t nframes;
    uint8_t *is_protected; /* one byte per guest frame */
    uint32_t *list;        /* protected frames, for unprotect_all */
    uint32_t count;
};

struct code_pages *code_pages_create(const struct guest_ram *ram, struct view *view,
                                     struct popek_error *err)
{
    struct code_pages *cp = calloc(1, sizeof(*cp));

    if (!cp) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    cp->ram = ram;
    cp->view = view;
    cp->nframes = (uint32_t)(guest_ram_size(ram) >> GUEST_PAGE_SHIFT);
    cp->is_protected = calloc(cp->nframes, 1);
    cp->list = calloc(cp->nframes, sizeof(*cp->list));
    if (!cp->is_protected || !cp->list) {
        code_pages_destroy(cp);
        popek_fail(err, "out of memory");
        return NULL;
    }
    return cp;
}

void code_pages_destroy(struct code_pages *cp)
{
    if (!cp)
        return;
    free(cp->is_protected);
    free(cp->list);
    free(cp);
}

static bool frame_ok(const struct code_pages *cp, uint32_t frame)
{
    return frame < cp->nframes && guest_ram_is_usable_frame(cp->ram, frame);
}

void code_pages_protect(struct code_pages *cp, guest_linear_t linear)
{
    uint32_t frame = linear >> GUEST_PAGE_SHIFT;

    if (!frame_ok(cp, frame) || cp->is_protected[frame])
        return;
    if (!view_protect(cp->view, frame << GUEST_PAGE_SHIFT, 1, VIEW_PROT_READ))
        return;
    cp->is_protected[frame] = 1;
    cp->list[cp->count++] = frame;
}

bool code_pages_is_protected(const struct code_pages *cp, guest_linear_t linear)
{
    uint32_t frame = linear >> GUEST_PAGE_SHIFT;

    return frame < cp->nframes && cp->is_protected[frame];
}

void code_pages_unprotect(struct code_pages *cp, guest_linear_t linear)
{
    uint32_t frame = linear >> GUEST_PAGE_SHIFT;

    if (!frame_ok(cp, frame) || !cp->is_protected[frame])
        return;
    view_protect(cp->view, frame << GUEST_PAGE_SHIFT, 1, VIEW_PROT_READ_WRITE);
    cp->is_protected[frame] = 0;
    for (uint32_t i = 0; i < cp->count; i++) {
        if (cp->list[i] == frame) {
            cp->list[i] = cp->list[--cp->count];
            break;
        }
    }
}

void code_pages_unprotect_all(struct code_pages *cp)
{
    while (cp->count) {
        uint32_t frame = cp->list[--cp->count];
        view_protect(cp->view, frame << GUEST_PAGE_SHIFT, 1, VIEW_PROT_READ_WRITE);
        cp->is_protected[frame] = 0;
    }
}

uint64_t code_pages_protected_count(const struct code_pages *cp)
{
    return cp->count;
}
