/*
 * cache/tcache.c — block map, chaining and flushing (tcache.h).
 *
 * The block map is a chained hash table keyed by XXH3 of (eip, phys, mode
 * key), with a direct-mapped table of recent lookups in front of it.
 * Blocks are appended to the arena in address order, so `by_address` is
 * sorted by construction and a host address is resolved by binary search —
 * among the blocks that start in its arena page, found through a per-page
 * index (`page_first`): a search over all of a hundred thousand blocks
 * missed the cache at every step, and every host fault in translated code
 * asks (1.5% of Linux's fork+exec).
 *
 * Two indexes make the guest's invalidation events cost what they touch,
 * not what the cache holds (a Linux guest does tens of thousands of
 * INVLPGs and CR3 loads with a hundred thousand blocks cached):
 *   - frame → the blocks whose bytes lie in that physical frame, for
 *     invalidation when the frame is written;
 *   - every logged link is on its scope's list (local or global: what a CR3
 *     load undoes) and on the list of each linear page its target covers
 *     (what an INVLPG of that page undoes).
 * Entries for blocks dropped meanwhile stay until the next visit or flush:
 * blocks are only freed by a flush, so such entries are merely skipped.
 */
#include "cache/tcache.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "cache/code_arena.h"

#define TCACHE_BUCKETS   (1u << 18)
/* Lookups from the run loop (after every callout and every unchained
 * exit) first try a direct-mapped table of recent results: one cache line
 * instead of a hash over the key and a walk of a bucket's chain, each node
 * a miss of its own with a hundred thousand blocks (Linux boot). */
#define FRONT_ENTRIES    (1u << 14)
#define ARENA_PAGE_SHIFT 12
#define FRAME_BUCKETS    (1u << 12)
#define PAGE_BUCKETS     (1u << 12)
#define GROUP_BUCKETS    (1u << 10)

/* A link that depends on the current mapping of its target's page(s): on
 * its scope's list and on one page list per page of the target. */
struct logged_link {
    struct tc_block *from, *to;
    uint8_t exit_index; /* or TC_LINK_IC */
    bool global;
    uint32_t pages[2];        /* linear page numbers the target covers (equal if one) */
    struct link_group *group; /* a local link's, unless its target straddles */
    uint32_t group_index;     /* its entry there */
    struct logged_link *scope_next, **scope_pprev;
    struct logged_link *page_next[2], **page_pprev[2];
};

/* A link of a group: the bytes that make it jump (open) or go to its stub
 * (closed), and where they go — suspending and restoring a group reads
 * only its array of entries. */
struct group_entry {
    uint8_t *patch; /* writable address */
    struct logged_link *link;
    uint8_t patch_len;
    uint8_t open_bytes[5], closed_bytes[5];
};

/* The local links into the blocks of one linear page that were
 * translated from one frame under one mode: a CR3 load asks once per group
 * whether the page still maps that frame, and suspends (points back at
 * their stubs) or restores all of the group's links together. Targets that
 * straddle two pages are in no group: a CR3 load undoes their links. */
struct link_group {
    uint32_t page, frame, mode_key;
    bool suspended;
    struct group_entry *entries;
    uint32_t count, capacity;
    struct link_group *next; /* in its hash bucket */
    uint32_t index;          /* in tcache.all_groups */
};

/* The blocks translated from one physical frame. */
struct frame_blocks {
    uint32_t frame;
    uint32_t count, capacity;
    struct tc_block **blocks;
    struct frame_blocks *next;
};

struct front_entry {
    guest_linear_t eip;
    guest_phys_t phys;
    uint32_t mode_key;
    struct tc_block *block; /* NULL: empty */
};

struct tcache {
    struct code_arena *arena;
    struct front_entry front[FRONT_ENTRIES];
    struct tc_block *buckets[TCACHE_BUCKETS];
    struct tc_block **by_address;
    const uint8_t **code_starts; /* by_address[i]->code: searched without touching blocks */
    size_t nblocks, capacity;
    /* Per arena page p (1 << ARENA_PAGE_SHIFT bytes): the index of the
     * first block starting in page p or later; set for pages below
     * pages_indexed (those up to the last block's). */
    uint32_t *page_first;
    size_t pages_indexed;
    struct tcache_stats stats;
    tcache_drop_hook drop_hook;
    void *drop_ctx;
    const struct tcache_policy *policy;
    /* Logged links by scope: local ones in groups, local ones into blocks
     * straddling two pages, global ones. */
    struct logged_link *local_links, *straddle_links, *global_links;
    /* Link records given back, for the next links: the cache makes and
     * undoes hundreds per guest fork+exec (every CR3 load undoes the
     * local ones), and malloc/free of each showed in profiles. */
    struct logged_link *spare_logged;
    struct tc_link *spare_links;
    struct logged_link *page_links[PAGE_BUCKETS];
    struct frame_blocks *frames[FRAME_BUCKETS];
    struct link_group *groups[GROUP_BUCKETS];
    /* Every group, for a CR3 load to go through without visiting empty
     * buckets (a guest switching between two spaces does that 100,000s of
     * times a second). */
    struct link_group **all_groups;
    uint32_t ngroups, groups_capacity;
    uint32_t nsuspended; /* groups suspended: the monitor's entries ask only then */
};

