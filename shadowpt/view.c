/*
 * shadowpt/view.c — reserving views and mapping guest frames into them.
 */
#include "shadowpt/view.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/clock.h"

struct view {
    struct guest_ram *ram;
    uint8_t *reservation; /* start of the lower guard */
    size_t reservation_size;
    uint64_t map_calls;
};

/* Reserves the view with its window 4 GiB aligned (over-reserve by 4 GiB
 * and give back the slack), with one canary page on each side. */
static uint8_t *view_reserve_aligned(size_t size)
{
    size_t slack = VIEW_WINDOW_SIZE, page = GUEST_PAGE_SIZE;
    size_t total = size + slack + 2 * page;
    uint8_t *raw = mmap(NULL, total, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t base =
        ((uintptr_t)raw + page + VIEW_GUARD_BELOW + slack - 1) & ~(uintptr_t)(slack - 1);
    uint8_t *start = (uint8_t *)(base - VIEW_GUARD_BELOW);
    uint8_t *low_canary = start - page, *high_canary = start + size;
    if (low_canary > raw)
        munmap(raw, (size_t)(low_canary - raw));
    if (raw + total > high_canary + page)
        munmap(high_canary + page, (size_t)(raw + total - (high_canary + page)));
    return start;
}

/* Canary pages right outside the reservation: translated code can form no
 * address there, so a changed byte means the isolation failed. */
static const uint64_t canary_pattern = 0x706F70656B43414EULL; /* "popekCAN" */

static void view_arm_canaries(struct view *view)
{
    uint8_t *pages[2] = {view->reservation - GUEST_PAGE_SIZE,
                         view->reservation + view->reservation_size};

    for (int i = 0; i < 2; i++) {
        if (mprotect(pages[i], GUEST_PAGE_SIZE, PROT_READ | PROT_WRITE) == 0) {
            for (size_t j = 0; j < GUEST_PAGE_SIZE; j += 8)
                memcpy(pages[i] + j, &canary_pattern, 8);
        }
    }
}

bool view_canaries_intact(const struct view *view)
{
    const uint8_t *pages[2] = {view->reservation - GUEST_PAGE_SIZE,
                               view->reservation + view->reservation_size};

    for (int i = 0; i < 2; i++) {
        for (size_t j = 0; j < GUEST_PAGE_SIZE; j += 8) {
            if (memcmp(pages[i] + j, &canary_pattern, 8) != 0)
                return false;
        }
    }
    return true;
}

struct view *view_create(struct guest_ram *ram, struct popek_error *err)
{
    struct view *view = calloc(1, sizeof(*view));

    if (!view) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    view->ram = ram;
    view->reservation_size = VIEW_GUARD_BELOW + VIEW_WINDOW_SIZE + VIEW_GUARD_ABOVE;
    view->reservation = view_reserve_aligned(view->reservation_size);
    if (!view->reservation) {
        popek_fail(err, "cannot reserve %zu GiB of address space for a guest view: %s",
                   view->reservation_size >> 30, strerror(errno));
        free(view);
        return NULL;
    }
    view_arm_canaries(view);
    return view;
}

void view_destroy(struct view *view)
{
    if (!view)
        return;
    munmap(view->reservation - GUEST_PAGE_SIZE, view->reservation_size + 2 * GUEST_PAGE_SIZE);
    free(view);
}

uint8_t *view_base(const struct view *view)
{
    return view->reservation + VIEW_GUARD_BELOW;
}

bool view_contains_host(const struct view *view, const void *p, int64_t *linear)
{
    const uint8_t *host = p;

    if (host < view->reservation || host >= view->reservation + view->reservation_size)
        return false;
    if (linear)
        *linear = host - view_base(view);
    return true;
}

static bool window_range_ok(guest_linear_t linear, uint32_t npages)
{
    return (linear & ~GUEST_PAGE_MASK) == 0 &&
           (uint64_t)linear + ((uint64_t)npages << GUEST_PAGE_SHIFT) <= VIEW_WINDOW_SIZE;
}

bool view_map_frames(struct view *view, guest_linear_t linear, uint32_t frame, uint32_t npages,
                     enum view_prot prot, struct popek_error *err)
{
    uint64_t len = (uint64_t)npages << GUEST_PAGE_SHIFT;
    guest_phys_t phys = frame << GUEST_PAGE_SHIFT;

    if (!window_range_ok(linear, npages) || !guest_ram_contains(view->ram, phys, len))
        return popek_fail(err, "view: bad mapping of %u frames at frame 0x%x to linear 0x%08x",
                          npages, frame, linear);
    int host_prot = (prot & 2) ? PROT_READ | PROT_WRITE : PROT_READ;
    void *want = view_base(view) + linear;
    void *got = mmap(want, len, host_prot, MAP_SHARED | MAP_FIXED, guest_ram_fd(view->ram), phys);
    if (got == MAP_FAILED)
        return popek_fail(err, "view: cannot map linear 0x%08x: %s", linear, strerror(errno));
    view->map_calls++;
    return true;
}

bool view_unmap(struct view *view, guest_linear_t linear, uint32_t npages, struct popek_error *err)
{
    uint64_t len = (uint64_t)npages << GUEST_PAGE_SHIFT;

    if (!window_range_ok(linear, npages))
        return popek_fail(err, "view: bad unmap of %u pages at linear 0x%08x", npages, linear);
    /* Not munmap: the range must stay reserved so nothing else of the host
     * process can ever be placed inside a view, so the range is replaced by
     * the reservation's own kind of mapping (anonymous, no access). That is
     * one host call, and it merges with the reservation around it, so a
     * view's host mappings are only the runs mapped now. Zapping the pages
     * and revoking access instead (madvise + mprotect) kept the host's page
     * tables but left each dropped run behind as a file mapping of its own:
     * in a Linux guest's fork+exec loop the process held 10,500 host
     * mappings (1,800 now) and every call had to walk them — a resync's
     * unmapping was 24% of the loop's time, and one fork+exec took
     * 3.0-3.9 ms against 2.3-2.5 ms now (the same host, alternating). */
    uint8_t *at = view_base(view) + linear;
    void *got =
        mmap(at, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    if (got == MAP_FAILED)
        return popek_fail(err, "view: cannot unmap linear 0x%08x: %s", linear, strerror(errno));
    return true;
}

void view_populate(struct view *view, guest_linear_t linear, uint32_t npages, bool write)
{
    static bool unsupported;

    if (unsupported || !window_range_ok(linear, npages))
        return;
    if (madvise(view_base(view) + linear, (size_t)npages << GUEST_PAGE_SHIFT,
                write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) != 0 &&
        errno == EINVAL)
        unsupported = true;
}

/* ---- what a fault costs this host ------------------------------------------ */

#define CALIBRATION_PAGES 24 /* half populated, half faulted, alternating */

static int compare_ns(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return (x > y) - (x < y);
}

static double median_ns(uint64_t *v, unsigned n)
{
    qsort(v, n, sizeof(*v), compare_ns);
    return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

/* Each page is mapped on its own, as a fill maps one, with a gap after it
 * (so no two merge), then either populated and read or read straight away;
 * only what follows the mmap is timed. The pages alternate, so a host
 * hiccup lands on both sides alike, and the medians ignore it. */
static void measure_host_costs(struct view_host_costs *c)
{
    const size_t page = GUEST_PAGE_SIZE, span = 2 * CALIBRATION_PAGES * page;
    uint64_t populated[CALIBRATION_PAGES / 2], faulted[CALIBRATION_PAGES / 2];
    unsigned np = 0, nf = 0;
    int fd = memfd_create("popek-calibration", MFD_CLOEXEC);
    uint8_t *area = MAP_FAILED;

    c->populate_works = false;
    if (fd < 0 || ftruncate(fd, CALIBRATION_PAGES * page) != 0)
        goto out;
    for (unsigned i = 0; i < CALIBRATION_PAGES; i++) {
        uint8_t byte = (uint8_t)i; /* the pages exist: a fault maps, not allocates */
        if (pwrite(fd, &byte, 1, (off_t)(i * page)) != 1)
            goto out;
    }
    area = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (area == MAP_FAILED)
        goto out;
    c->populate_works = true;
    for (unsigned i = 0; i < CALIBRATION_PAGES; i++) {
        volatile uint8_t *p = mmap(area + 2 * i * page, page, PROT_READ, MAP_SHARED | MAP_FIXED, fd,
                                   (off_t)(i * page));
        if (p == MAP_FAILED)
            goto out;
        uint64_t t0 = host_monotonic_ns();
        if (i % 2 == 0 && madvise((void *)p, page, MADV_POPULATE_READ) != 0)
            c->populate_works = false;
        (void)p[0];
        uint64_t t = host_monotonic_ns() - t0;
        if (i % 2 == 0)
            populated[np++] = t;
        else
            faulted[nf++] = t;
    }
    c->populate_ns = median_ns(populated, np);
    c->fault_ns = median_ns(faulted, nf);
out:
    if (area != MAP_FAILED)
        munmap(area, span);
    if (fd >= 0)
        close(fd);
}

const struct view_host_costs *view_host_costs(void)
{
    static struct view_host_costs costs;
    static bool measured;

    if (!measured) {
        measure_host_costs(&costs);
        measured = true;
    }
    return &costs;
}

bool view_populate_pays(void)
{
    const struct view_host_costs *c = view_host_costs();

    return c->populate_works && c->populate_ns < c->fault_ns;
}

bool view_protect(struct view *view, guest_linear_t linear, uint32_t npages, enum view_prot prot)
{
    if (!window_range_ok(linear, npages))
        return false;
    return mprotect(view_base(view) + linear, (size_t)npages << GUEST_PAGE_SHIFT,
                    (prot & 2) ? PROT_READ | PROT_WRITE : PROT_READ) == 0;
}

uint64_t view_mapping_calls(const struct view *view)
{
    return view->map_calls;
}
