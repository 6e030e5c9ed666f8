/*
 * shadowpt/shadow.c — the shadow MMU (shadow.h).
 *
 * Per view, a shadow entry per guest page (`spte`, 4 MiB of NORESERVE
 * memory, zero = unmapped) records which frame is mapped there and why the
 * host protection is what it is:
 *
 *     frame << 12 | GUEST_W (the guest lets this view write it)
 *                 | DIRTY   (its D flag is set: writes need no walk)
 *                 | HOST_W  (mapped writable on the host)  | MAPPED
 *
 * A page is host-writable exactly when GUEST_W and DIRTY hold and its frame
 * is neither translated code nor a tracked page table in sync. Only
 * host-writable mappings are entered in the reverse map (rmap.c): they are
 * the ones protecting a frame has to find.
 *
 * Beside it, `src` keeps the guest PTE each mapping was derived from, and
 * `pde_src` the PDE of each 4 MiB region: bringing an unsynced table back in
 * sync is checking every mapping it feeds against the entry now in memory
 * (entry_consistent) and dropping those that no longer follow from it. So
 * no copy of a table is kept, and an entry changed and changed back, or
 * changed after a mapping was made from it, is judged by what the mapping
 * really assumed.
 */
#include "shadowpt/shadow.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "monitor/vcpu.h"
#include "shadowpt/rmap.h"
#include "shadowpt/view.h"

#define WINDOW_PAGES   (1u << 20)
#define REGION_PAGES   1024u /* one page directory entry: 4 MiB */
#define ENTRIES        1024u
#define IDENTITY_SPACE 0u

/* The host's mappings are bounded by vm.max_map_count (65530, DESIGN.md
 * §1). Every MAP_CHECK_INTERVAL mapping operations (each adds at most two
 * host mappings, by splitting one) the process's mappings are counted, and
 * if fewer than MAP_HEADROOM are left, a space is emptied. */
#define MAP_CHECK_INTERVAL 8192u
#define MAP_HEADROOM       (4 * MAP_CHECK_INTERVAL)

#define SPTE_MAPPED   0x1u
#define SPTE_GUEST_W  0x2u
#define SPTE_DIRTY    0x4u
#define SPTE_HOST_W   0x8u
#define SPTE_FRAME(e) ((e) >> GUEST_PAGE_SHIFT)

#define FRAME_CODE    0x1u /* holds translated code */
#define FRAME_TRACKED 0x2u /* used as a page directory or page table */

#define ROLE_PD 0x1u
#define ROLE_PT 0x2u

struct shadow_view {
    struct view *view;
    uint32_t *spte;                     /* WINDOW_PAGES entries */
    uint32_t *src;                      /* WINDOW_PAGES: the guest PTE each mapping came from */
    uint32_t pde_src[ENTRIES];          /* the guest PDE each region's mappings came from */
    uint16_t region_pages[ENTRIES];     /* mapped pages per 4 MiB region */
    uint64_t region_bits[ENTRIES / 64]; /* regions with mapped pages: resyncs visit only those */
    uint32_t mapped_pages;
};

struct space {
    bool in_use;
    uint32_t pd_frame; /* CR3's page directory */
    uint64_t last_used;
    uint64_t map_ops; /* host mapping operations since it was last emptied */
    unsigned nviews;  /* 1 for the identity space: one view serves every CPL */
    /* Its directory changed while another space was current, and some of
     * its supervisor regions were left mapped: each region is checked
     * against the directory when the space is next used (space_recheck). */
    bool recheck_pending;
    struct shadow_view v[2]; /* [0] supervisor, [1] user */
};

/* A frame used as a page directory or page table by a cached space.
 *
 * A table the guest writes between most CR3 loads is *write-hot*: a guest
 * kernel's page allocator hands the same few frames to every new process
 * as its directory and tables (LIFO free lists), so under a fork+exec loop
 * each of them is written, unsynced and protected again several times per
 * process. Protecting costs a host call that flushes the host TLB, and the
 * next write a host fault or an emulated access; a write-hot table instead
 * stays unsynced — writable, resynced at every CR3 load like any unsynced
 * table — until its contents stop changing for SHADOW_WRITE_HOT_COOL_RESYNCS
 * resyncs in a row (a hash of the page tells), and is protected again. How
 * often a frame was unsynced (`unsync_heat`) outlives its tracking: a
 * process's tables are freed with it and the frames come back as the next
 * one's, which then start write-hot instead of being protected anew. */
struct tracked {
    uint32_t frame;
    uint8_t roles;
    bool unsynced;
    bool write_hot;
    uint8_t quiet_resyncs; /* write-hot: resyncs in a row that found it unchanged */
    uint64_t hash;         /* write-hot: the page at the last resync */
};

/* The monitor's own TLB for its software walks (shadow_translate): a few
 * translations, each made by a walk that set their A (and, when `dirty`,
 * D) flags, flushed when the guest's TLB would be (CR3 load, INVLPG, a
 * paging-mode change). Like the hardware's, it may keep a translation the
 * guest changed without invalidating it (SDM vol. 3, §4.10.4.3). */
#define MONITOR_TLB_ENTRIES 64 /* at most 64: tlb_large_slots has a bit for each */

struct monitor_tlb_entry {
    uint32_t page; /* linear page + 1; 0: empty */
    uint32_t frame;
    bool user_ok, user_write_ok, super_write_ok, dirty, global;
};

struct shadow_mmu {
    struct monitor_tlb_entry tlb[MONITOR_TLB_ENTRIES];
    uint64_t tlb_large_slots; /* entries holding 4 KiB pieces of 4 MiB pages */
    struct guest_ram *ram;
    uint32_t nframes;
    struct paging_regs regs;
    unsigned nspaces;                           /* paging spaces, besides the identity one */
    struct space spaces[SHADOW_MAX_SPACES + 1]; /* [0]: identity (paging off) */
    struct space *current;
    uint64_t clock;
    uint64_t map_limit; /* host mappings allowed before a space is emptied */
    uint64_t map_check_interval;
    uint64_t ops_since_check;
    uint8_t *frame_flags;
    uint8_t *unsync_heat;     /* per frame: unsyncs since it last cooled (struct tracked) */
    struct tracked **tracked; /* per frame, NULL when not tracked */
    uint32_t *unsynced;       /* frames to resync */
    uint32_t nunsynced;
    struct rmap *rmap;
    struct shadow_stats stats;
};

/* ---- small helpers -------------------------------------------------------- */

static unsigned space_index(const struct shadow_mmu *mmu, const struct space *s)
{
    return (unsigned)(s - mmu->spaces);
}

static bool frame_is_ram(const struct shadow_mmu *mmu, uint32_t frame)
{
    return frame < mmu->nframes && guest_ram_is_usable_frame(mmu->ram, frame);
}

/* True when no view may write the frame directly. */
static bool frame_protected(const struct shadow_mmu *mmu, uint32_t frame)
{
    if (mmu->frame_flags[frame] & FRAME_CODE)
        return true;
    return (mmu->frame_flags[frame] & FRAME_TRACKED) && !mmu->tracked[frame]->unsynced;
}

static uint32_t spte_make(const struct shadow_mmu *mmu, uint32_t frame, bool guest_w, bool dirty)
{
    uint32_t e = frame << GUEST_PAGE_SHIFT | SPTE_MAPPED;

    if (guest_w)
        e |= SPTE_GUEST_W;
    if (dirty)
        e |= SPTE_DIRTY;
    if (guest_w && dirty && !frame_protected(mmu, frame))
        e |= SPTE_HOST_W;
    return e;
}

/* A mapping derived from guest entry `src` still follows from the entry now
 * `live`: same frame, flags and rights, still accessed, and dirty wherever
 * the mapping assumed it. A/D set since are fine (the walk sets them). */
static bool entry_consistent(uint32_t src, uint32_t live)
{
    const uint32_t ad = PTE_A | PTE_D;

    return (src & ~ad) == (live & ~ad) && (live & PTE_A) && (!(src & PTE_D) || (live & PTE_D));
}

static void note_map_op(struct shadow_mmu *mmu, struct space *s)
{
    s->map_ops++;
    mmu->ops_since_check++;
    mmu->stats.host_map_ops++;
}

/* The number of mappings the host process has (lines of /proc/self/maps). */
static uint64_t count_host_mappings(void)
{
    char buf[65536];
    uint64_t lines = 0;
    ssize_t n;
    int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return 0;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++)
            lines += buf[i] == '\n';
    }
    close(fd);
    return lines;
}

/* vm.max_map_count, or its default. */
static uint64_t host_map_count_limit(void)
{
    char buf[32] = "";
    int fd = open("/proc/sys/vm/max_map_count", O_RDONLY | O_CLOEXEC);
    uint64_t limit = 0;

    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        if (n > 0)
            limit = strtoull(buf, NULL, 10);
        close(fd);
    }
    return limit ? limit : 65530;
}