static bool flush_all_make_room(struct tcache *tc, size_t bytes)
{
    tcache_flush(tc);
    return bytes <= code_arena_size(tc->arena);
}

const struct tcache_policy tcache_policy_flush_all = {
    .name = "flush-all",
    .make_room = flush_all_make_room,
};

void tcache_set_policy(struct tcache *tc, const struct tcache_policy *policy)
{
    tc->policy = policy;
}

const struct tcache_policy *tcache_policy(const struct tcache *tc)
{
    return tc->policy;
}

struct tc_block *tcache_insert_or_evict(struct tcache *tc, const struct translated_block *tb,
                                        const uint8_t *code, uint32_t mode_key)
{
    struct tc_block *b = tcache_insert(tc, tb, code, mode_key);

    if (!b && tc->policy->make_room(tc, tb->code_size))
        b = tcache_insert(tc, tb, code, mode_key);
    return b;
}

void tcache_set_drop_hook(struct tcache *tc, tcache_drop_hook hook, void *ctx)
{
    tc->drop_hook = hook;
    tc->drop_ctx = ctx;
}

static uint32_t block_hash(guest_linear_t eip, guest_phys_t phys, uint32_t mode_key)
{
    uint32_t key[3] = {eip, phys, mode_key};

    return (uint32_t)XXH3_64bits(key, sizeof(key)) & (TCACHE_BUCKETS - 1);
}

static struct front_entry *front_slot(struct tcache *tc, guest_linear_t eip, uint32_t mode_key)
{
    return &tc->front[(eip ^ (eip >> 14) ^ (mode_key * 0x9E3779B1u)) & (FRONT_ENTRIES - 1)];
}

struct tcache *tcache_create(size_t arena_bytes, struct popek_error *err)
{
    struct tcache *tc = calloc(1, sizeof(*tc));

    if (!tc) {
        popek_fail(err, "out of memory");
        return NULL;
    }
    tc->policy = &tcache_policy_flush_all;
    tc->arena = code_arena_create(arena_bytes, err);
    if (!tc->arena) {
        free(tc);
        return NULL;
    }
    tc->page_first =
        calloc((code_arena_size(tc->arena) >> ARENA_PAGE_SHIFT) + 1, sizeof(*tc->page_first));
    if (!tc->page_first) {
        code_arena_destroy(tc->arena);
        free(tc);
        popek_fail(err, "out of memory");
        return NULL;
    }
    return tc;
}

static struct tc_link *link_alloc(struct tcache *tc)
{
    struct tc_link *link = tc->spare_links;

    if (!link)
        return malloc(sizeof(*link));
    tc->spare_links = link->next;
    return link;
}

static void link_release(struct tcache *tc, struct tc_link *link)
{
    link->next = tc->spare_links;
    tc->spare_links = link;
}

static struct logged_link *logged_alloc(struct tcache *tc)
{
    struct logged_link *l = tc->spare_logged;

    if (!l)
        return calloc(1, sizeof(*l));
    tc->spare_logged = l->scope_next;
    memset(l, 0, sizeof(*l));
    return l;
}

static void logged_release(struct tcache *tc, struct logged_link *l)
{
    l->scope_next = tc->spare_logged;
    tc->spare_logged = l;
}

static void free_block(struct tcache *tc, struct tc_block *b)
{
    while (b->incoming) {
        struct tc_link *next = b->incoming->next;
        link_release(tc, b->incoming);
        b->incoming = next;
    }
    free(b->insns);
    free(b);
}

static void free_link_list(struct tcache *tc, struct logged_link *l)
{
    while (l) {
        struct logged_link *next = l->scope_next;
        logged_release(tc, l);
        l = next;
    }
}

static void free_groups(struct tcache *tc)
{
    for (uint32_t i = 0; i < tc->ngroups; i++) {
        free(tc->all_groups[i]->entries);
        free(tc->all_groups[i]);
    }
    tc->ngroups = tc->nsuspended = 0;
    memset(tc->groups, 0, sizeof(tc->groups));
}

static void free_frame_index(struct tcache *tc)
{
    for (unsigned i = 0; i < FRAME_BUCKETS; i++) {
        while (tc->frames[i]) {
            struct frame_blocks *next = tc->frames[i]->next;
            free(tc->frames[i]->blocks);
            free(tc->frames[i]);
            tc->frames[i] = next;
        }
    }
}

