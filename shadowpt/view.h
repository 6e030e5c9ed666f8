/*
 * shadowpt/view.h — a view: one guest address space as a host window.
 *
 * A view is a reserved host region laid out as (DESIGN.md §2)
 *
 *     [ 64 KiB guard ][ 4 GiB window: guest linear 0 .. 2^32-1 ][ 36 GiB guard ]
 *                     ^ view_base() — the value translated code keeps in r13
 *
 * all PROT_NONE and MAP_NORESERVE until frames of guest RAM are mapped into
 * the window. The guards catch every access translated code can form that
 * leaves the window: displacements down to -64 KiB below; above, at most
 * r12 + base + (disp - 2^31) < 2 GiB + 4 GiB + 2 GiB = 8 GiB past view_base
 * (index forms are first reduced to 32 bits with lea r14d). 36 GiB leaves
 * room for the widest string and operand sizes with margin. A fault in a
 * guard is how a wrap-around at 4 GiB is detected and then emulated exactly.
 *
 * view_base() is 4 GiB aligned: the low 32 bits of view_base + L are L, so
 * translated code can turn a host pointer back into a guest address with a
 * flag-neutral 32-bit `mov esi, esi` (string instructions rely on this).
 *
 * Invariant: every host page of the reservation is either PROT_NONE or maps
 * the guest RAM memfd; nothing else is ever mapped here.
 */
#ifndef POPEK_SHADOWPT_VIEW_H
#define POPEK_SHADOWPT_VIEW_H

#include "common/error.h"
#include "common/types.h"
#include "shadowpt/guest_ram.h"

#define VIEW_GUARD_BELOW KIB(64)
#define VIEW_WINDOW_SIZE GIB(4)
#define VIEW_GUARD_ABOVE GIB(36)

/* Host protection of a mapped guest page. */
enum view_prot {
    VIEW_PROT_READ = 1,
    VIEW_PROT_READ_WRITE = 3,
};

struct view;

struct view *view_create(struct guest_ram *ram, struct popek_error *err);
void view_destroy(struct view *view);

/* Host address of guest linear address 0 (r13 in translated code). */
uint8_t *view_base(const struct view *view);

/* True when host address p lies in the view's reservation (window or guards);
 * *linear receives the guest linear address it stands for (which may be
 * outside 32 bits for guard addresses, hence the int64_t). */
bool view_contains_host(const struct view *view, const void *p, int64_t *linear);

/* Maps npages frames starting at `frame` to the window at `linear` with one
 * mmap. Fails only if the host refuses (map-count limit, out of memory). */
bool view_map_frames(struct view *view, guest_linear_t linear, uint32_t frame, uint32_t npages,
                     enum view_prot prot, struct popek_error *err);

/* Has the host enter the `npages` mapped pages from `linear` in its page
 * tables now (MADV_POPULATE_READ or _WRITE, Linux 5.14; nothing where the
 * host lacks them): accesses about to be made then cost no host page fault. */
void view_populate(struct view *view, guest_linear_t linear, uint32_t npages, bool write);

/* What entering one page ahead costs this host against the page fault it
 * saves, measured once on first use on a scratch memfd of its own (24
 * pages, well under a millisecond) — the hosts popek runs on differ by ten
 * times here (DESIGN.md §1; docs/architecture.md, "Why it looks like
 * this"). Medians of the pages measured each way, in nanoseconds. */
struct view_host_costs {
    double populate_ns;  /* MADV_POPULATE_READ of a freshly mapped page, then a read */
    double fault_ns;     /* a read of a freshly mapped page: a host minor fault */
    bool populate_works; /* false where the host lacks MADV_POPULATE_* */
};
const struct view_host_costs *view_host_costs(void);

/* Whether populating one page for the access about to be made costs less
 * than the host fault that access would otherwise take, here. */
bool view_populate_pays(void);

/* Returns the window range to PROT_NONE (still reserved). */
bool view_unmap(struct view *view, guest_linear_t linear, uint32_t npages, struct popek_error *err);

/* Changes the host protection of mapped window pages (mprotect). */
bool view_protect(struct view *view, guest_linear_t linear, uint32_t npages, enum view_prot prot);

/* True when the canary pages on both sides of the reservation still hold
 * their pattern (checked at exit: a translator isolation bug would break it). */
bool view_canaries_intact(const struct view *view);

/* Number of mmap calls that currently back the window (for the map budget). */
uint64_t view_mapping_calls(const struct view *view);

#endif