/* ---- mapping and unmapping ------------------------------------------------ */

static void region_page_added(struct shadow_view *sv, uint32_t region)
{
    if (sv->region_pages[region]++ == 0)
        sv->region_bits[region / 64] |= 1ull << (region % 64);
}

static void region_page_removed(struct shadow_view *sv, uint32_t region)
{
    if (--sv->region_pages[region] == 0)
        sv->region_bits[region / 64] &= ~(1ull << (region % 64));
}

/* The next region at or after `from` with mapped pages in either of the
 * first `nviews` views of `v`, or ENTRIES. */
static uint32_t next_mapped_region(const struct shadow_view *v, unsigned nviews, uint32_t from)
{
    for (uint32_t w = from / 64; w < ENTRIES / 64; w++) {
        uint64_t bits = v[0].region_bits[w] | (nviews > 1 ? v[1].region_bits[w] : 0);
        if (w == from / 64)
            bits &= ~0ull << (from % 64);
        if (bits)
            return w * 64 + (uint32_t)__builtin_ctzll(bits);
    }
    return ENTRIES;
}

/* Maps `n` pages from `lpage` whose shadow entries are `e[0..n)` (frames
 * contiguous, same host protection) with one mmap; `src` are the guest
 * PTEs they come from (NULL with paging off). */
static bool map_run(struct shadow_mmu *mmu, struct space *s, unsigned vi, uint32_t lpage,
                    const uint32_t *e, const uint32_t *src, uint32_t n)
{
    struct shadow_view *sv = &s->v[vi];
    struct popek_error err;
    bool writable = e[0] & SPTE_HOST_W;

    if (!view_map_frames(sv->view, lpage << GUEST_PAGE_SHIFT, SPTE_FRAME(e[0]), n,
                         writable ? VIEW_PROT_READ_WRITE : VIEW_PROT_READ, &err))
        return false;
    note_map_op(mmu, s);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t page = lpage + i;
        if (!(sv->spte[page] & SPTE_MAPPED)) {
            region_page_added(sv, page / REGION_PAGES);
            sv->mapped_pages++;
        }
        sv->spte[page] = e[i];
        sv->src[page] = src ? src[i] : 0;
        if (writable &&
            !rmap_add(&mmu->rmap[SPTE_FRAME(e[i])], rmap_entry(space_index(mmu, s), vi, page))) {
            /* Unlisted, it could not be found to protect: read-only. */
            view_protect(sv->view, page << GUEST_PAGE_SHIFT, 1, VIEW_PROT_READ);
            sv->spte[page] &= ~SPTE_HOST_W;
        }
    }
    return true;
}

/* The access that faulted is about to be made again: the host maps the
 * page now, in the call, rather than in a page fault of its own on the
 * retry — where that is cheaper, which depends on the host
 * (view_populate_pays). On the PVM hosts the call cost 3.1 µs and a host
 * page fault 9-12 µs; on a KVM host the call 1.9-2.5 µs and the fault 1.4 µs,
 * and populating made a Linux fork+exec 6-7% slower there. */
static void populate_page(struct shadow_view *sv, uint32_t page, bool write)
{
    uint32_t e = sv->spte[page];

    if ((e & SPTE_MAPPED) && view_populate_pays())
        view_populate(sv->view, page << GUEST_PAGE_SHIFT, 1, write && (e & SPTE_HOST_W));
}

/* Gives a mapped page new shadow flags for the same frame: an mprotect,
 * cheaper for the host than mapping it again. */
static void upgrade_page(struct shadow_mmu *mmu, struct space *s, unsigned vi, uint32_t page,
                         uint32_t e, uint32_t src)
{
    struct shadow_view *sv = &s->v[vi];
    uint32_t old = sv->spte[page];

    if ((old & SPTE_HOST_W) != (e & SPTE_HOST_W)) {
        if ((e & SPTE_HOST_W) &&
            !rmap_add(&mmu->rmap[SPTE_FRAME(e)], rmap_entry(space_index(mmu, s), vi, page)))
            e &= ~SPTE_HOST_W;
        if ((old & SPTE_HOST_W) != (e & SPTE_HOST_W)) {
            view_protect(sv->view, page << GUEST_PAGE_SHIFT, 1,
                         (e & SPTE_HOST_W) ? VIEW_PROT_READ_WRITE : VIEW_PROT_READ);
            note_map_op(mmu, s);
        }
    }
    sv->spte[page] = e;
    sv->src[page] = src;
}

/* Collects pages into runs that one mmap can map. */
struct run_builder {
    uint32_t lpage, n;
    uint32_t e[ENTRIES];
    uint32_t src[ENTRIES];
};

static void run_flush(struct shadow_mmu *mmu, struct space *s, unsigned vi, struct run_builder *r)
{
    if (r->n)
        map_run(mmu, s, vi, r->lpage, r->e, r->src, r->n);
    r->n = 0;
}

static void run_add(struct shadow_mmu *mmu, struct space *s, unsigned vi, struct run_builder *r,
                    uint32_t lpage, uint32_t e, uint32_t src)
{
    if (r->n) {
        uint32_t last = r->e[r->n - 1];
        bool joins = lpage == r->lpage + r->n && SPTE_FRAME(e) == SPTE_FRAME(last) + 1 &&
                     (e & SPTE_HOST_W) == (last & SPTE_HOST_W) && r->n < ENTRIES;
        if (!joins)
            run_flush(mmu, s, vi, r);
    }
    if (!r->n)
        r->lpage = lpage;
    r->src[r->n] = src;
    r->e[r->n++] = e;
}

static void unmap_pages(struct shadow_mmu *mmu, struct space *s, unsigned vi, uint32_t lpage,
                        uint32_t n)
{
    struct shadow_view *sv = &s->v[vi];
    struct popek_error err;
    uint32_t mapped = 0, end = lpage + n;

    for (uint32_t page = lpage; page < end;) {
        uint32_t region = page / REGION_PAGES;
        uint32_t stop = (region + 1) * REGION_PAGES < end ? (region + 1) * REGION_PAGES : end;
        if (!sv->region_pages[region]) {
            page = stop; /* nothing mapped in this region: skip its entries */
            continue;
        }
        for (; page < stop; page++) {
            if (sv->spte[page] & SPTE_MAPPED) {
                sv->spte[page] = 0;
                region_page_removed(sv, region);
                mapped++;
            }
        }
    }
    if (!mapped)
        return;
    sv->mapped_pages -= mapped;
    view_unmap(sv->view, lpage << GUEST_PAGE_SHIFT, n, &err);
    note_map_op(mmu, s);
}

/* Makes `n` mapped pages from `lpage` read-only on the host (their shadow
 * entries already say so): one mprotect. */
static void protect_pages_read_only(struct shadow_mmu *mmu, struct space *s, unsigned vi,
                                    uint32_t lpage, uint32_t n)
{
    view_protect(s->v[vi].view, lpage << GUEST_PAGE_SHIFT, n, VIEW_PROT_READ);
    note_map_op(mmu, s);
}

static void unmap_region(struct shadow_mmu *mmu, struct space *s, uint32_t region)
{
    for (unsigned vi = 0; vi < s->nviews; vi++) {
        if (s->v[vi].region_pages[region])
            unmap_pages(mmu, s, vi, region * REGION_PAGES, REGION_PAGES);
    }
}

/* Regions of one view waiting to be unmapped together. When a process
 * exits, every region of its address space changes at once; unmapping
 * them as one span — the regions between with nothing mapped in this view
 * included — is one host call and one host TLB flush instead of one per
 * region. */
struct region_drop {
    uint32_t first, end; /* regions; empty when equal */
};

static void region_drop_flush(struct shadow_mmu *mmu, struct space *s, unsigned vi,
                              struct region_drop *rd)
{
    if (rd->end > rd->first)
        unmap_pages(mmu, s, vi, rd->first * REGION_PAGES, (rd->end - rd->first) * REGION_PAGES);
    rd->first = rd->end = 0;
}

static void region_drop_add(struct shadow_mmu *mmu, struct space *s, unsigned vi,
                            struct region_drop *rd, uint32_t region)
{
    if (rd->end > rd->first) {
        uint32_t r = rd->end;
        while (r < region && !s->v[vi].region_pages[r])
            r++;
        if (r == region) {
            rd->end = region + 1;
            return;
        }
        region_drop_flush(mmu, s, vi, rd); /* a region kept mapped lies between */
    }
    rd->first = region;
    rd->end = region + 1;
}

/* Makes every host-writable mapping of `frame` read-only (rmap). */
static void downgrade_frame(struct shadow_mmu *mmu, uint32_t frame)
{
    struct rmap *rm = &mmu->rmap[frame];

    for (uint32_t i = 0; i < rm->n; i++) {
        unsigned si = rmap_entry_space(rm->e[i]), vi = rmap_entry_view(rm->e[i]);
        uint32_t page = rmap_entry_page(rm->e[i]);
        struct space *s = &mmu->spaces[si];
        uint32_t *e = &s->v[vi].spte[page];

        if ((*e & (SPTE_MAPPED | SPTE_HOST_W)) != (SPTE_MAPPED | SPTE_HOST_W) ||
            SPTE_FRAME(*e) != frame)
            continue; /* stale: unmapped or remapped since */
        *e &= ~SPTE_HOST_W;
        protect_pages_read_only(mmu, s, vi, page, 1);
    }
    rmap_clear(rm);
}