void tcache_flush(struct tcache *tc)
{
    if (tc->drop_hook)
        tc->drop_hook(tc->drop_ctx, NULL);
    for (size_t i = 0; i < tc->nblocks; i++)
        free_block(tc, tc->by_address[i]);
    tc->nblocks = 0;
    tc->pages_indexed = 0;
    free_link_list(tc, tc->local_links);
    free_link_list(tc, tc->straddle_links);
    free_link_list(tc, tc->global_links);
    tc->local_links = tc->straddle_links = tc->global_links = NULL;
    memset(tc->page_links, 0, sizeof(tc->page_links));
    free_groups(tc);
    free_frame_index(tc);
    memset(tc->front, 0, sizeof(tc->front));
    memset(tc->buckets, 0, sizeof(tc->buckets));
    code_arena_reset(tc->arena);
    tc->stats.flushes++;
}

void tcache_destroy(struct tcache *tc)
{
    if (!tc)
        return;
    tcache_flush(tc);
    while (tc->spare_links) {
        struct tc_link *next = tc->spare_links->next;
        free(tc->spare_links);
        tc->spare_links = next;
    }
    while (tc->spare_logged) {
        struct logged_link *next = tc->spare_logged->scope_next;
        free(tc->spare_logged);
        tc->spare_logged = next;
    }
    free(tc->all_groups);
    free(tc->by_address);
    free(tc->code_starts);
    free(tc->page_first);
    code_arena_destroy(tc->arena);
    free(tc);
}

struct tc_block *tcache_lookup(struct tcache *tc, guest_linear_t eip, guest_phys_t phys,
                               uint32_t mode_key)
{
    struct front_entry *f = front_slot(tc, eip, mode_key);

    tc->stats.lookups++;
    if (f->block && f->eip == eip && f->phys == phys && f->mode_key == mode_key) {
        tc->stats.hits++;
        return f->block;
    }
    for (struct tc_block *b = tc->buckets[block_hash(eip, phys, mode_key)]; b; b = b->hash_next) {
        if (b->eip == eip && b->phys == phys && b->mode_key == mode_key) {
            *f = (struct front_entry){eip, phys, mode_key, b};
            tc->stats.hits++;
            return b;
        }
    }
    tc->stats.misses++;
    return NULL;
}

static struct frame_blocks **frame_slot(struct tcache *tc, uint32_t frame)
{
    struct frame_blocks **pp = &tc->frames[frame & (FRAME_BUCKETS - 1)];

    while (*pp && (*pp)->frame != frame)
        pp = &(*pp)->next;
    return pp;
}

/* Records that b's bytes lie in frame. False when out of memory. */
static bool frame_index_add(struct tcache *tc, uint32_t frame, struct tc_block *b)
{
    struct frame_blocks **pp = frame_slot(tc, frame);
    struct frame_blocks *fb = *pp;

    if (!fb) {
        fb = calloc(1, sizeof(*fb));
        if (!fb)
            return false;
        fb->frame = frame;
        *pp = fb;
    }
    if (fb->count == fb->capacity) {
        uint32_t capacity = fb->capacity ? fb->capacity * 2 : 8;
        struct tc_block **grown = realloc(fb->blocks, capacity * sizeof(*grown));
        if (!grown)
            return false;
        fb->blocks = grown;
        fb->capacity = capacity;
    }
    fb->blocks[fb->count++] = b;
    return true;
}

/* Appends b to the address-ordered arrays; the pages up to the one b
 * starts in get their first block. */
static void append_by_address(struct tcache *tc, struct tc_block *b)
{
    size_t page = code_arena_offset(tc->arena, b->code) >> ARENA_PAGE_SHIFT;

    while (tc->pages_indexed <= page)
        tc->page_first[tc->pages_indexed++] = (uint32_t)tc->nblocks;
    tc->code_starts[tc->nblocks] = b->code;
    tc->by_address[tc->nblocks++] = b;
}

struct tc_block *tcache_insert(struct tcache *tc, const struct translated_block *tb,
                               const uint8_t *code, uint32_t mode_key)
{
    if (tc->nblocks == tc->capacity) {
        size_t capacity = tc->capacity ? tc->capacity * 2 : 4096;
        struct tc_block **grown = realloc(tc->by_address, capacity * sizeof(*grown));
        if (!grown)
            return NULL;
        tc->by_address = grown;
        const uint8_t **starts = realloc(tc->code_starts, capacity * sizeof(*starts));
        if (!starts)
            return NULL;
        tc->code_starts = starts;
        tc->capacity = capacity;
    }
    uint8_t *dest = code_arena_alloc(tc->arena, tb->code_size);
    if (!dest)
        return NULL;
    struct tc_block *b = calloc(1, sizeof(*b));
    struct translated_insn *insns = malloc(tb->ninsns * sizeof(*insns) + 1);
    if (!b || !insns) {
        free(b);
        free(insns);
        return NULL;
    }
    memcpy(dest, code, tb->code_size);
    memcpy(insns, tb->insns, tb->ninsns * sizeof(*insns));
    b->eip = tb->eip;
    b->phys = tb->phys;
    b->phys_last_frame = tb->phys_last_frame;
    b->mode_key = mode_key;
    b->guest_size = tb->guest_size;
    b->code = code_arena_exec_ptr(tc->arena, dest);
    b->code_size = tb->code_size;
    b->ninsns = tb->ninsns;
    b->insns = insns;
    b->nexits = tb->nexits;
    for (unsigned i = 0; i < tb->nexits; i++) {
        b->exits[i].target = tb->exits[i].target;
        b->exits[i].jump_rel32 = tb->exits[i].jump_rel32;
        b->exits[i].stub = tb->exits[i].stub;
    }
    b->has_ic = tb->has_ic;
    b->ic = tb->ic;
    if (!frame_index_add(tc, b->phys >> 12, b) ||
        (b->phys_last_frame != b->phys >> 12 && !frame_index_add(tc, b->phys_last_frame, b))) {
        /* Out of memory: never reachable, so never valid; freed by the
         * next flush like any dropped block. */
        append_by_address(tc, b);
        return NULL;
    }
    b->valid = true;
    uint32_t h = block_hash(b->eip, b->phys, mode_key);
    b->hash_next = tc->buckets[h];
    tc->buckets[h] = b;
    *front_slot(tc, b->eip, mode_key) = (struct front_entry){b->eip, b->phys, mode_key, b};
    append_by_address(tc, b);
    tc->stats.blocks_translated++;
    tc->stats.guest_insns_translated += tb->ninsns;
    return b;
}

