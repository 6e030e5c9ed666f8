/*
 * cache/tcache.h — the translation cache: translated blocks, their lookup,
 * chaining and flushing.
 *
 * A block is keyed by (guest EIP, physical address of EIP, mode key): the
 * code at a linear address depends on the address space, and the mode key
 * holds everything else a translation assumed (CPL, which segment bases are
 * non-zero, ...), so a block is only ever entered where it was made for.
 * Blocks live in the code arena; their metadata (instruction map, exits) in
 * ordinary memory. Self-modifying code drops blocks by physical frame, so
 * a write through any alias finds them.
 *
 * Chaining: a block's direct exits first jump to stubs that return to the
 * monitor; once the target block exists the monitor patches the exit's rel32
 * to jump straight to it (tcache_chain). Every chained link is recorded at
 * its target too, so dropping a block unchains everything that reached it.
 *
 * A link is a cached translation, like a TLB entry. One whose target lies
 * on the pages of its source block is valid wherever the source runs. Any
 * other link depends on the current mapping of the target's page: it is
 * logged as *global* (the page was mapped global, so it survives CR3 loads,
 * SDM vol. 3, §4.10.2.4) or *local*. tcache_drop_links() undoes them when
 * the guest flushes its whole TLB; on a CR3 load tcache_recheck_local_links()
 * suspends the local links whose target's page maps another frame now and
 * restores those whose page maps theirs again, so that processes running
 * the same code keep their links across context switches.
 *
 * Eviction is flush-all when the arena is full (the policy is a parameter of
 * the monitor's loop, so hit-rate comparisons can swap it).
 */
#ifndef POPEK_CACHE_TCACHE_H
#define POPEK_CACHE_TCACHE_H

#include "common/error.h"
#include "translator/translate.h"

struct tc_block;

struct tc_exit {
    guest_linear_t target;
    uint32_t jump_rel32;
    uint32_t stub;
    struct tc_block *chained; /* the block this exit is linked to, or NULL */
    bool unlinked;            /* linked, but its jump points at the stub for now */
};

#define TC_LINK_IC 0xFF /* exit_index of a link made by an inline cache */

struct logged_link;

struct tc_link {
    struct tc_block *from;
    unsigned exit_index;        /* or TC_LINK_IC */
    struct logged_link *logged; /* its record when it depends on a mapping */
    struct tc_link *next;
};

struct tc_block {
    guest_linear_t eip;
    guest_phys_t phys;        /* physical address of eip */
    uint32_t phys_last_frame; /* frame of the last byte (differs when it straddles) */
    uint32_t mode_key;
    uint32_t guest_size;
    uint8_t *code; /* executable address of the entry */
    uint32_t code_size;
    unsigned ninsns;
    unsigned nexits;
    bool valid;
    struct translated_insn *insns;
    struct tc_exit exits[TRANSLATE_MAX_EXITS];
    bool has_ic;
    struct translated_ic ic;
    struct tc_block *ic_target; /* the block the inline cache jumps to, or NULL */
    bool ic_unlinked;           /* filled, but the site jumps to the fill stub for now */
    struct tc_link *incoming;
    struct tc_block *hash_next;
};

struct tcache_stats {
    uint64_t lookups, hits, misses;
    uint64_t blocks_translated, guest_insns_translated;
    uint64_t chains, unchains;
    uint64_t ic_fills; /* indirect-branch inline caches filled */
    uint64_t flushes, invalidations;
    uint64_t links_dropped;   /* mapping-dependent links undone by TLB flushes */
    uint64_t links_suspended; /* local links a CR3 load pointed back at their stubs */
    uint64_t links_restored;  /* suspended links made to jump again, without an exit */
};

struct tcache;

struct tcache *tcache_create(size_t arena_bytes, struct popek_error *err);
void tcache_destroy(struct tcache *tc);

struct tc_block *tcache_lookup(struct tcache *tc, guest_linear_t eip, guest_phys_t phys,
                               uint32_t mode_key);

/* True when the block's guest bytes span two pages. */
static inline bool tc_block_straddles(const struct tc_block *b)
{
    return b->guest_size && ((b->eip ^ (b->eip + b->guest_size - 1)) >> 12) != 0;
}

/* Copies a translated block into the arena and indexes it. Returns NULL when
 * the arena is full (flush and retry). */
struct tc_block *tcache_insert(struct tcache *tc, const struct translated_block *tb,
                               const uint8_t *code, uint32_t mode_key);