/* ---- address spaces ------------------------------------------------------- */

static void space_empty(struct shadow_mmu *mmu, struct space *s)
{
    struct popek_error err;

    for (unsigned vi = 0; vi < s->nviews; vi++) {
        struct shadow_view *sv = &s->v[vi];
        if (sv->mapped_pages || s->map_ops) {
            view_unmap(sv->view, 0, WINDOW_PAGES, &err);
            madvise(sv->spte, WINDOW_PAGES * sizeof(uint32_t), MADV_DONTNEED);
            madvise(sv->src, WINDOW_PAGES * sizeof(uint32_t), MADV_DONTNEED);
            memset(sv->region_pages, 0, sizeof(sv->region_pages));
            memset(sv->region_bits, 0, sizeof(sv->region_bits));
            sv->mapped_pages = 0;
        }
    }
    s->map_ops = 0;
}

static struct tracked *track_frame(struct shadow_mmu *mmu, uint32_t frame, uint8_t role);
static void untrack_role(struct shadow_mmu *mmu, uint32_t frame, uint8_t role);

static void space_drop(struct shadow_mmu *mmu, struct space *s)
{
    space_empty(mmu, s);
    s->recheck_pending = false;
    if (s->in_use && s != &mmu->spaces[IDENTITY_SPACE])
        untrack_role(mmu, s->pd_frame, ROLE_PD);
    s->in_use = s == &mmu->spaces[IDENTITY_SPACE];
}

/* Unmaps every region of `s` whose mappings no longer follow from the
 * entry of page directory `pd_frame` for it. */
static void space_drop_stale_regions(struct shadow_mmu *mmu, struct space *s, uint32_t pd_frame)
{
    const uint32_t *pd =
        guest_ram_host_ptr(mmu->ram, pd_frame << GUEST_PAGE_SHIFT, GUEST_PAGE_SIZE);
    struct region_drop drop[2] = {{0}};

    for (uint32_t d = next_mapped_region(s->v, s->nviews, 0); d < ENTRIES;
         d = next_mapped_region(s->v, s->nviews, d + 1)) {
        for (unsigned vi = 0; vi < s->nviews; vi++) {
            if (s->v[vi].region_pages[d] && !entry_consistent(s->v[vi].pde_src[d], pd[d]))
                region_drop_add(mmu, s, vi, &drop[vi], d);
        }
    }
    for (unsigned vi = 0; vi < s->nviews; vi++)
        region_drop_flush(mmu, s, vi, &drop[vi]);
    s->recheck_pending = false;
}

/* A cached space is about to be used again: brings the regions left
 * mapped across a change of its directory in line with it. */
static void space_recheck(struct shadow_mmu *mmu, struct space *s)
{
    if (s->recheck_pending) {
        mmu->stats.deferred_rechecks++;
        space_drop_stale_regions(mmu, s, s->pd_frame);
    }
}

/* Reuses a cached space for another page directory, keeping every region
 * whose directory entry is the same in both: the mappings follow from that
 * entry (and, for a page table, from a table still tracked and resynced).
 * Every process of a guest kernel shares the kernel half of its directory,
 * so a new process starts with the kernel mapped instead of refilling it
 * fault by fault (hundreds of host mapping calls per process). */
static void space_retarget(struct shadow_mmu *mmu, struct space *s, uint32_t pd_frame)
{
    space_drop_stale_regions(mmu, s, pd_frame);
    if (s->pd_frame != pd_frame)
        untrack_role(mmu, s->pd_frame, ROLE_PD);
    s->pd_frame = pd_frame;
    mmu->stats.space_retargets++;
}

static struct space *space_for_cr3(struct shadow_mmu *mmu, uint32_t cr3)
{
    uint32_t pd_frame = cr3 >> GUEST_PAGE_SHIFT;
    struct space *victim = NULL;

    for (unsigned i = 1; i <= mmu->nspaces; i++) {
        struct space *s = &mmu->spaces[i];
        if (s->in_use && s->pd_frame == pd_frame) {
            mmu->stats.space_hits++;
            space_recheck(mmu, s);
            return s;
        }
        if (!victim || !s->in_use || (victim->in_use && s->last_used < victim->last_used))
            victim = s;
    }
    mmu->stats.space_misses++;
    if (victim->in_use && frame_is_ram(mmu, pd_frame)) {
        space_retarget(mmu, victim, pd_frame);
    } else {
        space_drop(mmu, victim);
        victim->in_use = true;
        victim->pd_frame = pd_frame;
    }
    if (frame_is_ram(mmu, pd_frame))
        track_frame(mmu, pd_frame, ROLE_PD);
    return victim;
}

/* Keeps the host's mapping count bounded: empties the space that made the
 * most mapping operations, the current one last. */
static void enforce_map_budget(struct shadow_mmu *mmu)
{
    struct space *worst = NULL;

    if (mmu->ops_since_check < mmu->map_check_interval)
        return;
    mmu->ops_since_check = 0;
    if (count_host_mappings() < mmu->map_limit)
        return;
    for (unsigned i = 0; i <= mmu->nspaces; i++) {
        struct space *s = &mmu->spaces[i];
        if (s != mmu->current && s->map_ops && (!worst || s->map_ops > worst->map_ops))
            worst = s;
    }
    mmu->stats.evictions++;
    space_empty(mmu, worst ? worst : mmu->current);
}

/* ---- page-table tracking -------------------------------------------------- */

static struct tracked *track_frame(struct shadow_mmu *mmu, uint32_t frame, uint8_t role)
{
    struct tracked *t = mmu->tracked[frame];

    if (t) {
        t->roles |= role;
        return t;
    }
    t = malloc(sizeof(*t));
    if (!t)
        return NULL;
    *t = (struct tracked){.frame = frame, .roles = role};
    mmu->tracked[frame] = t;
    mmu->frame_flags[frame] |= FRAME_TRACKED;
    mmu->stats.tracked_pages++;
    if (mmu->unsync_heat[frame] >= SHADOW_WRITE_HOT_UNSYNCS) {
        /* Written between CR3 loads whenever it was a table before: it
         * starts write-hot. Nothing follows from it yet that a resync
         * would have to check. */
        t->unsynced = t->write_hot = true;
        mmu->unsynced[mmu->nunsynced++] = frame;
        mmu->stats.write_hot_tracked++;
        return t;
    }
    downgrade_frame(mmu, frame);
    return t;
}

static void untrack(struct shadow_mmu *mmu, uint32_t frame)
{
    struct tracked *t = mmu->tracked[frame];

    if (!t)
        return;
    if (t->unsynced) {
        for (uint32_t i = 0; i < mmu->nunsynced; i++) {
            if (mmu->unsynced[i] == frame) {
                mmu->unsynced[i] = mmu->unsynced[--mmu->nunsynced];
                break;
            }
        }
    }
    free(t);
    mmu->tracked[frame] = NULL;
    mmu->frame_flags[frame] &= ~FRAME_TRACKED;
    mmu->stats.tracked_pages--;
}

static void untrack_role(struct shadow_mmu *mmu, uint32_t frame, uint8_t role)
{
    struct tracked *t = frame < mmu->nframes ? mmu->tracked[frame] : NULL;

    if (t && !(t->roles &= (uint8_t)~role))
        untrack(mmu, frame);
}

static void untrack_all(struct shadow_mmu *mmu)
{
    for (uint32_t f = 0; f < mmu->nframes; f++) {
        if (mmu->tracked[f])
            untrack(mmu, f);
    }
    mmu->nunsynced = 0;
}

static void mark_unsynced(struct shadow_mmu *mmu, uint32_t frame)
{
    struct tracked *t = mmu->tracked[frame];

    if (!t || t->unsynced)
        return;
    t->unsynced = true;
    if (mmu->unsync_heat[frame] < UINT8_MAX)
        mmu->unsync_heat[frame]++;
    mmu->unsynced[mmu->nunsynced++] = frame;
    mmu->stats.unsyncs++;
}

static bool walk(struct shadow_mmu *mmu, guest_linear_t linear, enum walk_access access, bool user,
                 struct walk_result *out)
{
    return guest_walk(mmu->ram, &mmu->regs, linear, access, user, true, out);
}

static void monitor_tlb_flush(struct shadow_mmu *mmu)
{
    memset(mmu->tlb, 0, sizeof(mmu->tlb));
    mmu->tlb_large_slots = 0;
}