bool tcache_contains_code(const struct tcache *tc, const void *p)
{
    return code_arena_contains(tc->arena, p);
}

struct tc_block *tcache_block_at(struct tcache *tc, const void *p)
{
    const uint8_t *addr = p;

    if (!code_arena_contains(tc->arena, p))
        return NULL;
    /* The last block starting at or below addr: one starting in addr's
     * page, or the one before the page's first — or, past the last page a
     * block starts in, the last block. */
    size_t page = code_arena_offset(tc->arena, p) >> ARENA_PAGE_SHIFT;
    size_t lo, hi = tc->nblocks;

    if (page < tc->pages_indexed) {
        lo = tc->page_first[page] ? tc->page_first[page] - 1 : 0;
        if (page + 1 < tc->pages_indexed)
            hi = tc->page_first[page + 1];
    } else {
        lo = tc->nblocks ? tc->nblocks - 1 : 0;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (addr < tc->code_starts[mid])
            hi = mid;
        else
            lo = mid + 1;
    }
    if (!lo)
        return NULL;
    struct tc_block *b = tc->by_address[lo - 1];
    return addr < b->code + b->code_size ? b : NULL;
}

const struct translated_insn *tcache_insn_at(const struct tc_block *b, const void *p)
{
    uint32_t offset = (uint32_t)((const uint8_t *)p - b->code);
    const struct translated_insn *found = NULL;

    for (unsigned i = 0; i < b->ninsns; i++) {
        if (b->insns[i].host_offset <= offset)
            found = &b->insns[i];
    }
    return found;
}

static void patch_exit(struct tcache *tc, struct tc_block *from, unsigned i, const void *target)
{
    uint8_t *site = from->code + from->exits[i].jump_rel32;

    emit_write_rel32_at(code_arena_write_ptr(tc->arena, site), site, target);
}

static const uint8_t nop5[5] = {0x0F, 0x1F, 0x44, 0x00, 0x00};

static void write_code(struct tcache *tc, uint8_t *exec, const void *bytes, size_t n)
{
    memcpy(code_arena_write_ptr(tc->arena, exec), bytes, n);
}

/* The inline cache's site: a nop once filled (fall into the compare), a
 * jump to the fill stub otherwise. */
static void ic_set_site(struct tcache *tc, struct tc_block *b, bool filled)
{
    uint8_t *site = b->code + b->ic.site;

    if (filled) {
        write_code(tc, site, nop5, sizeof(nop5));
    } else {
        uint8_t jmp[5] = {0xE9};
        int32_t rel = (int32_t)((b->code + b->ic.fill_stub) - (site + 5));
        memcpy(jmp + 1, &rel, 4);
        write_code(tc, site, jmp, sizeof(jmp));
    }
}

/* ---- groups of local links ----------------------------------------------- */

static struct link_group **group_slot(struct tcache *tc, uint32_t page, uint32_t frame)
{
    return &tc->groups[(page ^ frame * 0x9E3779B1u) >> 22 & (GROUP_BUCKETS - 1)];
}

/* The group of links into `to`, created when `create` (NULL when out of
 * memory or absent). */
static struct link_group *group_of(struct tcache *tc, const struct tc_block *to, bool create)
{
    uint32_t page = to->eip >> 12, frame = (uint32_t)(to->phys >> 12);
    struct link_group **head = group_slot(tc, page, frame);

    for (struct link_group *g = *head; g; g = g->next) {
        if (g->page == page && g->frame == frame && g->mode_key == to->mode_key)
            return g;
    }
    if (!create)
        return NULL;
    if (tc->ngroups == tc->groups_capacity) {
        uint32_t capacity = tc->groups_capacity ? 2 * tc->groups_capacity : 64;
        struct link_group **grown = realloc(tc->all_groups, capacity * sizeof(*grown));
        if (!grown)
            return NULL;
        tc->all_groups = grown;
        tc->groups_capacity = capacity;
    }
    struct link_group *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    *g = (struct link_group){.page = page,
                             .frame = frame,
                             .mode_key = to->mode_key,
                             .next = *head,
                             .index = tc->ngroups};
    *head = g;
    tc->all_groups[tc->ngroups++] = g;
    return g;
}