/* Drops every block (flush-all). */
void tcache_flush(struct tcache *tc);

/* What to do when the arena is full: the eviction policy. A policy frees
 * room for at least `bytes` of code or fails. Only flush-all exists today;
 * the interface is here so hit-rate comparisons can swap in others (FIFO
 * regions, generational) without touching the monitor. */
struct tcache_policy {
    const char *name;
    bool (*make_room)(struct tcache *tc, size_t bytes);
};
extern const struct tcache_policy tcache_policy_flush_all;

void tcache_set_policy(struct tcache *tc, const struct tcache_policy *policy);
const struct tcache_policy *tcache_policy(const struct tcache *tc);

/* Inserts tb, asking the policy for room when the arena is full. */
struct tc_block *tcache_insert_or_evict(struct tcache *tc, const struct translated_block *tb,
                                        const uint8_t *code, uint32_t mode_key);

/* Drops every block whose guest code lies (partly) in physical frame `frame`. */
void tcache_invalidate_frame(struct tcache *tc, uint32_t frame);

/* Drops the blocks whose guest bytes (plus a last instruction that is a
 * callout) overlap the physical range [phys, phys+len), which lies in one
 * frame; returns how many valid blocks the frame still holds. A store into
 * data that shares a page with code drops no code it did not touch. */
unsigned tcache_invalidate_phys_range(struct tcache *tc, guest_phys_t phys, uint32_t len);

/* Drops one block. */
void tcache_invalidate_block(struct tcache *tc, struct tc_block *b);

/* Drops the blocks translated from `frame` whose guest bytes include the
 * instruction at linear `eip` (its translation is to change, not the rest
 * of the page's). */
void tcache_invalidate_containing(struct tcache *tc, uint32_t frame, guest_linear_t eip);

/* True when p is in the code arena (async-signal-safe). */
bool tcache_contains_code(const struct tcache *tc, const void *p);

/* The block containing executable address p, or NULL. */
struct tc_block *tcache_block_at(struct tcache *tc, const void *p);

/* Patches the exit whose rel32 sits at executable address `site` to jump to
 * `to`; or, when `site` is a block's inline-cache site, fills the cache
 * with `to`. `to_global` says whether to's page is mapped global now.
 * Returns false when site is neither in a live block. */
bool tcache_chain_site(struct tcache *tc, const void *site, struct tc_block *to, bool to_global);

/* Undoes every link that depends on the current mappings (a global TLB
 * flush). */
void tcache_drop_links(struct tcache *tc);

/* A CR3 load: checks the local links against the new mappings, once per
 * group of links into the blocks of one page made from one frame under
 * one mode. A group whose page no longer maps its frame is *suspended*
 * (its jumps point back at their stubs, the records stay); a suspended one
 * whose page maps its frame again is restored. Links into blocks that
 * straddle two pages are undone. `still_maps` answers for a group: the
 * linear page number, the frame, the blocks' mode key. */
typedef bool (*tcache_page_check)(void *ctx, uint32_t page, uint32_t frame, uint32_t mode_key);
void tcache_recheck_local_links(struct tcache *tc, tcache_page_check still_maps, void *ctx);

/* The monitor is about to enter b, having found b's page mapping b's frame
 * in the current space: the suspended links into that page, frame and
 * mode are restored. */
void tcache_relink_into(struct tcache *tc, const struct tc_block *b);

/* Undoes the mapping-dependent links into blocks on linear page `page`
 * (INVLPG). */
void tcache_drop_links_to_page(struct tcache *tc, guest_linear_t page);

/* Points every chained exit of b back at its stub without touching any
 * bookkeeping memory: async-signal-safe, for the thread running b to call
 * from a signal handler so that b returns to the monitor when it ends. The
 * next tcache_chain_site on such an exit restores the jump. */
void tcache_unlink_block_async(struct tcache *tc, struct tc_block *b);

/* The guest instruction executing at host address p inside block b. */
const struct translated_insn *tcache_insn_at(const struct tc_block *b, const void *p);

/* Called when a block is dropped (b) or on a flush (b == NULL), so that
 * other references to translated code (the indirect-branch table) go too. */
typedef void (*tcache_drop_hook)(void *ctx, const struct tc_block *b);
void tcache_set_drop_hook(struct tcache *tc, tcache_drop_hook hook, void *ctx);

const struct tcache_stats *tcache_stats(const struct tcache *tc);
struct tcache_stats *tcache_stats_mut(struct tcache *tc);

#endif