/* INVLPG invalidates the translation of its page — the whole 4 MiB page
 * when it lies in one, whose 4 KiB pieces are entries of their own here —
 * and may keep those of other pages (SDM vol. 3, §4.10.4.1): the monitor's
 * fetches of the code around it then still hit. A guest that rewrites a
 * PTE and INVLPGs it once per access (a page-table-heavy kernel loop) used
 * to empty this TLB every time. */
static void monitor_tlb_invalidate_page(struct shadow_mmu *mmu, guest_linear_t linear)
{
    uint32_t page = linear >> GUEST_PAGE_SHIFT;
    struct monitor_tlb_entry *own = &mmu->tlb[page & (MONITOR_TLB_ENTRIES - 1)];

    if (own->page == page + 1)
        own->page = 0;
    for (uint64_t slots = mmu->tlb_large_slots; slots; slots &= slots - 1) {
        unsigned i = (unsigned)__builtin_ctzll(slots);
        if (mmu->tlb[i].page && ((mmu->tlb[i].page - 1) >> 10) == page >> 10) {
            mmu->tlb[i].page = 0;
            mmu->tlb_large_slots &= ~(1ull << i);
        }
    }
}

/* A CR3 load keeps global translations (SDM vol. 3, §4.10.4.1). */
static void monitor_tlb_flush_non_global(struct shadow_mmu *mmu)
{
    for (unsigned i = 0; i < MONITOR_TLB_ENTRIES; i++) {
        if (!mmu->tlb[i].global)
            mmu->tlb[i].page = 0;
    }
}

static bool pde_maps_table(const struct shadow_mmu *mmu, uint32_t pde)
{
    return (pde & PTE_P) && !((pde & PTE_PS) && (mmu->regs.cr4 & CR4_PSE));
}

/* The shadow entry a view gets for a guest page, from its walk result. */
static uint32_t spte_for(const struct shadow_mmu *mmu, unsigned vi, uint32_t frame, bool user_w,
                         bool super_w, bool dirty)
{
    return spte_make(mmu, frame, vi ? user_w : super_w, dirty);
}

/* What a resync does with one mapping of a page table that changed. */
enum resync_action {
    RESYNC_UNMAPPED, /* nothing mapped there */
    RESYNC_KEEP,     /* still follows from its entry */
    RESYNC_REFRESH,  /* same frame, fewer rights: kept, read-only */
    RESYNC_UPGRADE,  /* same frame, now host-writable (only when asked for) */
    RESYNC_DROP,     /* another frame, or not present or accessed any more */
};

/* Judges the mapping `*spte` of view `vi` (made from `*src`, under the
 * region's PDE `pde`) against the entry `live` now in memory, refreshing
 * the shadow entry where the mapping can stay. A page that keeps its frame
 * but loses rights — the write protection fork puts on every private page
 * for copy-on-write, a cleared Dirty flag — stays mapped read-only instead
 * of being unmapped, faulted in and mapped again on the next read. Rights
 * gained wait for the write fault that needs them, unless `take_gained`:
 * then RESYNC_UPGRADE leaves the shadow entry to upgrade_page with `*up`. */
static enum resync_action resync_judge(const struct shadow_mmu *mmu, unsigned vi, uint32_t pde,
                                       uint32_t *spte, uint32_t *src, uint32_t live,
                                       bool take_gained, uint32_t *up)
{
    uint32_t old = *spte, frame = live >> GUEST_PAGE_SHIFT, rights = pde & live;

    if (!(old & SPTE_MAPPED))
        return RESYNC_UNMAPPED;
    if (entry_consistent(*src, live))
        return RESYNC_KEEP;
    if ((live & (PTE_P | PTE_A)) != (PTE_P | PTE_A) || frame != SPTE_FRAME(old) ||
        (vi == 1 && !(rights & PTE_US)))
        return RESYNC_DROP;
    bool user_w = (rights & PTE_US) && (rights & PTE_RW);
    bool super_w = !(mmu->regs.cr0 & CR0_WP) || (rights & PTE_RW);
    uint32_t e = spte_for(mmu, vi, frame, user_w, super_w, live & PTE_D);
    if (!(old & SPTE_HOST_W) && (e & SPTE_HOST_W)) {
        if (take_gained) {
            *up = e;
            return RESYNC_UPGRADE;
        }
        e &= ~SPTE_HOST_W;
    }
    *spte = e;
    *src = live;
    return (old & SPTE_HOST_W) && !(e & SPTE_HOST_W) ? RESYNC_REFRESH : RESYNC_KEEP;
}

/* Brings the mappings of region `d` of view `vi` of `sp` in line with the
 * page table `pt` now in memory: pages whose entries changed are dropped
 * or made read-only, in runs of one host call each (a table cleared
 * wholesale is one call, not 1024). */
static void check_region_against_table(struct shadow_mmu *mmu, struct space *sp, unsigned vi,
                                       uint32_t d, const uint32_t *pt)
{
    struct shadow_view *sv = &sp->v[vi];
    uint32_t first = d * REGION_PAGES;
    uint8_t action[ENTRIES];
    bool changed = false;

    /* Most entries of a region map nothing in this view (a process touches
     * few pages of its 4 MiB regions): those are passed over without a
     * judgement, and a region where every mapping still follows from its
     * entry — a write-hot table rechecked at every CR3 load — costs no
     * second pass. */
    for (uint32_t i = 0; i < ENTRIES; i++) {
        if (!(sv->spte[first + i] & SPTE_MAPPED)) {
            action[i] = RESYNC_UNMAPPED;
            continue;
        }
        action[i] = (uint8_t)resync_judge(mmu, vi, sv->pde_src[d], &sv->spte[first + i],
                                          &sv->src[first + i], pt[i], false, NULL);
        if (action[i] == RESYNC_REFRESH || action[i] == RESYNC_DROP) {
            mmu->stats.resync_entry_changes++;
            changed = true;
        }
        mmu->stats.resync_refreshes += action[i] == RESYNC_REFRESH;
    }
    for (uint32_t i = 0; changed && i < ENTRIES;) {
        uint32_t end = i + 1;
        if (action[i] == RESYNC_DROP) {
            /* A run of drops may span unmapped pages (unmapping them is
             * harmless); a run of refreshes may not (an mprotect there
             * would open the view's reservation). */
            for (uint32_t j = end;
                 j < ENTRIES && action[j] != RESYNC_KEEP && action[j] != RESYNC_REFRESH; j++) {
                if (action[j] == RESYNC_DROP)
                    end = j + 1;
            }
            unmap_pages(mmu, sp, vi, first + i, end - i);
        } else if (action[i] == RESYNC_REFRESH) {
            while (end < ENTRIES && action[end] == RESYNC_REFRESH)
                end++;
            protect_pages_read_only(mmu, sp, vi, first + i, end - i);
        }
        i = end;
    }
}

/* A directory entry of a space that is not current changed under region
 * `d`: may its mappings wait for space_recheck? Only a supervisor-only
 * region: the kernel half of a directory is the same in every process of
 * a guest kernel, so a directory freed and reused for the next process
 * (zeroed in between) keeps its kernel regions, instead of unmapping and
 * refilling them (nine 4 MiB regions per fork+exec under Linux). User
 * regions go at once: their frames are soon reused, and a mapping left in
 * place would cost a host call when such a frame is protected. */
static bool region_recheck_can_wait(const struct shadow_mmu *mmu, const struct space *sp,
                                    uint32_t d)
{
    return sp != mmu->current && sp->nviews == 2 && !sp->v[1].region_pages[d] &&
           !(sp->v[0].pde_src[d] & PTE_US);
}

/* At a resync of table `t`: does it stay unsynced and writable (write-hot,
 * see struct tracked) instead of being protected again? */
static bool table_stays_writable(struct shadow_mmu *mmu, struct tracked *t)
{
    if (!t->write_hot && mmu->unsync_heat[t->frame] < SHADOW_WRITE_HOT_UNSYNCS)
        return false;
    uint64_t hash =
        XXH3_64bits(guest_ram_host_ptr(mmu->ram, t->frame << GUEST_PAGE_SHIFT, GUEST_PAGE_SIZE),
                    GUEST_PAGE_SIZE);
    if (!t->write_hot) {
        t->write_hot = true;
        t->quiet_resyncs = 0;
    } else if (hash == t->hash) {
        t->quiet_resyncs++;
    } else {
        t->quiet_resyncs = 0;
    }
    t->hash = hash;
    if (t->quiet_resyncs < SHADOW_WRITE_HOT_COOL_RESYNCS)
        return true;
    t->write_hot = false;
    /* One more unsync makes it write-hot again: a table that rests a while
     * and then is written as often as before (the same process's tables
     * between its forks) goes through one protection, not four. */
    mmu->unsync_heat[t->frame] = SHADOW_WRITE_HOT_UNSYNCS - 1;
    mmu->stats.write_hot_cooled++;
    return false;
}

/* Whether the mappings of region `d` in every view of `sp` still follow
 * from the directory entry `pde`. */