static void unlist_link(struct tcache *tc, struct logged_link *l);
static void undo_link(struct tcache *tc, struct logged_link *l);

/* Suspends (points back at their stubs) or restores every link of a
 * group. Its records are those of links in place: undoing or dropping a
 * link takes its record out. */
static void group_set_suspended(struct tcache *tc, struct link_group *g, bool suspended)
{
    if (g->suspended != suspended)
        tc->nsuspended += suspended ? 1u : (uint32_t)-1;
    g->suspended = suspended;
    for (uint32_t i = 0; i < g->count; i++) {
        const struct group_entry *e = &g->entries[i];
        memcpy(e->patch, suspended ? e->closed_bytes : e->open_bytes, e->patch_len);
    }
    if (suspended)
        tc->stats.links_suspended += g->count;
    else
        tc->stats.links_restored += g->count;
}

/* The logged link of exit `exit_index` of `from` to `to`, when `to`'s group
 * is suspended (NULL otherwise). */
static struct logged_link *suspended_link(struct tcache *tc, const struct tc_block *from,
                                          unsigned exit_index, const struct tc_block *to)
{
    struct link_group *g = group_of(tc, to, false);

    if (!g || !g->suspended)
        return NULL;
    for (uint32_t i = 0; i < g->count; i++) {
        struct logged_link *l = g->entries[i].link;
        if (l->from == from && l->exit_index == exit_index && l->to == to)
            return l;
    }
    return NULL;
}

/* Puts a new local link into the group of its target. The caller found
 * the target's page mapping the target's frame: a suspended group's other
 * links hold again too. */
static bool group_add(struct tcache *tc, struct logged_link *l)
{
    struct tc_block *from = l->from;
    struct link_group *g = group_of(tc, l->to, true);

    if (!g)
        return false;
    if (g->count == g->capacity) {
        uint32_t capacity = g->capacity ? 2 * g->capacity : 8;
        struct group_entry *grown = realloc(g->entries, capacity * sizeof(*grown));
        if (!grown)
            return false;
        g->entries = grown;
        g->capacity = capacity;
    }
    if (g->suspended)
        group_set_suspended(tc, g, false);
    struct group_entry *e = &g->entries[g->count];
    *e = (struct group_entry){.link = l};
    if (l->exit_index == TC_LINK_IC) {
        uint8_t *site = from->code + from->ic.site;
        int32_t rel = (int32_t)((from->code + from->ic.fill_stub) - (site + 5));
        e->patch = code_arena_write_ptr(tc->arena, site);
        e->patch_len = 5;
        memcpy(e->open_bytes, nop5, 5);
        e->closed_bytes[0] = 0xE9;
        memcpy(e->closed_bytes + 1, &rel, 4);
    } else {
        const struct tc_exit *exit = &from->exits[l->exit_index];
        uint8_t *site = from->code + exit->jump_rel32;
        int32_t open = (int32_t)(l->to->code - (site + 4));
        int32_t closed = (int32_t)((from->code + exit->stub) - (site + 4));
        e->patch = code_arena_write_ptr(tc->arena, site);
        e->patch_len = 4;
        memcpy(e->open_bytes, &open, 4);
        memcpy(e->closed_bytes, &closed, 4);
    }
    l->group = g;
    l->group_index = g->count++;
    return true;
}

/* True when every page of `to` is a page of `from`: then `from` running
 * means those pages map as they did when `to` was made, and the link needs
 * no mapping of its own. */
static bool link_is_page_local(const struct tc_block *from, const struct tc_block *to)
{
    uint32_t from_first = from->eip >> 12, from_last = (from->eip + from->guest_size - 1) >> 12;
    uint32_t to_first = to->eip >> 12, to_last = (to->eip + to->guest_size - 1) >> 12;

    if (!to->guest_size || !from->guest_size)
        return false;
    return (to_first == from_first || to_first == from_last) &&
           (to_last == from_first || to_last == from_last);
}

/* Which of a link's two page-list memberships puts it in this bucket: its
 * pages are consecutive, so they never share a bucket. */
static unsigned page_slot(const struct logged_link *l, uint32_t bucket)
{
    return (l->pages[0] & (PAGE_BUCKETS - 1)) == bucket ? 0 : 1;
}

/* Records a link that depends on the target page's current mapping. False
 * when out of memory (the caller does not make the link then). */
