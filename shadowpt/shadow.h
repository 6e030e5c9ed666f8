/*
 * shadowpt/shadow.h — the shadow MMU: guest address spaces as host views.
 *
 * The guest's page tables are the truth; the host mappings in the views are
 * the shadow (DESIGN.md §2, §3). Each cached address space (one per recently
 * used CR3, LRU, plus the identity space used while paging is off) owns two
 * views: the supervisor view maps every present page, the user view only the
 * pages a CPL-3 access may touch. Translated code reaches the current one
 * through r13, so a CPL change or a context switch is a register load.
 *
 * Mappings are made on demand: a host fault in a view becomes
 * shadow_handle_fault(), which walks the guest tables (walk.h), turns a
 * violation into a guest #PF, and otherwise maps the page — with its
 * present, already-accessed neighbours of the same guest page table
 * (prefault-around, contiguous frames coalesced into one mmap). A page is
 * mapped read-only until the guest's first write sets its Dirty flag.
 *
 * Frames that must not change behind popek's back are mapped read-only in
 * every view and every alias:
 *  - frames holding translated code (a write drops their blocks first);
 *  - frames used as page directories or page tables by a cached address
 *    space ("tracked"). The first write to a tracked frame marks it
 *    *unsynced* and makes it writable; a CR3 load resyncs every unsynced
 *    frame — each mapping it feeds that no longer follows from its entry is
 *    dropped — and protects it again (what a TLB flush means on real
 *    hardware, SDM vol. 3, §4.10.4); INVLPG checks one page.
 * A reverse map from frame to its writable mappings serves both.
 *
 * Host mappings are a bounded resource (vm.max_map_count): every few
 * thousand mapping operations the process's mappings are counted, and when
 * they near the limit the space that made the most operations is emptied
 * (counted, never a failure).
 */
#ifndef POPEK_SHADOWPT_SHADOW_H
#define POPEK_SHADOWPT_SHADOW_H

#include "common/error.h"
#include "shadowpt/guest_ram.h"
#include "shadowpt/walk.h"

#define SHADOW_DEFAULT_SPACES 8
#define SHADOW_MAX_SPACES     15

struct shadow_mmu;

/* A tracked table unsynced this many times stays writable (and unsynced)
 * at its next resyncs, until it is found unchanged at
 * SHADOW_WRITE_HOT_COOL_RESYNCS resyncs in a row (shadow.c, struct tracked). */
#define SHADOW_WRITE_HOT_UNSYNCS      4u
#define SHADOW_WRITE_HOT_COOL_RESYNCS 4u

struct shadow_stats {
    uint64_t fills;               /* host faults answered by mapping pages */
    uint64_t prefaulted_pages;    /* neighbours mapped by those fills */
    uint64_t populated_run_pages; /* pages of long runs entered in the host's page tables */
    uint64_t prefills;            /* pages mapped before a #PF'd instruction ran again */
    uint64_t cross_view_fills;    /* user pages the kernel touched, mapped for the process too */
    uint64_t dirty_upgrades;      /* read-only mappings made writable by a first write */
    uint64_t tracked_pages;       /* frames currently tracked as page tables */
    uint64_t unsyncs, resyncs;    /* tracked frames written / brought back in sync */
    uint64_t resync_entry_changes;
    uint64_t resync_refreshes;  /* mappings kept read-only at a resync (same frame, fewer rights) */
    uint64_t write_hot_resyncs; /* resyncs that left a write-hot table writable */
    uint64_t write_hot_cooled;  /* write-hot tables protected again once quiet */
    uint64_t write_hot_tracked; /* tables tracked again that start write-hot */
    uint64_t cr3_loads, space_hits, space_misses;
    uint64_t space_retargets; /* misses that kept the regions both directories share */
    uint64_t
        deferred_rechecks; /* cached spaces whose kernel regions outlived a change of directory */
    uint64_t invlpgs;
    uint64_t evictions;    /* address spaces emptied for the mapping budget */
    uint64_t host_map_ops; /* mmap/mprotect calls on views */
    uint64_t code_frames;  /* frames currently protected for translated code */
    uint64_t not_ram;      /* accesses to physical addresses that are not RAM */
};

/* Creates the MMU with `spaces` cached address spaces (1..SHADOW_MAX_SPACES)
 * and paging off. */
struct shadow_mmu *shadow_create(struct guest_ram *ram, unsigned spaces, struct popek_error *err);
void shadow_destroy(struct shadow_mmu *mmu);

/* Back to the power-on state: paging off, every space and protection gone. */
void shadow_reset(struct shadow_mmu *mmu);

/* What a change of the paging registers invalidated among the things that
 * cache translations elsewhere (the translation cache's links). */
enum shadow_flush {
    SHADOW_FLUSH_NONE,
    SHADOW_FLUSH_NON_GLOBAL, /* a CR3 load: non-global translations are gone */
    SHADOW_FLUSH_ALL,        /* paging mode changed: everything is gone */
};