static bool region_follows(const struct space *sp, uint32_t d, uint32_t pde)
{
    for (unsigned vi = 0; vi < sp->nviews; vi++) {
        if (sp->v[vi].region_pages[d] && !entry_consistent(sp->v[vi].pde_src[d], pde))
            return false;
    }
    return true;
}

/* The directory `live` of cached space `sp` was written: every region
 * whose entry changed goes, in all views, in one host call per view (or,
 * if region_recheck_can_wait, waits for the space's next use). */
static void resync_space_directory(struct shadow_mmu *mmu, struct space *sp, const uint32_t *live)
{
    struct region_drop drop[2] = {{0}};

    for (uint32_t d = next_mapped_region(sp->v, sp->nviews, 0); d < ENTRIES;
         d = next_mapped_region(sp->v, sp->nviews, d + 1)) {
        if (region_follows(sp, d, live[d]))
            continue;
        mmu->stats.resync_entry_changes++;
        if (region_recheck_can_wait(mmu, sp, d)) {
            sp->recheck_pending = true;
            continue;
        }
        for (unsigned vi = 0; vi < sp->nviews; vi++) {
            if (sp->v[vi].region_pages[d])
                region_drop_add(mmu, sp, vi, &drop[vi], d);
        }
    }
    for (unsigned vi = 0; vi < sp->nviews; vi++)
        region_drop_flush(mmu, sp, vi, &drop[vi]);
}

/* Page tables no mapping uses any more (at most UNREFERENCED_MAX per
 * resync): those no cached space's directory names stop being tracked as
 * tables (the guest freed them and may use them as data). One pass over
 * each directory for all of them. */
#define UNREFERENCED_MAX 64
static void untrack_unnamed_tables(struct shadow_mmu *mmu, struct tracked **tables, unsigned n)
{
    bool named[UNREFERENCED_MAX] = {false};
    unsigned left = n;

    for (unsigned si = 1; si <= mmu->nspaces && left; si++) {
        const struct space *sp = &mmu->spaces[si];
        if (!sp->in_use)
            continue;
        const uint32_t *pd =
            guest_ram_host_ptr(mmu->ram, sp->pd_frame << GUEST_PAGE_SHIFT, GUEST_PAGE_SIZE);
        for (uint32_t d = 0; d < ENTRIES && left; d++) {
            if (!pde_maps_table(mmu, pd[d]))
                continue;
            for (unsigned i = 0; i < n; i++) {
                if (!named[i] && (pd[d] >> GUEST_PAGE_SHIFT) == tables[i]->frame) {
                    named[i] = true;
                    left--;
                }
            }
        }
    }
    for (unsigned i = 0; i < n; i++) {
        if (!named[i])
            tables[i]->roles &= (uint8_t)~ROLE_PT;
    }
}

/* Brings every unsynced table back in sync: each mapping it feeds, in every
 * cached space, that no longer follows from its entry is dropped (SDM vol.
 * 3, §4.10.4: after a CR3 load no stale translation may be used), and the
 * table is protected again. Page directories first, so that page tables
 * are matched against current directory entries. */
static void resync_all(struct shadow_mmu *mmu)
{
    struct tracked *unreferenced[UNREFERENCED_MAX];
    unsigned nunreferenced = 0;

    if (!mmu->nunsynced)
        return;
    for (uint32_t u = 0; u < mmu->nunsynced; u++) {
        struct tracked *t = mmu->tracked[mmu->unsynced[u]];
        const uint32_t *live =
            guest_ram_host_ptr(mmu->ram, t->frame << GUEST_PAGE_SHIFT, GUEST_PAGE_SIZE);
        if (!(t->roles & ROLE_PD))
            continue;
        for (unsigned si = 1; si <= mmu->nspaces; si++) {
            struct space *sp = &mmu->spaces[si];
            if (sp->in_use && sp->pd_frame == t->frame)
                resync_space_directory(mmu, sp, live);
        }
    }
    for (uint32_t u = 0; u < mmu->nunsynced; u++) {
        struct tracked *t = mmu->tracked[mmu->unsynced[u]];
        const uint32_t *live =
            guest_ram_host_ptr(mmu->ram, t->frame << GUEST_PAGE_SHIFT, GUEST_PAGE_SIZE);
        if (!(t->roles & ROLE_PT))
            continue;
        bool referenced = false;
        for (unsigned si = 1; si <= mmu->nspaces; si++) {
            struct space *sp = &mmu->spaces[si];
            if (!sp->in_use)
                continue;
            /* A region is checked against the table its mappings were made
             * through (pde_src), which for a space awaiting its recheck
             * need not be the one its directory names now. */
            for (uint32_t d = next_mapped_region(sp->v, sp->nviews, 0); d < ENTRIES;
                 d = next_mapped_region(sp->v, sp->nviews, d + 1)) {
                for (unsigned vi = 0; vi < sp->nviews; vi++) {
                    uint32_t pde = sp->v[vi].pde_src[d];
                    if (!sp->v[vi].region_pages[d] || !pde_maps_table(mmu, pde) ||
                        (pde >> GUEST_PAGE_SHIFT) != t->frame)
                        continue;
                    referenced = true;
                    check_region_against_table(mmu, sp, vi, d, live);
                }
            }
        }
        /* No mapping uses it now: whether a directory names it (its regions
         * may be filled through it again) is asked below, for all such
         * tables in one pass over the directories. */
        if (!referenced && nunreferenced < UNREFERENCED_MAX)
            unreferenced[nunreferenced++] = t;
        else if (!referenced)
            t->roles &= (uint8_t)~ROLE_PT; /* more than that: tracked again when used */
    }
    if (nunreferenced)
        untrack_unnamed_tables(mmu, unreferenced, nunreferenced);
    uint32_t n = mmu->nunsynced;
    mmu->nunsynced = 0;
    for (uint32_t u = 0; u < n; u++) {
        struct tracked *t = mmu->tracked[mmu->unsynced[u]];
        t->unsynced = false;
        mmu->stats.resyncs++;
        if (!t->roles) {
            untrack(mmu, t->frame); /* its mappings become writable on their next write */
            continue;
        }
        if (table_stays_writable(mmu, t)) {
            t->unsynced = true;
            mmu->unsynced[mmu->nunsynced++] = t->frame;
            mmu->stats.write_hot_resyncs++;
            continue;
        }
        downgrade_frame(mmu, t->frame);
    }
}

/* ---- fills ------------------------------------------------------------------ */

/* Paging off: linear is physical. Maps the RAM of the faulting page's
 * 4 MiB region, in runs. */
static void fill_identity(struct shadow_mmu *mmu, struct space *s, guest_linear_t linear)
{
    static struct run_builder run;
    uint32_t region = linear >> 22;

    run.n = 0;
    for (uint32_t page = region * REGION_PAGES; page < (region + 1) * REGION_PAGES; page++) {
        if (!frame_is_ram(mmu, page) || (s->v[0].spte[page] & SPTE_MAPPED)) {
            run_flush(mmu, s, 0, &run);
            continue;
        }
        run_add(mmu, s, 0, &run, page, spte_make(mmu, page, true, true), 0);
    }
    run_flush(mmu, s, 0, &run);
}

/* Prefault-around maps a neighbour only when it costs no host call of its
 * own or shares one with enough others: a host mapping call costs about
 * half a fault here, and short-lived processes touch few of the pages their
 * parent had accessed. */
#define PREFAULT_MIN_RUN 4

/* A run this long around the faulting page — pages the guest has accessed
 * (A set), contiguous in linear and physical memory — is a linear map
 * being swept (a kernel's identity or direct map, a large buffer); the
 * host enters the whole run in its page tables at once. On these machines
 * a host minor fault costs 16 µs and populating 0.8 µs a page: in
 * pf_heavy, whose handler zeroes each new frame through a 4 KiB identity
 * map, host minor faults went from 19,399 to 2,627 (-12% time). Shorter
 * runs (a process's text around the page it runs, median 9 pages in
 * Linux's fork+exec) are mostly never touched: populating every run
 * holding the fault cost fork+exec 64 pages for 0.6 faults saved. */
#define PREFAULT_POPULATE_MIN_RUN 64

/* Maps the faulting page `linear` (shadow entry `fault_e`, from `fault_pte`)
 * together with the other present, accessed pages of the guest page table
 * that maps it (prefault-around): the Accessed flag says the guest's TLB
 * could already hold them, so mapping them sets nothing the hardware would
 * not have set. The run holding the faulting page is always mapped; other
 * runs only from PREFAULT_MIN_RUN pages, and not in the supervisor view of
 * a user region: a kernel touches few pages of a process (the arguments
 * and buffers of its system calls), which runs in the user view itself —
 * mapping them there cost Linux 31 host calls per fork+exec for nothing.
 * True when the faulting page is in the host's page tables already (its
 * run was populated whole). */