static bool log_link(struct tcache *tc, struct tc_block *from, unsigned exit_index,
                     struct tc_block *to, bool global, struct logged_link **out)
{
    *out = NULL;
    if (link_is_page_local(from, to))
        return true;
    struct logged_link *l = logged_alloc(tc);
    if (!l)
        return false;
    l->from = from;
    l->to = to;
    l->exit_index = (uint8_t)exit_index;
    l->global = global;
    l->pages[0] = to->eip >> 12;
    l->pages[1] = (to->eip + (to->guest_size ? to->guest_size - 1 : 0)) >> 12;

    bool straddles = tc_block_straddles(to);
    struct logged_link **scope = global      ? &tc->global_links
                                 : straddles ? &tc->straddle_links
                                             : &tc->local_links;
    if (!global && !straddles && !group_add(tc, l)) {
        logged_release(tc, l);
        return false;
    }
    l->scope_next = *scope;
    if (*scope)
        (*scope)->scope_pprev = &l->scope_next;
    l->scope_pprev = scope;
    *scope = l;
    for (unsigned i = 0; i < 2; i++) {
        if (i == 1 && l->pages[1] == l->pages[0])
            break;
        uint32_t bucket = l->pages[i] & (PAGE_BUCKETS - 1);
        struct logged_link **head = &tc->page_links[bucket];
        l->page_next[i] = *head;
        if (*head)
            (*head)->page_pprev[page_slot(*head, bucket)] = &l->page_next[i];
        l->page_pprev[i] = head;
        *head = l;
    }
    *out = l;
    return true;
}

/* Records a new link from exit `exit_index` of `from` (or its inline
 * cache) at its target, and logs it when it depends on a mapping. False
 * when out of memory (the caller does not make the link then). */
static bool record_link(struct tcache *tc, struct tc_block *from, unsigned exit_index,
                        struct tc_block *to, bool to_global)
{
    struct tc_link *link = link_alloc(tc);

    if (!link)
        return false;
    if (!log_link(tc, from, exit_index, to, to_global, &link->logged)) {
        link_release(tc, link);
        return false;
    }
    link->from = from;
    link->exit_index = exit_index;
    link->next = to->incoming;
    to->incoming = link;
    return true;
}

static bool ic_fill(struct tcache *tc, struct tc_block *from, struct tc_block *to, bool to_global)
{
    if (from->ic_target) {
        struct logged_link *old = suspended_link(tc, from, TC_LINK_IC, from->ic_target);
        if (!old) {
            /* Filled before and unlinked for an event: keep the cached
             * target. */
            if (from->ic_unlinked) {
                from->ic_unlinked = false;
                ic_set_site(tc, from, true);
            }
            return true;
        }
        /* Suspended: its target's page maps another frame in this space. */
        undo_link(tc, old);
    }
    if (from->mode_key != to->mode_key || !record_link(tc, from, TC_LINK_IC, to, to_global))
        return false;
    uint32_t minus_target = (uint32_t)(-(int64_t)to->eip);
    write_code(tc, from->code + from->ic.disp, &minus_target, 4);
    uint8_t *hit = from->code + from->ic.hit_rel32;
    emit_write_rel32_at(code_arena_write_ptr(tc->arena, hit), hit, to->code);
    from->ic_target = to;
    ic_set_site(tc, from, true);
    tc->stats.ic_fills++;
    return true;
}

/* Links exit i of `from` to `to` (both valid, the exit's target to's EIP,
 * the same mode). */
static bool chain_exit(struct tcache *tc, struct tc_block *from, unsigned i, struct tc_block *to,
                       bool to_global)
{
    struct tc_exit *exit = &from->exits[i];

    if (exit->chained == to && exit->unlinked) {
        /* Unlinked by tcache_unlink_block_async: the link record is
         * still at the target, only the jump needs patching back. */
        exit->unlinked = false;
        patch_exit(tc, from, i, to->code);
        tc->stats.chains++;
        return true;
    }
    if (exit->chained) {
        /* Linked elsewhere: give way only to a link suspended because its
         * target's page maps another frame in this space. */
        struct logged_link *old = suspended_link(tc, from, i, exit->chained);
        if (!old)
            return false;
        undo_link(tc, old);
    }
    if (!record_link(tc, from, i, to, to_global))
        return false;
    exit->chained = to;
    patch_exit(tc, from, i, to->code);
    tc->stats.chains++;
    return true;
}

bool tcache_chain_site(struct tcache *tc, const void *site, struct tc_block *to, bool to_global)
{
    struct tc_block *from = tcache_block_at(tc, site);

    if (!from || !from->valid || !to->valid)
        return false;
    if (from->has_ic && (const uint8_t *)site == from->code + from->ic.site)
        return ic_fill(tc, from, to, to_global);
    for (unsigned i = 0; i < from->nexits; i++) {
        if (from->code + from->exits[i].jump_rel32 != site)
            continue;
        if (from->exits[i].target != to->eip || from->mode_key != to->mode_key)
            return false;
        return chain_exit(tc, from, i, to, to_global);
    }
    return false;
}