/* Follows CR0 (PG, WP), CR3 and CR4 (PSE, PGE) after the guest wrote one of
 * them: resyncs unsynced tables, switches to the address space of CR3 (or
 * the identity space when paging is off) and empties spaces whose mappings
 * the change made wrong. `cr3_written` says whether CR3 was loaded (even
 * with the same value: that flushes the TLB too). */
enum shadow_flush shadow_set_paging(struct shadow_mmu *mmu, const struct paging_regs *regs,
                                    bool cr3_written);

/* INVLPG: brings the entries that map `linear` in sync (a changed one
 * drops its mappings in every cached space, or maps the new translation at
 * once when it is present and accessed); their tables stay unsynced. */
void shadow_invlpg(struct shadow_mmu *mmu, guest_linear_t linear);

/* Host address of linear 0 in the current space's view for the given
 * privilege (user: CPL 3). */
uint8_t *shadow_view_base(const struct shadow_mmu *mmu, bool user);

/* A software access check and translation against the current paging
 * registers (guest_walk with A/D updates), for emul/ and the dispatcher.
 * Nothing is written: a caller that then stores to the frame reports it
 * with shadow_note_phys_write(). */
bool shadow_translate(struct shadow_mmu *mmu, guest_linear_t linear, enum walk_access access,
                      bool user, struct walk_result *out);

/* The frame a fetch from linear page `page` (a page number) at the given
 * privilege translates to under the current paging registers, when it
 * does with every Accessed flag on its way already set: a link into code
 * translated from that frame may then stand across a TLB flush, because
 * a fetch through the guest's tables would land there and change nothing
 * (SDM vol. 3, §4.8). Nothing is written. */
bool shadow_probe_fetch(struct shadow_mmu *mmu, uint32_t page, bool user, uint32_t *frame);

/* What a host fault in a view was. */
enum shadow_fault_kind {
    SHADOW_FAULT_RETRY,      /* the page is mapped now: run the instruction again */
    SHADOW_FAULT_GUEST_PF,   /* a guest #PF: error_code, CR2 = linear */
    SHADOW_FAULT_CODE_WRITE, /* a write to a frame holding translated code: frame */
    SHADOW_FAULT_NOT_RAM,    /* the guest maps something that is not RAM: emulate */
    SHADOW_FAULT_OUTSIDE,    /* not a window page of the current views (a guard) */
};

struct shadow_fault {
    enum shadow_fault_kind kind;
    guest_linear_t linear;
    uint32_t error_code; /* GUEST_PF */
    uint32_t frame;      /* CODE_WRITE */
    bool unsynced_table; /* RETRY: the write unsynced a tracked page table */
};

/* Handles a host fault at `host_address` in the view whose base is
 * `view_base` (translated code's r13), for a write or a read/fetch. */
void shadow_handle_fault(struct shadow_mmu *mmu, const uint8_t *view_base, const void *host_address,
                         bool write, struct shadow_fault *out);

/* Maps `linear` in the current view for the given privilege as a fault on
 * it would (setting A, and D for a write), if the guest's tables allow the
 * access; otherwise does nothing. For the instruction that took a guest #PF
 * on `linear`, just before it runs again: the fault it would take next is
 * the fill. True when the page is mapped now. */
bool shadow_prefill(struct shadow_mmu *mmu, guest_linear_t linear, bool write, bool user);

/* Code protection (self-modifying code through any alias). */
void shadow_protect_code_frame(struct shadow_mmu *mmu, uint32_t frame);
void shadow_unprotect_code_frame(struct shadow_mmu *mmu, uint32_t frame);
void shadow_unprotect_all_code(struct shadow_mmu *mmu);
bool shadow_frame_has_code(const struct shadow_mmu *mmu, uint32_t frame);

/* True when an access at `linear` through the current view for that
 * privilege would run without a host fault (the page is mapped, writable
 * for a write). */
bool shadow_view_allows(const struct shadow_mmu *mmu, guest_linear_t linear, bool write, bool user);

/* True when a store to the frame through a view would fault: it is not RAM,
 * holds translated code, or is a tracked page table in sync. */
bool shadow_frame_traps_writes(const struct shadow_mmu *mmu, uint32_t frame);

/* The monitor wrote guest-physical memory itself (emulated stores, DMA):
 * tracked frames among [phys, phys+len) become unsynced. */
void shadow_note_phys_write(struct shadow_mmu *mmu, guest_phys_t phys, uint32_t len);

/* True when the canary pages around every view are intact. */
bool shadow_canaries_intact(const struct shadow_mmu *mmu);

/* Sets how many host mappings the process may have before a space is
 * emptied (default: vm.max_map_count less a margin; tests force evictions
 * with a low one). */
void shadow_set_map_budget(struct shadow_mmu *mmu, uint64_t host_mappings);

const struct shadow_stats *shadow_stats(const struct shadow_mmu *mmu);

#endif