static bool map_with_neighbours(struct shadow_mmu *mmu, struct space *s, unsigned vi,
                                guest_linear_t linear, uint32_t pde, uint32_t fault_e,
                                uint32_t fault_pte)
{
    static struct run_builder run;
    const uint32_t *pt = guest_ram_host_ptr(mmu->ram, pde & PTE_FRAME_MASK, GUEST_PAGE_SIZE);
    uint32_t region = linear >> 22, fault_page = linear >> GUEST_PAGE_SHIFT;
    uint32_t *spte = s->v[vi].spte;
    bool run_has_fault = false, populated = false;

    if (!pt || !(pde & PTE_A)) {
        map_run(mmu, s, vi, fault_page, &fault_e, &fault_pte, 1);
        return false;
    }
    run.n = 0;
    for (uint32_t i = 0; i <= ENTRIES; i++) {
        uint32_t page = region * REGION_PAGES + i;
        uint32_t e = 0, src = 0;
        bool usable = false;

        if (page == fault_page) {
            e = fault_e;
            src = fault_pte;
            usable = true;
        } else if (i < ENTRIES) {
            uint32_t pte = pt[i], rights = pde & pte, frame = pte >> GUEST_PAGE_SHIFT;
            usable = (pte & (PTE_P | PTE_A)) == (PTE_P | PTE_A) && frame_is_ram(mmu, frame) &&
                     !(spte[page] & SPTE_MAPPED) && (vi == 0 || (rights & PTE_US));
            if (usable) {
                bool user_w = (rights & PTE_US) && (rights & PTE_RW);
                bool super_w = !(mmu->regs.cr0 & CR0_WP) || (rights & PTE_RW);
                e = spte_for(mmu, vi, frame, user_w, super_w, pte & PTE_D);
                src = pte;
            }
        }
        bool joins = usable && run.n && page == run.lpage + run.n &&
                     SPTE_FRAME(e) == SPTE_FRAME(run.e[run.n - 1]) + 1 &&
                     (e & SPTE_HOST_W) == (run.e[run.n - 1] & SPTE_HOST_W);
        if (run.n && !joins) {
            if (run_has_fault || (run.n >= PREFAULT_MIN_RUN && !(vi == 0 && (pde & PTE_US)))) {
                mmu->stats.prefaulted_pages += run.n - (run_has_fault ? 1 : 0);
                map_run(mmu, s, vi, run.lpage, run.e, run.src, run.n);
                if (run_has_fault && run.n >= PREFAULT_POPULATE_MIN_RUN) {
                    view_populate(s->v[vi].view, run.lpage << GUEST_PAGE_SHIFT, run.n,
                                  run.e[0] & SPTE_HOST_W);
                    populated = true;
                    mmu->stats.populated_run_pages += run.n;
                }
            }
            run.n = 0;
            run_has_fault = false;
        }
        if (!usable)
            continue;
        if (!run.n)
            run.lpage = page;
        run.e[run.n] = e;
        run.src[run.n++] = src;
        run_has_fault |= page == fault_page;
    }
    return populated;
}

/* Maps a whole 4 MiB guest page (its PDE's A flag is set by the walk). */
static void fill_large(struct shadow_mmu *mmu, struct space *s, unsigned vi,
                       const struct walk_result *w, guest_linear_t linear)
{
    static struct run_builder run;
    uint32_t region = linear >> 22, first_frame = (w->pte & PDE_LARGE_FRAME_MASK) >> 12;

    run.n = 0;
    for (uint32_t i = 0; i < REGION_PAGES; i++) {
        uint32_t page = region * REGION_PAGES + i, frame = first_frame + i;
        uint32_t e = spte_for(mmu, vi, frame, w->user_write_ok, w->super_write_ok, w->pte & PTE_D);
        /* Pages already mapped as the entry says stay: a fault here is
         * often one page's business (a page-table write unsyncing it, a
         * code frame) and must not cost a host call per run of the 4 MiB. */
        if (!frame_is_ram(mmu, frame) || s->v[vi].spte[page] == e) {
            run_flush(mmu, s, vi, &run);
            continue;
        }
        run_add(mmu, s, vi, &run, page, e, w->pte);
    }
    run_flush(mmu, s, vi, &run);
}

/* The region's mappings in view `vi` came from the PDE as it was then: if
 * it has changed since (its table unsynced), they go before the region is
 * filled from `pde`. */
static void region_follow_pde(struct shadow_mmu *mmu, struct space *s, unsigned vi, uint32_t region,
                              uint32_t pde)
{
    struct shadow_view *sv = &s->v[vi];

    if (sv->region_pages[region] && !entry_consistent(sv->pde_src[region], pde)) {
        mmu->stats.resync_entry_changes++;
        unmap_pages(mmu, s, vi, region * REGION_PAGES, REGION_PAGES);
    }
    sv->pde_src[region] = pde;
}

/* The kernel touched a user page (a system call's buffer, the stack exec
 * builds, a page it just zeroed for the process): the process will touch
 * it next, so the user view maps it now, with its present neighbours,
 * instead of at a host fault of its own (a SIGSEGV, a walk, an mmap and
 * the access: ~25 µs here, against one mmap, ~3 µs). */
static void fill_user_view_too(struct shadow_mmu *mmu, struct space *s, guest_linear_t linear,
                               const struct walk_result *w)
{
    uint32_t page = linear >> GUEST_PAGE_SHIFT, frame = w->phys >> GUEST_PAGE_SHIFT;

    if (s->v[1].spte[page] & SPTE_MAPPED)
        return;
    region_follow_pde(mmu, s, 1, linear >> 22, w->pde);
    mmu->stats.cross_view_fills++;
    map_with_neighbours(
        mmu, s, 1, linear, w->pde,
        spte_for(mmu, 1, frame, w->user_write_ok, w->super_write_ok, w->pte & PTE_D), w->pte);
}

static void fill_paged(struct shadow_mmu *mmu, struct space *s, unsigned vi, guest_linear_t linear,
                       bool write, struct shadow_fault *out)
{
    struct walk_result w;
    uint32_t page = linear >> GUEST_PAGE_SHIFT;

    if (!walk(mmu, linear, write ? WALK_WRITE : WALK_READ, vi == 1, &w)) {
        out->kind = SHADOW_FAULT_GUEST_PF;
        out->error_code = w.error_code;
        return;
    }
    uint32_t frame = w.phys >> GUEST_PAGE_SHIFT;
    if (!frame_is_ram(mmu, frame)) {
        mmu->stats.not_ram++;
        out->kind = SHADOW_FAULT_NOT_RAM;
        return;
    }
    if (!w.large)
        track_frame(mmu, w.pde >> GUEST_PAGE_SHIFT, ROLE_PT);
    if (write && (mmu->frame_flags[frame] & FRAME_CODE)) {
        out->kind = SHADOW_FAULT_CODE_WRITE;
        out->frame = frame;
        return;
    }
    if (write && (mmu->frame_flags[frame] & FRAME_TRACKED) && !mmu->tracked[frame]->unsynced) {
        mark_unsynced(mmu, frame);
        out->unsynced_table = true;
    }
    struct shadow_view *sv = &s->v[vi];
    region_follow_pde(mmu, s, vi, linear >> 22, w.pde);
    if (sv->spte[page] & SPTE_MAPPED)
        mmu->stats.dirty_upgrades++;
    else
        mmu->stats.fills++;
    bool entered = false;
    if (w.large) {
        fill_large(mmu, s, vi, &w, linear);
    } else {
        uint32_t e = spte_for(mmu, vi, frame, w.user_write_ok, w.super_write_ok, w.pte & PTE_D);
        if ((sv->spte[page] & SPTE_MAPPED) && SPTE_FRAME(sv->spte[page]) == frame) {
            upgrade_page(mmu, s, vi, page, e, w.pte); /* the first write: same frame, now dirty */
            return;
        }
        entered = map_with_neighbours(mmu, s, vi, linear, w.pde, e, w.pte);
        if (vi == 0 && s->nviews == 2 && w.user_ok)
            fill_user_view_too(mmu, s, linear, &w);
    }
    if (!entered)
        populate_page(sv, page, write);
}

/* ---- public interface --------------------------------------------------------- */

struct shadow_mmu *shadow_create(struct guest_ram *ram, unsigned spaces, struct popek_error *err)
{
    struct shadow_mmu *mmu = calloc(1, sizeof(*mmu));