void tcache_unlink_block_async(struct tcache *tc, struct tc_block *b)
{
    /* Whatever the flags say: suspending and restoring a group patches the
     * jumps only, so a link restored after an earlier unlink here still
     * has its flag set. */
    if (b->ic_target) {
        ic_set_site(tc, b, false);
        b->ic_unlinked = true;
    }
    for (unsigned i = 0; i < b->nexits; i++) {
        struct tc_exit *exit = &b->exits[i];

        if (exit->chained) {
            patch_exit(tc, b, i, b->code + exit->stub);
            exit->unlinked = true;
        }
    }
}

/* Takes out the record of the link from exit `exit_index` of `from` to
 * `to`, if it has one. */
static void forget_record(struct tcache *tc, const struct tc_block *from, unsigned exit_index,
                          struct tc_block *to)
{
    for (struct tc_link *l = to->incoming; l; l = l->next) {
        if (l->from == from && l->exit_index == exit_index) {
            if (l->logged) {
                unlist_link(tc, l->logged);
                l->logged = NULL;
            }
            return;
        }
    }
}

/* Unlinks a block from the map and points every chained jump into it back
 * at its stub. Its code stays in the arena (it may be running) until the
 * next flush. */
static void drop_block(struct tcache *tc, struct tc_block *b)
{
    struct tc_block **pp = &tc->buckets[block_hash(b->eip, b->phys, b->mode_key)];
    struct front_entry *f = front_slot(tc, b->eip, b->mode_key);

    if (f->block == b)
        f->block = NULL;
    while (*pp && *pp != b)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = b->hash_next;
    for (struct tc_link *l = b->incoming; l; l = l->next) {
        if (l->logged) {
            unlist_link(tc, l->logged);
            l->logged = NULL;
        }
        if (l->exit_index == TC_LINK_IC) {
            /* Empty the inline cache: its site goes back to the fill stub. */
            if (l->from->valid && l->from->ic_target == b) {
                l->from->ic_target = NULL;
                l->from->ic_unlinked = false;
                ic_set_site(tc, l->from, false);
                tc->stats.unchains++;
            }
            continue;
        }
        if (!l->from->valid || l->from->exits[l->exit_index].chained != b)
            continue;
        patch_exit(tc, l->from, l->exit_index, l->from->code + l->from->exits[l->exit_index].stub);
        l->from->exits[l->exit_index].chained = NULL;
        l->from->exits[l->exit_index].unlinked = false;
        tc->stats.unchains++;
    }
    /* The records of its own links go now: a group holds only links in
     * place. */
    for (unsigned i = 0; i < b->nexits; i++) {
        if (b->exits[i].chained)
            forget_record(tc, b, i, b->exits[i].chained);
        b->exits[i].chained = NULL;
    }
    if (b->ic_target)
        forget_record(tc, b, TC_LINK_IC, b->ic_target);
    b->ic_target = NULL;
    b->valid = false;
    tc->stats.invalidations++;
    if (tc->drop_hook)
        tc->drop_hook(tc->drop_ctx, b);
}

void tcache_invalidate_frame(struct tcache *tc, uint32_t frame)
{
    struct frame_blocks **pp = frame_slot(tc, frame);
    struct frame_blocks *fb = *pp;

    if (!fb)
        return;
    /* Every block listed here is dropped (or was already): the list goes. */
    *pp = fb->next;
    for (uint32_t i = 0; i < fb->count; i++) {
        if (fb->blocks[i]->valid)
            drop_block(tc, fb->blocks[i]);
    }
    free(fb->blocks);
    free(fb);
}

/* The longest x86 instruction: a block's bytes run at most this far past
 * guest_size (its last instruction, when a callout, is not counted). */
#define MAX_INSN_BYTES 15

unsigned tcache_invalidate_phys_range(struct tcache *tc, guest_phys_t phys, uint32_t len)
{
    uint32_t frame = phys >> 12, start = phys & 0xFFF, end = start + len;
    struct frame_blocks *fb = *frame_slot(tc, frame);
    unsigned remaining = 0;

    for (uint32_t i = 0; fb && i < fb->count; i++) {
        struct tc_block *b = fb->blocks[i];
        if (!b->valid)
            continue;
        /* The block's bytes within this frame: [first, last). */
        uint32_t offset = b->phys & 0xFFF;
        uint32_t bytes_end = offset + b->guest_size + MAX_INSN_BYTES;
        uint32_t first = (b->phys >> 12) == frame ? offset : 0;
        uint32_t last = (b->phys >> 12) == frame ? bytes_end : bytes_end - 4096;
        if ((b->phys >> 12) != frame && bytes_end <= 4096)
            last = 0; /* listed for a frame its bytes no longer reach */
        if (first < end && start < last)
            drop_block(tc, b);
        else
            remaining++;
    }
    return remaining;
}

void tcache_invalidate_containing(struct tcache *tc, uint32_t frame, guest_linear_t eip)
{
    struct frame_blocks *fb = *frame_slot(tc, frame);

    for (uint32_t i = 0; fb && i < fb->count; i++) {
        struct tc_block *b = fb->blocks[i];
        /* A block's last instruction may be a callout, which guest_size
         * does not count: look at the instructions themselves. */
        if (!b->valid || eip - b->eip > b->guest_size)
            continue;
        for (unsigned k = 0; k < b->ninsns; k++) {
            if (b->insns[k].eip == eip) {
                drop_block(tc, b);
                break;
            }
        }
    }
}

