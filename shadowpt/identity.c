/*
 * shadowpt/identity.c — mapping guest RAM 1:1 for paging-off execution.
 */
#include "shadowpt/identity.h"

bool shadow_map_identity(struct view *view, const struct guest_ram *ram, struct popek_error *err)
{
    uint32_t frames = (uint32_t)(guest_ram_size(ram) >> GUEST_PAGE_SHIFT);
    uint32_t frame = 0;

    /* Walk the frames and map each maximal run of usable ones with one call. */
    while (frame < frames) {
        if (!guest_ram_is_usable_frame(ram, frame)) {
            frame++;
            continue;
        }
        uint32_t start = frame;
        while (frame < frames && guest_ram_is_usable_frame(ram, frame))
            frame++;
        if (!view_map_frames(view, start << GUEST_PAGE_SHIFT, start, frame - start,
                             VIEW_PROT_READ_WRITE, err))
            return false;
    }
    return true;
}