    if (!mmu) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    if (spaces < 1 || spaces > SHADOW_MAX_SPACES) {
        free(mmu);
        popek_fail(err, "the address-space cache holds 1 to %u spaces, not %u", SHADOW_MAX_SPACES,
                   spaces);
        return NULL;
    }
    mmu->ram = ram;
    mmu->nframes = (uint32_t)(guest_ram_size(ram) >> GUEST_PAGE_SHIFT);
    mmu->nspaces = spaces;
    uint64_t limit = host_map_count_limit();
    mmu->map_limit = limit > 2 * MAP_HEADROOM ? limit - MAP_HEADROOM : limit / 2;
    mmu->map_check_interval = MAP_CHECK_INTERVAL;
    mmu->frame_flags = calloc(mmu->nframes, 1);
    mmu->unsync_heat = calloc(mmu->nframes, 1);
    mmu->tracked = calloc(mmu->nframes, sizeof(*mmu->tracked));
    mmu->unsynced = calloc(mmu->nframes, sizeof(*mmu->unsynced));
    mmu->rmap = calloc(mmu->nframes, sizeof(*mmu->rmap));
    if (!mmu->frame_flags || !mmu->unsync_heat || !mmu->tracked || !mmu->unsynced || !mmu->rmap) {
        shadow_destroy(mmu);
        popek_fail(err, "out of memory");
        return NULL;
    }
    for (unsigned i = 0; i <= spaces; i++) {
        struct space *s = &mmu->spaces[i];
        s->nviews = i == IDENTITY_SPACE ? 1 : 2;
        for (unsigned vi = 0; vi < s->nviews; vi++) {
            s->v[vi].view = view_create(ram, err);
            s->v[vi].spte = mmap(NULL, WINDOW_PAGES * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            s->v[vi].src = mmap(NULL, WINDOW_PAGES * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
            if (!s->v[vi].view || s->v[vi].spte == MAP_FAILED || s->v[vi].src == MAP_FAILED) {
                if (s->v[vi].spte == MAP_FAILED)
                    s->v[vi].spte = NULL;
                if (s->v[vi].src == MAP_FAILED)
                    s->v[vi].src = NULL;
                shadow_destroy(mmu);
                popek_fail(err, "cannot reserve the address space of guest views");
                return NULL;
            }
        }
    }
    mmu->spaces[IDENTITY_SPACE].in_use = true;
    mmu->current = &mmu->spaces[IDENTITY_SPACE];
    return mmu;
}

void shadow_destroy(struct shadow_mmu *mmu)
{
    if (!mmu)
        return;
    for (unsigned i = 0; i <= SHADOW_MAX_SPACES; i++) {
        for (unsigned vi = 0; vi < 2; vi++) {
            view_destroy(mmu->spaces[i].v[vi].view);
            if (mmu->spaces[i].v[vi].spte)
                munmap(mmu->spaces[i].v[vi].spte, WINDOW_PAGES * sizeof(uint32_t));
            if (mmu->spaces[i].v[vi].src)
                munmap(mmu->spaces[i].v[vi].src, WINDOW_PAGES * sizeof(uint32_t));
        }
    }
    if (mmu->tracked)
        untrack_all(mmu);
    if (mmu->rmap) {
        for (uint32_t f = 0; f < mmu->nframes; f++)
            rmap_free(&mmu->rmap[f]);
    }
    free(mmu->rmap);
    free(mmu->unsynced);
    free(mmu->tracked);
    free(mmu->frame_flags);
    free(mmu->unsync_heat);
    free(mmu);
}

static void drop_all_spaces(struct shadow_mmu *mmu)
{
    for (unsigned i = 0; i <= mmu->nspaces; i++)
        space_drop(mmu, &mmu->spaces[i]);
    untrack_all(mmu);
    for (uint32_t f = 0; f < mmu->nframes; f++)
        rmap_clear(&mmu->rmap[f]);
}

void shadow_reset(struct shadow_mmu *mmu)
{
    monitor_tlb_flush(mmu);
    drop_all_spaces(mmu);
    shadow_unprotect_all_code(mmu);
    memset(mmu->unsync_heat, 0, mmu->nframes);
    mmu->regs = (struct paging_regs){0};
    mmu->current = &mmu->spaces[IDENTITY_SPACE];
}

enum shadow_flush shadow_set_paging(struct shadow_mmu *mmu, const struct paging_regs *regs,
                                    bool cr3_written)
{
    struct paging_regs old = mmu->regs;
    enum shadow_flush flush = SHADOW_FLUSH_NONE;
    bool mode_changed = ((old.cr0 ^ regs->cr0) & (CR0_PG | CR0_WP)) ||
                        ((old.cr4 ^ regs->cr4) & (CR4_PSE | CR4_PGE));

    /* Other CR0/CR4 bits (TS on every lazy FPU switch) touch no translation. */
    if (!cr3_written && !mode_changed) {
        mmu->regs = *regs;
        return SHADOW_FLUSH_NONE;
    }
    resync_all(mmu);
    if (mode_changed)
        monitor_tlb_flush(mmu);
    else
        monitor_tlb_flush_non_global(mmu);
    mmu->regs = *regs;
    /* Permissions (WP) and the meaning of a PDE (PSE) are baked into the
     * mappings; paging on/off changes what every address means. */
    if (((old.cr0 ^ regs->cr0) & (CR0_PG | CR0_WP)) || ((old.cr4 ^ regs->cr4) & CR4_PSE)) {
        drop_all_spaces(mmu);
        flush = SHADOW_FLUSH_ALL;
    } else if ((old.cr4 ^ regs->cr4) & CR4_PGE) {
        flush = SHADOW_FLUSH_ALL; /* toggling PGE flushes global entries too (§4.10.4.1) */
    }
    if (!(regs->cr0 & CR0_PG)) {
        mmu->current = &mmu->spaces[IDENTITY_SPACE];
        return flush;
    }
    if (cr3_written || flush != SHADOW_FLUSH_NONE || mmu->current == &mmu->spaces[IDENTITY_SPACE]) {
        mmu->stats.cr3_loads += cr3_written;
        mmu->current = space_for_cr3(mmu, regs->cr3);
        if (flush == SHADOW_FLUSH_NONE)
            flush = SHADOW_FLUSH_NON_GLOBAL;
    }
    mmu->current->last_used = ++mmu->clock;
    return flush;
}

/* Maps `linear` in a view straight from the guest's entry when it is
 * present, already accessed and allowed to that view: what the next access
 * would fault in. */
static void prefill_page(struct shadow_mmu *mmu, struct space *s, unsigned vi,
                         guest_linear_t linear)
{
    struct walk_result w;

    if (!guest_walk(mmu->ram, &mmu->regs, linear, WALK_READ, vi == 1, false, &w) || w.large ||
        !(w.pte & PTE_A) || !(w.pde & PTE_A) || !frame_is_ram(mmu, w.phys >> GUEST_PAGE_SHIFT) ||
        !entry_consistent(s->v[vi].pde_src[linear >> 22], w.pde))
        return;
    uint32_t e = spte_for(mmu, vi, w.phys >> GUEST_PAGE_SHIFT, w.user_write_ok, w.super_write_ok,
                          w.pte & PTE_D);
    map_run(mmu, s, vi, linear >> GUEST_PAGE_SHIFT, &e, &w.pte, 1);
    populate_page(&s->v[vi], linear >> GUEST_PAGE_SHIFT, false);
}

/* INVLPG (SDM vol. 3, §4.10.4.1) invalidates the translation of one page:
 * its mappings in the current space are checked against the entries now
 * in memory and dropped if they no longer follow from them (a changed entry
 * that is present and accessed is mapped anew at once), or given the
 * entry's rights if it still maps the same frame. Tables stay
 * unsynced until the next CR3 load, so a loop of "write a PTE, INVLPG, touch
 * the page" traps at most once per table; other cached spaces are checked
 * at that CR3 load. */
void shadow_invlpg(struct shadow_mmu *mmu, guest_linear_t linear)
{
    struct space *s = mmu->current;
    uint32_t pdi = linear >> 22, page = linear >> GUEST_PAGE_SHIFT;

    mmu->stats.invlpgs++;
    monitor_tlb_invalidate_page(mmu, linear);
    if (s == &mmu->spaces[IDENTITY_SPACE])
        return;
    uint32_t pde = guest_walk_read_entry(mmu->ram, (mmu->regs.cr3 & PTE_FRAME_MASK) + (pdi << 2));
    if (!region_follows(s, pdi, pde)) {
        mmu->stats.resync_entry_changes++;
        unmap_region(mmu, s, pdi);
        return;
    }
    if (!pde_maps_table(mmu, pde))
        return; /* a 4 MiB page (its PDE is unchanged) or nothing */
    uint32_t pte = guest_walk_read_entry(mmu->ram, (pde & PTE_FRAME_MASK) + ((page & 0x3FF) << 2));
    for (unsigned vi = 0; vi < s->nviews; vi++) {
        struct shadow_view *sv = &s->v[vi];
        uint32_t up = 0;
        /* The same frame with other rights keeps its mapping: a
         * copy-on-write fault resolved in place gives the page its R/W
         * back, and the write about to be retried needs it at once. */
        switch (resync_judge(mmu, vi, sv->pde_src[pdi], &sv->spte[page], &sv->src[page], pte, true,
                             &up)) {
        case RESYNC_UNMAPPED:
            /* Not in use through this view: the next access fills it if
             * it runs in place (an emulated one would not use the
             * mapping: a #PF handler's INVLPG before the retried store
             * of an instruction that keeps faulting). */
        case RESYNC_KEEP:
            break;
        case RESYNC_REFRESH:
            mmu->stats.resync_entry_changes++;
            mmu->stats.resync_refreshes++;
            protect_pages_read_only(mmu, s, vi, page, 1);
            break;
        case RESYNC_UPGRADE:
            mmu->stats.resync_entry_changes++;
            mmu->stats.resync_refreshes++;
            upgrade_page(mmu, s, vi, page, up, pte);
            break;
        case RESYNC_DROP:
            mmu->stats.resync_entry_changes++;
            unmap_pages(mmu, s, vi, page, 1);
            prefill_page(mmu, s, vi, linear & GUEST_PAGE_MASK);
            break;
        }
    }
}

uint8_t *shadow_view_base(const struct shadow_mmu *mmu, bool user)
{
    const struct space *s = mmu->current;

    return view_base(s->v[user && s->nviews > 1 ? 1 : 0].view);
}

bool shadow_translate(struct shadow_mmu *mmu, guest_linear_t linear, enum walk_access access,
                      bool user, struct walk_result *out)
{
    uint32_t page = linear >> GUEST_PAGE_SHIFT;
    struct monitor_tlb_entry *e = &mmu->tlb[page & (MONITOR_TLB_ENTRIES - 1)];
    bool write = access == WALK_WRITE;

    if (!(mmu->regs.cr0 & CR0_PG))
        return walk(mmu, linear, access, user, out);
    if (e->page == page + 1 && (!write || e->dirty)) {
        bool allowed =
            user ? (write ? e->user_write_ok : e->user_ok) : (write ? e->super_write_ok : true);
        if (allowed) {
            *out = (struct walk_result){
                .phys = e->frame << GUEST_PAGE_SHIFT | (linear & 0xFFFu),
                .global = e->global,
                .user_ok = e->user_ok,
                .user_write_ok = e->user_write_ok,
                .super_write_ok = e->super_write_ok,
            };
            return true;
        }
    }
    if (!walk(mmu, linear, access, user, out))
        return false;
    *e = (struct monitor_tlb_entry){.page = page + 1,
                                    .frame = out->phys >> GUEST_PAGE_SHIFT,
                                    .user_ok = out->user_ok,
                                    .user_write_ok = out->user_write_ok,
                                    .super_write_ok = out->super_write_ok,
                                    .dirty = write || (out->pte & PTE_D),
                                    .global = out->global};
    uint64_t slot = 1ull << (page & (MONITOR_TLB_ENTRIES - 1));
    mmu->tlb_large_slots = out->large ? mmu->tlb_large_slots | slot : mmu->tlb_large_slots & ~slot;
    return true;
}

bool shadow_probe_fetch(struct shadow_mmu *mmu, uint32_t page, bool user, uint32_t *frame)
{
    struct walk_result w;

    if (!guest_walk(mmu->ram, &mmu->regs, page << GUEST_PAGE_SHIFT, WALK_FETCH, user, false, &w))
        return false;
    if ((mmu->regs.cr0 & CR0_PG) && (!(w.pde & PTE_A) || !(w.pte & PTE_A)))
        return false;
    *frame = (uint32_t)(w.phys >> GUEST_PAGE_SHIFT);
    return true;
}

void shadow_handle_fault(struct shadow_mmu *mmu, const uint8_t *view_base_addr,
                         const void *host_address, bool write, struct shadow_fault *out)
{
    struct space *s = mmu->current;
    unsigned vi = 0;

    *out = (struct shadow_fault){.kind = SHADOW_FAULT_OUTSIDE};
    if (s->nviews > 1 && view_base_addr == view_base(s->v[1].view))
        vi = 1;
    else if (view_base_addr != view_base(s->v[0].view))
        return;
    int64_t linear = (const uint8_t *)host_address - view_base_addr;
    if (linear < 0 || linear >= (int64_t)GIB(4))
        return;
    out->linear = (guest_linear_t)linear;
    enforce_map_budget(mmu);
    out->kind = SHADOW_FAULT_RETRY;
    if (s == &mmu->spaces[IDENTITY_SPACE]) {
        uint32_t frame = out->linear >> GUEST_PAGE_SHIFT;
        if (!frame_is_ram(mmu, frame)) {
            mmu->stats.not_ram++;
            out->kind = SHADOW_FAULT_NOT_RAM;
        } else if (write && (mmu->frame_flags[frame] & FRAME_CODE)) {
            out->kind = SHADOW_FAULT_CODE_WRITE;
            out->frame = frame;
        } else if (s->v[0].spte[frame] & SPTE_MAPPED) {

            /* Mapped read-only for code that has been dropped since:
             * writable again. */
            uint32_t e = spte_make(mmu, frame, true, true);
            mmu->stats.dirty_upgrades++;
            map_run(mmu, s, 0, frame, &e, NULL, 1);

        } else {
            mmu->stats.fills++;
            fill_identity(mmu, s, out->linear);
        }
        return;
    }
    fill_paged(mmu, s, vi, out->linear, write, out);
}

bool shadow_prefill(struct shadow_mmu *mmu, guest_linear_t linear, bool write, bool user)
{
    struct space *s = mmu->current;
    struct shadow_fault out = {.kind = SHADOW_FAULT_RETRY, .linear = linear};
    struct walk_result w;
    unsigned vi = user && s->nviews > 1 ? 1 : 0;

    if (s == &mmu->spaces[IDENTITY_SPACE])
        return false;
    /* Only when the access is allowed now: a walk that fails sets nothing. */
    if (!guest_walk(mmu->ram, &mmu->regs, linear, write ? WALK_WRITE : WALK_READ, user, false, &w))
        return false;
    enforce_map_budget(mmu);
    fill_paged(mmu, s, vi, linear, write, &out);
    if (out.kind != SHADOW_FAULT_RETRY)
        return false;
    mmu->stats.prefills++;
    return true;
}

void shadow_protect_code_frame(struct shadow_mmu *mmu, uint32_t frame)
{
    if (frame >= mmu->nframes || (mmu->frame_flags[frame] & FRAME_CODE))
        return;
    mmu->frame_flags[frame] |= FRAME_CODE;
    mmu->stats.code_frames++;
    downgrade_frame(mmu, frame);
}

void shadow_unprotect_code_frame(struct shadow_mmu *mmu, uint32_t frame)
{
    if (frame >= mmu->nframes || !(mmu->frame_flags[frame] & FRAME_CODE))
        return;
    /* Mappings become writable again on their next write fault. */
    mmu->frame_flags[frame] &= ~FRAME_CODE;
    mmu->stats.code_frames--;
}

void shadow_unprotect_all_code(struct shadow_mmu *mmu)
{
    for (uint32_t f = 0; f < mmu->nframes; f++)
        mmu->frame_flags[f] &= ~FRAME_CODE;
    mmu->stats.code_frames = 0;
}

bool shadow_frame_has_code(const struct shadow_mmu *mmu, uint32_t frame)
{
    return frame < mmu->nframes && (mmu->frame_flags[frame] & FRAME_CODE);
}

bool shadow_view_allows(const struct shadow_mmu *mmu, guest_linear_t linear, bool write, bool user)
{
    const struct space *s = mmu->current;
    uint32_t e = s->v[user && s->nviews > 1 ? 1 : 0].spte[linear >> GUEST_PAGE_SHIFT];

    return (e & SPTE_MAPPED) && (!write || (e & SPTE_HOST_W));
}

bool shadow_frame_traps_writes(const struct shadow_mmu *mmu, uint32_t frame)
{
    return !frame_is_ram(mmu, frame) || frame_protected(mmu, frame);
}

void shadow_note_phys_write(struct shadow_mmu *mmu, guest_phys_t phys, uint32_t len)
{
    if (!len)
        return;
    uint32_t last = (uint32_t)(((uint64_t)phys + len - 1) >> GUEST_PAGE_SHIFT);
    for (uint32_t f = phys >> GUEST_PAGE_SHIFT; f <= last && f < mmu->nframes; f++) {
        if (mmu->frame_flags[f] & FRAME_TRACKED)
            mark_unsynced(mmu, f);
    }
}

bool shadow_canaries_intact(const struct shadow_mmu *mmu)
{
    for (unsigned i = 0; i <= mmu->nspaces; i++) {
        for (unsigned vi = 0; vi < mmu->spaces[i].nviews; vi++) {
            if (!view_canaries_intact(mmu->spaces[i].v[vi].view))
                return false;
        }
    }
    return true;
}

void shadow_set_map_budget(struct shadow_mmu *mmu, uint64_t host_mappings)
{
    mmu->map_limit = host_mappings;
    mmu->map_check_interval = host_mappings / 4 ? host_mappings / 4 : 1;
}

const struct shadow_stats *shadow_stats(const struct shadow_mmu *mmu)
{
    return &mmu->stats;
}