void tcache_invalidate_block(struct tcache *tc, struct tc_block *b)
{
    if (b->valid)
        drop_block(tc, b);
}

static void remove_incoming(struct tcache *tc, struct tc_block *to, const struct tc_block *from,
                            unsigned exit_index)
{
    for (struct tc_link **pp = &to->incoming; *pp; pp = &(*pp)->next) {
        if ((*pp)->from == from && (*pp)->exit_index == exit_index) {
            struct tc_link *gone = *pp;
            *pp = gone->next;
            link_release(tc, gone);
            return;
        }
    }
}

/* Takes a logged link off its scope list and page lists and frees it. */
static void unlist_link(struct tcache *tc, struct logged_link *l)
{
    if (l->group) {
        struct link_group *g = l->group;
        g->entries[l->group_index] = g->entries[--g->count];
        g->entries[l->group_index].link->group_index = l->group_index;
    }
    *l->scope_pprev = l->scope_next;
    if (l->scope_next)
        l->scope_next->scope_pprev = l->scope_pprev;
    for (unsigned i = 0; i < 2; i++) {
        if (!l->page_pprev[i])
            continue;
        uint32_t bucket = l->pages[i] & (PAGE_BUCKETS - 1);
        *l->page_pprev[i] = l->page_next[i];
        if (l->page_next[i])
            l->page_next[i]->page_pprev[page_slot(l->page_next[i], bucket)] = l->page_pprev[i];
    }
    logged_release(tc, l);
}

/* Undoes one logged link if it still stands, and forgets it. */
static void undo_link(struct tcache *tc, struct logged_link *l)
{
    struct tc_block *from = l->from, *to = l->to;
    uint8_t exit_index = l->exit_index;

    unlist_link(tc, l);
    /* A dropped block's links were undone with it (drop_block clears the
     * exits and the inline cache), so the checks below find nothing. */
    if (exit_index == TC_LINK_IC) {
        if (from->ic_target != to)
            return;
        from->ic_target = NULL;
        from->ic_unlinked = false;
        ic_set_site(tc, from, false);
    } else {
        struct tc_exit *exit = &from->exits[exit_index];
        if (exit->chained != to)
            return;
        patch_exit(tc, from, exit_index, from->code + exit->stub);
        exit->chained = NULL;
        exit->unlinked = false;
    }
    remove_incoming(tc, to, from, exit_index);
    tc->stats.links_dropped++;
}

void tcache_drop_links(struct tcache *tc)
{
    while (tc->straddle_links)
        undo_link(tc, tc->straddle_links);
    while (tc->local_links)
        undo_link(tc, tc->local_links);
    while (tc->global_links)
        undo_link(tc, tc->global_links);
}

/* Takes an empty group out of its bucket and the array, and frees it. */
static void group_free(struct tcache *tc, struct link_group *g)
{
    struct link_group **pp = group_slot(tc, g->page, g->frame);

    if (g->suspended)
        tc->nsuspended--;
    while (*pp != g)
        pp = &(*pp)->next;
    *pp = g->next;
    tc->all_groups[g->index] = tc->all_groups[--tc->ngroups];
    tc->all_groups[g->index]->index = g->index;
    free(g->entries);
    free(g);
}

void tcache_recheck_local_links(struct tcache *tc, tcache_page_check still_maps, void *ctx)
{
    while (tc->straddle_links)
        undo_link(tc, tc->straddle_links);
    for (uint32_t i = 0; i < tc->ngroups;) {
        struct link_group *g = tc->all_groups[i];
        if (!g->count) {
            group_free(tc, g); /* the last group takes index i */
            continue;
        }
        bool maps = still_maps(ctx, g->page, g->frame, g->mode_key);
        if (maps == g->suspended)
            group_set_suspended(tc, g, !maps);
        i++;
    }
}

void tcache_relink_into(struct tcache *tc, const struct tc_block *b)
{
    if (!tc->nsuspended)
        return;
    struct link_group *g = group_of(tc, b, false);

    if (g && g->suspended)
        group_set_suspended(tc, g, false);
}

void tcache_drop_links_to_page(struct tcache *tc, guest_linear_t page)
{
    uint32_t number = page >> 12, bucket = number & (PAGE_BUCKETS - 1);
    struct logged_link *l = tc->page_links[bucket];

    while (l) {
        struct logged_link *next = l->page_next[page_slot(l, bucket)];
        if (l->pages[0] == number || l->pages[1] == number)
            undo_link(tc, l);
        l = next;
    }
}

const struct tcache_stats *tcache_stats(const struct tcache *tc)
{
    return &tc->stats;
}

struct tcache_stats *tcache_stats_mut(struct tcache *tc)
{
    return &tc->stats;
}
