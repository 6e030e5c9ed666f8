/*
 * tests/test_tcache.c — the translation cache (cache/tcache.c, code_arena.c):
 * the block map, host-address lookup, instruction metadata, chaining and
 * unchaining, invalidation and flush.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "cache/code_arena.h"
#include "cache/tcache.h"

/* A fake translated block: `ninsns` one-byte guest instructions, 8 host
 * bytes each, and one direct exit whose rel32 sits at host offset 1. */
static struct translated_block make_block(guest_linear_t eip, unsigned ninsns,
                                          guest_linear_t target, uint8_t *code)
{
    struct translated_block tb;

    memset(&tb, 0, sizeof(tb));
    tb.eip = eip;
    tb.phys = eip; /* identity, as with paging off */
    tb.phys_last_frame = (eip + ninsns - 1) >> 12;
    tb.ninsns = ninsns;
    tb.guest_size = ninsns;
    for (unsigned i = 0; i < ninsns; i++) {
        tb.insns[i].eip = eip + i;
        tb.insns[i].host_offset = 8 * i;
        tb.insns[i].length = 1;
    }
    tb.code_size = 8 * ninsns + 16;
    memset(code, 0xCC, tb.code_size);
    code[0] = 0xE9; /* jmp rel32 at offset 1 */
    tb.nexits = 1;
    tb.exits[0].target = target;
    tb.exits[0].jump_rel32 = 1;
    tb.exits[0].stub = 8 * ninsns;
    return tb;
}

static int32_t rel32_at(const uint8_t *exec_site)
{
    int32_t rel;

    memcpy(&rel, exec_site, 4);
    return rel;
}

static void test_lookup_by_eip_and_mode(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block tb = make_block(0x1000, 3, 0x2000, code);

    assert_null(tcache_lookup(tc, 0x1000, 0x1000, 0));
    struct tc_block *a = tcache_insert(tc, &tb, code, 0);
    struct tc_block *b = tcache_insert(tc, &tb, code, 3); /* same EIP, CPL 3 */
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_equal(tcache_lookup(tc, 0x1000, 0x1000, 0), a);
    assert_ptr_equal(tcache_lookup(tc, 0x1000, 0x1000, 3), b);
    assert_null(tcache_lookup(tc, 0x1001, 0x1001, 0));
    assert_null(tcache_lookup(tc, 0x1000, 0x1000, 1));
    /* The code was copied into the arena. */
    assert_memory_equal(a->code, code, tb.code_size);

    const struct tcache_stats *st = tcache_stats(tc);
    assert_int_equal(st->blocks_translated, 2);
    assert_int_equal(st->guest_insns_translated, 6);
    assert_int_equal(st->lookups, 5);
    assert_int_equal(st->hits, 2);
    assert_int_equal(st->misses, 3);
    tcache_destroy(tc);
}

static void test_many_blocks_and_collisions(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(8 << 20, &err);
    uint8_t code[256];

    /* More blocks than hash buckets: chains must hold them all. */
    for (guest_linear_t eip = 0; eip < 100000; eip++) {
        struct translated_block tb = make_block(eip * 16, 1, 0, code);
        assert_non_null(tcache_insert(tc, &tb, code, eip & 1));
    }
    for (guest_linear_t eip = 0; eip < 100000; eip += 997) {
        struct tc_block *b = tcache_lookup(tc, eip * 16, eip * 16, eip & 1);
        assert_non_null(b);
        assert_int_equal(b->eip, eip * 16);
        assert_null(tcache_lookup(tc, eip * 16, eip * 16, (eip & 1) ^ 1));
    }
    tcache_destroy(tc);
}

/* The table of recent lookups in front of the hash: a dropped block is
 * never returned from it, and blocks whose keys share a slot are both
 * still found. */
static void test_recent_lookups_follow_invalidation(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block tb = make_block(0x1000, 2, 0, code);
    struct tc_block *a = tcache_insert(tc, &tb, code, 0);

    assert_ptr_equal(tcache_lookup(tc, 0x1000, 0x1000, 0), a);
    assert_ptr_equal(tcache_lookup(tc, 0x1000, 0x1000, 0), a);
    /* Same eip and key, another frame (another address space's page). */
    assert_null(tcache_lookup(tc, 0x1000, 0x7000, 0));
    tcache_invalidate_block(tc, a);
    assert_null(tcache_lookup(tc, 0x1000, 0x1000, 0));
    struct tc_block *again = tcache_insert(tc, &tb, code, 0);
    assert_ptr_equal(tcache_lookup(tc, 0x1000, 0x1000, 0), again);
    /* 64 KiB apart: the same slot of a 16384-entry table indexed by
     * eip ^ eip >> 14; both stay reachable through the hash. */
    struct translated_block far = make_block(0x11000 ^ 0x4, 2, 0, code);
    struct tc_block *b = tcache_insert(tc, &far, code, 0);
    for (int i = 0; i < 3; i++) {
        assert_ptr_equal(tcache_lookup(tc, 0x1000, 0x1000, 0), again);
        assert_ptr_equal(tcache_lookup(tc, 0x11004, 0x11004, 0), b);
    }
    tcache_flush(tc);
    assert_null(tcache_lookup(tc, 0x1000, 0x1000, 0));
    assert_null(tcache_lookup(tc, 0x11004, 0x11004, 0));
    tcache_destroy(tc);
}

/* Host address to block over many arena pages: blocks of every size, some
 * larger than a page, some pages with no block starting in them; every
 * byte of every block finds it, the alignment gaps between them nothing. */
static void test_block_at_across_arena_pages(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 22, &err);
    static uint8_t code[8 * TRANSLATE_MAX_INSNS + 16];
    struct tc_block *blocks[600];
    uint32_t seed = 12345;

    assert_null(tcache_block_at(tc, code));
    for (unsigned i = 0; i < 600; i++) {
        seed = seed * 1103515245u + 12345u;
        unsigned ninsns = i % 50 == 49 ? TRANSLATE_MAX_INSNS : 1 + (seed >> 16) % 40;
        struct translated_block tb = make_block(0x100000 + i * 0x100, ninsns, 0, code);
        blocks[i] = tcache_insert(tc, &tb, code, 0);
        assert_non_null(blocks[i]);
    }
    for (unsigned i = 0; i < 600; i++) {
        const struct tc_block *b = blocks[i];
        for (uint32_t off = 0; off < b->code_size; off += 7)
            assert_ptr_equal(tcache_block_at(tc, b->code + off), b);
        assert_ptr_equal(tcache_block_at(tc, b->code + b->code_size - 1), b);
        const uint8_t *after = b->code + b->code_size;
        if (i + 1 < 600 && after < blocks[i + 1]->code)
            assert_null(tcache_block_at(tc, after)); /* the gap before the next */
    }
    const struct tc_block *last = blocks[599];
    const uint8_t *last_code = last->code;
    assert_null(tcache_block_at(tc, last_code + last->code_size + 8192));
    tcache_flush(tc); /* frees the blocks */
    assert_null(tcache_block_at(tc, last_code));
    tcache_destroy(tc);
}

static void test_host_address_to_guest_instruction(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block t1 = make_block(0x1000, 4, 0, code);
    struct tc_block *b1 = tcache_insert(tc, &t1, code, 0);
    struct translated_block t2 = make_block(0x5000, 2, 0, code);
    struct tc_block *b2 = tcache_insert(tc, &t2, code, 0);

    assert_ptr_equal(tcache_block_at(tc, b1->code), b1);
    assert_ptr_equal(tcache_block_at(tc, b1->code + b1->code_size - 1), b1);
    assert_ptr_equal(tcache_block_at(tc, b2->code + 3), b2);
    assert_null(tcache_block_at(tc, b2->code + b2->code_size + 64));
    assert_null(tcache_block_at(tc, code));

    assert_int_equal(tcache_insn_at(b1, b1->code + 0)->eip, 0x1000);
    assert_int_equal(tcache_insn_at(b1, b1->code + 7)->eip, 0x1000);
    assert_int_equal(tcache_insn_at(b1, b1->code + 8)->eip, 0x1001);
    assert_int_equal(tcache_insn_at(b1, b1->code + 31)->eip, 0x1003);
    assert_int_equal(tcache_insn_at(b2, b2->code + 9)->eip, 0x5001);
    tcache_destroy(tc);
}

static void test_chain_unchain_invalidate(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block ta = make_block(0x1000, 2, 0x2000, code);
    struct tc_block *a = tcache_insert(tc, &ta, code, 0);
    struct translated_block tb = make_block(0x2000, 2, 0x1000, code);
    struct tc_block *b = tcache_insert(tc, &tb, code, 0);
    const uint8_t *site = a->code + 1;

    /* Only the matching target/mode can be chained, and only once. */
    struct translated_block tc_other = make_block(0x3000, 1, 0, code);
    struct tc_block *other = tcache_insert(tc, &tc_other, code, 0);
    assert_false(tcache_chain_site(tc, site, other, true));
    assert_false(tcache_chain_site(tc, code, b, true)); /* not an arena address */
    assert_true(tcache_chain_site(tc, site, b, true));
    assert_int_equal(rel32_at(site), (int32_t)(b->code - (site + 4)));
    assert_true(tcache_chain_site(tc, b->code + 1, a, true));
    assert_int_equal(rel32_at(b->code + 1), (int32_t)(a->code - (b->code + 5)));

    /* Unlinking for an event points the jump at the stub; chaining the
     * same exit again restores it without a second link record. */
    tcache_unlink_block_async(tc, a);
    assert_true(a->exits[0].unlinked);
    assert_int_equal(rel32_at(site), (int32_t)(a->code + a->exits[0].stub - (site + 4)));
    assert_true(tcache_chain_site(tc, site, b, true));
    assert_false(a->exits[0].unlinked);
    assert_int_equal(rel32_at(site), (int32_t)(b->code - (site + 4)));
    assert_null(b->incoming->next);
    assert_ptr_equal(a->exits[0].chained, b);
    assert_false(tcache_chain_site(tc, site, b, true));

    /* Invalidating b's frame points a's jump back at a's stub. */
    tcache_invalidate_frame(tc, 0x2);
    assert_false(b->valid);
    assert_null(tcache_lookup(tc, 0x2000, 0x2000, 0));
    assert_null(a->exits[0].chained);
    assert_int_equal(rel32_at(site), (int32_t)(a->code + a->exits[0].stub - (site + 4)));
    assert_true(a->valid);
    assert_int_equal(tcache_stats(tc)->unchains, 1);
    assert_false(b->exits[0].chained); /* b's own chains go with it */
    /* Another frame leaves a alone; its own frame drops it. */
    tcache_invalidate_frame(tc, 0x0);
    assert_true(a->valid);
    tcache_invalidate_frame(tc, 0x1);
    assert_false(a->valid);

    /* A block straddling two pages goes with either frame. */
    struct translated_block tz = make_block(0x2FFE, 4, 0, code);
    struct tc_block *z = tcache_insert(tc, &tz, code, 0);
    assert_true(tc_block_straddles(z));
    tcache_invalidate_frame(tc, 0x3);
    assert_false(z->valid);
    tcache_destroy(tc);
}

/* Putting one instruction back in place drops only the blocks that hold
 * it — including a block whose last instruction it is (a callout there is
 * not counted in guest_size) — not the rest of its page. */
static void test_invalidate_containing(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block t1 = make_block(0x1000, 4, 0, code); /* 0x1000-0x1003 */
    struct translated_block t2 = make_block(0x1002, 2, 0, code); /* 0x1002-0x1003 */
    struct translated_block t3 = make_block(0x1100, 2, 0, code);
    struct translated_block t4 = make_block(0x1200, 2, 0, code);

    t4.guest_size = 1; /* its second instruction, 0x1201, is a callout */
    struct tc_block *a = tcache_insert(tc, &t1, code, 0);
    struct tc_block *b = tcache_insert(tc, &t2, code, 0);
    struct tc_block *c = tcache_insert(tc, &t3, code, 0);
    struct tc_block *d = tcache_insert(tc, &t4, code, 0);
    tcache_invalidate_containing(tc, 0x1, 0x1003);
    assert_false(a->valid);
    assert_false(b->valid);
    assert_true(c->valid);
    tcache_invalidate_containing(tc, 0x1, 0x1201);
    assert_false(d->valid);
    assert_true(c->valid);
    tcache_invalidate_containing(tc, 0x2, 0x1100); /* another frame: nothing */
    assert_true(c->valid);
    tcache_destroy(tc);
}

/* A store drops the blocks whose bytes it overlaps (a trailing callout
 * counted), including a block straddling in from the previous frame, and
 * says how many the frame still holds. */
static void test_invalidate_phys_range(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block t1 = make_block(0x1100, 4, 0, code); /* 0x1100.. */
    struct translated_block t2 = make_block(0x1800, 4, 0, code); /* 0x1800.. */
    struct translated_block t3 = make_block(0x0FFE, 4, 0, code); /* into 0x1000-0x1001 */
    struct tc_block *a = tcache_insert(tc, &t1, code, 0);
    struct tc_block *b = tcache_insert(tc, &t2, code, 0);
    struct tc_block *c = tcache_insert(tc, &t3, code, 0);

    assert_int_equal(tcache_invalidate_phys_range(tc, 0x1400, 16), 3); /* data between */
    assert_true(a->valid && b->valid && c->valid);
    assert_int_equal(tcache_invalidate_phys_range(tc, 0x1106, 2), 2); /* a's callout bytes */
    assert_false(a->valid);
    assert_int_equal(tcache_invalidate_phys_range(tc, 0x1000, 1), 1); /* c's tail */
    assert_false(c->valid);
    assert_true(b->valid);
    assert_int_equal(tcache_invalidate_phys_range(tc, 0x17F0, 0x20), 0);
    assert_false(b->valid);
    tcache_destroy(tc);
}

/* The same linear address in two address spaces: two blocks, told apart by
 * their physical address. */
static void test_lookup_by_physical_address(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block t1 = make_block(0x08048000, 2, 0, code);
    struct translated_block t2 = make_block(0x08048000, 2, 0, code);

    t1.phys = 0x00500000;
    t1.phys_last_frame = 0x500;
    t2.phys = 0x00777000;
    t2.phys_last_frame = 0x777;
    struct tc_block *a = tcache_insert(tc, &t1, code, 3);
    struct tc_block *b = tcache_insert(tc, &t2, code, 3);
    assert_ptr_equal(tcache_lookup(tc, 0x08048000, 0x00500000, 3), a);
    assert_ptr_equal(tcache_lookup(tc, 0x08048000, 0x00777000, 3), b);
    assert_null(tcache_lookup(tc, 0x08048000, 0x00600000, 3));
    /* A write to one frame (through any alias) drops only its block. */
    tcache_invalidate_frame(tc, 0x777);
    assert_true(a->valid);
    assert_false(b->valid);
    tcache_destroy(tc);
}

/* Links that depend on a mapping are undone as a TLB flush would: local
 * ones by a CR3 load, global ones only by a global flush or an INVLPG of
 * their target's page; links within the source's own page stay. */
/* What the fake address space maps: frame + 1 per page number (0: none). */
static uint32_t mapped_frame[16];

static bool fake_page_maps(void *ctx, uint32_t page, uint32_t frame, uint32_t mode_key)
{
    (void)ctx;
    (void)mode_key;
    return page < 16 && mapped_frame[page] == frame + 1;
}

static bool jumps_to(const struct tc_block *from, const void *target)
{
    return rel32_at(from->code + 1) == (int32_t)((const uint8_t *)target - (from->code + 5));
}

static void test_link_scopes(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block ta = make_block(0x1000, 2, 0x5000, code);
    struct tc_block *a = tcache_insert(tc, &ta, code, 0);
    struct translated_block tb = make_block(0x5000, 2, 0x5100, code);
    struct tc_block *b = tcache_insert(tc, &tb, code, 0);
    struct translated_block tc2 = make_block(0x5100, 2, 0x9000, code);
    struct tc_block *c = tcache_insert(tc, &tc2, code, 0);
    struct translated_block td = make_block(0x9000, 2, 0x1000, code);
    struct tc_block *d = tcache_insert(tc, &td, code, 0);

    assert_true(tcache_chain_site(tc, a->code + 1, b, false)); /* other page, local */
    assert_true(tcache_chain_site(tc, b->code + 1, c, false)); /* same page */
    assert_true(tcache_chain_site(tc, c->code + 1, d, true));  /* other page, global */

    /* A CR3 load into a space that maps none of it: the local link is
     * suspended (its record kept), the others stay. */
    memset(mapped_frame, 0, sizeof(mapped_frame));
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    assert_ptr_equal(a->exits[0].chained, b);
    assert_true(jumps_to(a, a->code + a->exits[0].stub));
    assert_non_null(b->incoming);
    assert_true(jumps_to(b, c->code));
    assert_true(jumps_to(c, d->code));
    assert_int_equal(tcache_stats(tc)->links_suspended, 1);

    /* INVLPG of b's page undoes the suspended link; the global one stays
     * until INVLPG of d's page. */
    tcache_drop_links_to_page(tc, 0x5000);
    assert_null(a->exits[0].chained);
    assert_null(b->incoming); /* the link record went too */
    assert_int_equal(tcache_stats(tc)->links_dropped, 1);
    assert_ptr_equal(c->exits[0].chained, d);
    tcache_drop_links_to_page(tc, 0x9000);
    assert_null(c->exits[0].chained);
    assert_ptr_equal(b->exits[0].chained, c);

    /* Relinked, a global flush takes it again; the same-page link stays. */
    assert_true(tcache_chain_site(tc, c->code + 1, d, true));
    tcache_drop_links(tc);
    assert_null(c->exits[0].chained);
    assert_ptr_equal(b->exits[0].chained, c);
    tcache_destroy(tc);
}

/* The link index: pages sharing a hash bucket are told apart, a target
 * straddling two pages is found from either, and a link undone by an
 * INVLPG is gone from its scope list too (a CR3 load after it undoes
 * nothing twice). */
static void test_link_index(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    const guest_linear_t far = 0x5000 + 4096u * 4096u; /* same bucket as 0x5000 */
    struct translated_block t1 = make_block(0x1000, 2, 0x5000, code);
    struct tc_block *s1 = tcache_insert(tc, &t1, code, 0);
    struct translated_block t2 = make_block(0x2000, 2, far, code);
    struct tc_block *s2 = tcache_insert(tc, &t2, code, 0);
    struct translated_block t3 = make_block(0x3000, 2, 0x7FFE, code);
    struct tc_block *s3 = tcache_insert(tc, &t3, code, 0);
    struct translated_block tn = make_block(0x5000, 2, 0, code);
    struct tc_block *near_target = tcache_insert(tc, &tn, code, 0);
    struct translated_block tf = make_block(far, 2, 0, code);
    struct tc_block *far_target = tcache_insert(tc, &tf, code, 0);
    struct translated_block ts = make_block(0x7FFE, 4, 0, code);
    struct tc_block *straddler = tcache_insert(tc, &ts, code, 0);

    assert_true(tcache_chain_site(tc, s1->code + 1, near_target, true));
    assert_true(tcache_chain_site(tc, s2->code + 1, far_target, false));
    assert_true(tcache_chain_site(tc, s3->code + 1, straddler, true));

    tcache_drop_links_to_page(tc, far);
    assert_null(s2->exits[0].chained);
    assert_ptr_equal(s1->exits[0].chained, near_target);
    memset(mapped_frame, 0, sizeof(mapped_frame));
    tcache_recheck_local_links(tc, fake_page_maps, NULL); /* the local link is already gone */
    assert_int_equal(tcache_stats(tc)->links_dropped, 1);
    assert_int_equal(tcache_stats(tc)->links_suspended, 0);
    assert_ptr_equal(s1->exits[0].chained, near_target);

    tcache_drop_links_to_page(tc, 0x8000); /* the straddler's second page */
    assert_null(s3->exits[0].chained);
    assert_ptr_equal(s1->exits[0].chained, near_target);
    tcache_drop_links_to_page(tc, 0x5000);
    assert_null(s1->exits[0].chained);
    assert_int_equal(tcache_stats(tc)->links_dropped, 3);

    /* Relinked many times over: the lists stay consistent. */
    for (int i = 0; i < 100; i++) {
        assert_true(tcache_chain_site(tc, s1->code + 1, near_target, i & 1));
        assert_true(tcache_chain_site(tc, s3->code + 1, straddler, false));
        if (i % 3 == 0)
            tcache_drop_links_to_page(tc, 0x7000);
        if (i % 2 == 0)
            tcache_drop_links(tc);
        else
            tcache_recheck_local_links(tc, fake_page_maps, NULL);
        tcache_drop_links_to_page(tc, 0x5000);
        assert_null(s1->exits[0].chained);
        assert_null(s3->exits[0].chained);
    }
    tcache_destroy(tc);
}

/* A block at `eip` with an indirect exit at offset 8: site (5 bytes), lea
 * disp at 16, hit jump rel32 at 24, fill stub at 32. */
static struct tc_block *insert_ic_block(struct tcache *tc, guest_linear_t eip)
{
    uint8_t code[256];
    struct translated_block t = make_block(eip, 4, 0, code);

    t.has_ic = true;
    t.ic = (struct translated_ic){.site = 8, .disp = 16, .hit_rel32 = 24, .fill_stub = 32};
    code[8] = 0xE9;
    return tcache_insert(tc, &t, code, 0);
}

static void test_inline_cache(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct tc_block *a = insert_ic_block(tc, 0x1000);
    struct translated_block tb = make_block(0x7000, 1, 0, code);
    struct tc_block *b = tcache_insert(tc, &tb, code, 0);
    static const uint8_t nop5[5] = {0x0F, 0x1F, 0x44, 0x00, 0x00};

    assert_true(tcache_chain_site(tc, a->code + 8, b, false));
    assert_memory_equal(a->code + 8, nop5, 5);                  /* falls into the compare now */
    assert_int_equal(rel32_at(a->code + 16), (int32_t)-0x7000); /* lea ecx, [r14 - 0x7000] */
    assert_int_equal(rel32_at(a->code + 24), (int32_t)(b->code - (a->code + 28)));
    assert_ptr_equal(a->ic_target, b);
    assert_int_equal(tcache_stats(tc)->ic_fills, 1);

    /* An event unlinks it (the site jumps to the fill stub again)... */
    tcache_unlink_block_async(tc, a);
    assert_int_equal(a->code[8], 0xE9);
    assert_int_equal(rel32_at(a->code + 9), 32 - 13);
    /* ...and the next fill restores it, keeping the cached target. */
    assert_true(tcache_chain_site(tc, a->code + 8, b, true));
    assert_memory_equal(a->code + 8, nop5, 5);
    assert_int_equal(tcache_stats(tc)->ic_fills, 1);

    /* A CR3 load into a space where b's page maps nothing suspends a
     * local cache (the site jumps to the fill stub, the target is kept);
     * a fill in that space replaces it... */
    memset(mapped_frame, 0, sizeof(mapped_frame));
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    assert_ptr_equal(a->ic_target, b);
    assert_int_equal(a->code[8], 0xE9);
    assert_true(tcache_chain_site(tc, a->code + 8, b, true));
    assert_ptr_equal(a->ic_target, b);
    assert_memory_equal(a->code + 8, nop5, 5);
    assert_int_equal(tcache_stats(tc)->ic_fills, 2);

    /* ...and dropping the target empties it too. */
    tcache_invalidate_frame(tc, 0x7);
    assert_null(a->ic_target);
    assert_int_equal(a->code[8], 0xE9);
    tcache_destroy(tc);
}

/* A CR3 load's recheck: local links whose target page maps another frame
 * (or none) are suspended and come back when it maps theirs again, at a
 * later recheck or when the monitor enters a block of the page; a link
 * into a block straddling two pages is undone; a suspended link gives way
 * to a link into the block the page maps now; records of dropped blocks
 * go with them. */
static void test_links_suspended_and_restored(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    static const uint8_t nop5[5] = {0x0F, 0x1F, 0x44, 0x00, 0x00};
    struct translated_block ta = make_block(0x1000, 2, 0x5000, code);
    struct tc_block *a = tcache_insert(tc, &ta, code, 0);
    struct tc_block *ic = insert_ic_block(tc, 0x2000);
    struct translated_block tb = make_block(0x5000, 2, 0, code);
    struct tc_block *b = tcache_insert(tc, &tb, code, 0);
    struct translated_block tb2 = make_block(0x5000, 2, 0, code);
    tb2.phys = 0x9000; /* the same page in another space */
    tb2.phys_last_frame = 9;
    struct tc_block *b2 = tcache_insert(tc, &tb2, code, 0);
    struct translated_block tc3 = make_block(0x3000, 2, 0x7FFE, code);
    struct tc_block *c = tcache_insert(tc, &tc3, code, 0);
    struct translated_block ts = make_block(0x7FFE, 4, 0, code);
    struct tc_block *straddler = tcache_insert(tc, &ts, code, 0);

    memset(mapped_frame, 0, sizeof(mapped_frame));
    mapped_frame[5] = 5 + 1;
    mapped_frame[7] = 7 + 1;
    mapped_frame[8] = 8 + 1;
    assert_true(tcache_chain_site(tc, a->code + 1, b, false));
    assert_true(tcache_chain_site(tc, ic->code + 8, b, false));
    assert_true(tcache_chain_site(tc, c->code + 1, straddler, false));

    /* Everything still maps: only the straddler's link goes. */
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    assert_true(jumps_to(a, b->code));
    assert_memory_equal(ic->code + 8, nop5, 5);
    assert_null(c->exits[0].chained);
    assert_int_equal(tcache_stats(tc)->links_dropped, 1);
    assert_int_equal(tcache_stats(tc)->links_suspended, 0);

    /* b's page unmapped: both links point at their stubs, records kept. */
    mapped_frame[5] = 0;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    assert_true(jumps_to(a, a->code + a->exits[0].stub));
    assert_ptr_equal(a->exits[0].chained, b);
    assert_int_equal(ic->code[8], 0xE9);
    assert_int_equal(rel32_at(ic->code + 9), 32 - 13);
    assert_ptr_equal(ic->ic_target, b);
    assert_int_equal(tcache_stats(tc)->links_suspended, 2);

    /* Mapped again: restored by the next recheck... */
    mapped_frame[5] = 5 + 1;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    assert_true(jumps_to(a, b->code));
    assert_memory_equal(ic->code + 8, nop5, 5);
    assert_int_equal(tcache_stats(tc)->links_restored, 2);
    /* ...or by entering a block of the page. */
    mapped_frame[5] = 0;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    tcache_relink_into(tc, b2); /* another frame: nothing */
    assert_true(jumps_to(a, a->code + a->exits[0].stub));
    tcache_relink_into(tc, b);
    assert_true(jumps_to(a, b->code));
    assert_int_equal(tcache_stats(tc)->links_restored, 4);

    /* An event unlinks a restored link although its flag may say so. */
    tcache_unlink_block_async(tc, a);
    assert_true(jumps_to(a, a->code + a->exits[0].stub));
    assert_true(tcache_chain_site(tc, a->code + 1, b, false));
    assert_true(jumps_to(a, b->code));

    /* The page maps frame 9 in the next space: the suspended links give
     * way to links into b2. */
    mapped_frame[5] = 9 + 1;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    uint64_t dropped = tcache_stats(tc)->links_dropped;
    assert_true(tcache_chain_site(tc, a->code + 1, b2, false));
    assert_ptr_equal(a->exits[0].chained, b2);
    assert_true(jumps_to(a, b2->code));
    assert_true(tcache_chain_site(tc, ic->code + 8, b2, false));
    assert_ptr_equal(ic->ic_target, b2);
    assert_int_equal(rel32_at(ic->code + 24), (int32_t)(b2->code - (ic->code + 28)));
    assert_int_equal(tcache_stats(tc)->links_dropped, dropped + 2);
    assert_null(b->incoming);

    /* b2 dropped while its links are suspended: their records go, and no
     * later recheck writes into a or ic for them. */
    mapped_frame[5] = 0;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    tcache_invalidate_frame(tc, 9);
    assert_null(a->exits[0].chained);
    assert_null(ic->ic_target);
    uint64_t restored = tcache_stats(tc)->links_restored;
    mapped_frame[5] = 9 + 1;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    assert_int_equal(tcache_stats(tc)->links_restored, restored);
    assert_true(jumps_to(a, a->code + a->exits[0].stub));
    assert_int_equal(ic->code[8], 0xE9);

    /* The source dropped while suspended: the same. */
    mapped_frame[5] = 5 + 1;
    assert_true(tcache_chain_site(tc, a->code + 1, b, false));
    mapped_frame[5] = 0;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    tcache_invalidate_frame(tc, 1);
    restored = tcache_stats(tc)->links_restored;
    mapped_frame[5] = 5 + 1;
    tcache_recheck_local_links(tc, fake_page_maps, NULL);
    tcache_relink_into(tc, b);
    assert_int_equal(tcache_stats(tc)->links_restored, restored);
    tcache_destroy(tc);
}

static int drops, flush_drops;
static void count_drops(void *ctx, const struct tc_block *b)
{
    if (b)
        drops++;
    else
        flush_drops++;
}

static void test_flush_and_drop_hook(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(1 << 20, &err);
    uint8_t code[256];
    struct translated_block t = make_block(0x1000, 1, 0, code);

    tcache_set_drop_hook(tc, count_drops, NULL);
    assert_non_null(tcache_insert(tc, &t, code, 0));
    tcache_invalidate_frame(tc, 0x1);
    assert_int_equal(drops, 1);
    assert_non_null(tcache_insert(tc, &t, code, 0));
    tcache_flush(tc);
    assert_int_equal(flush_drops, 1);
    assert_null(tcache_lookup(tc, 0x1000, 0x1000, 0));
    assert_int_equal(tcache_stats(tc)->flushes, 1);
    tcache_set_drop_hook(tc, NULL, NULL);
    tcache_destroy(tc);
}

static void test_arena_full(void **state)
{
    struct popek_error err;
    struct tcache *tc = tcache_create(4096, &err);
    uint8_t code[256];
    struct translated_block t = make_block(0x1000, 8, 0, code); /* 80 bytes */
    unsigned inserted = 0;

    while (tcache_insert(tc, &t, code, inserted))
        inserted++;
    assert_int_equal(inserted, 4096 / 80);
    tcache_flush(tc);
    assert_non_null(tcache_insert(tc, &t, code, 0));
    tcache_destroy(tc);
}

static void test_arena_is_w_xor_x(void **state)
{
    struct popek_error err;
    struct code_arena *a = code_arena_create(1 << 16, &err);
    uint8_t *w = code_arena_alloc(a, 16);
    uint8_t *x = code_arena_exec_ptr(a, w);

    assert_ptr_not_equal(w, x);
    assert_true(code_arena_contains(a, x));
    assert_false(code_arena_contains(a, w));
    assert_ptr_equal(code_arena_write_ptr(a, x), w);
    w[0] = 0xC3;                  /* ret, written through the RW alias... */
    assert_int_equal(x[0], 0xC3); /* ...seen through the RX alias */
    ((void (*)(void))x)();        /* and executable there */
    assert_int_equal((uintptr_t)code_arena_alloc(a, 1) % 16, 0);
    code_arena_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup_by_eip_and_mode),
        cmocka_unit_test(test_many_blocks_and_collisions),
        cmocka_unit_test(test_recent_lookups_follow_invalidation),
        cmocka_unit_test(test_host_address_to_guest_instruction),
        cmocka_unit_test(test_block_at_across_arena_pages),
        cmocka_unit_test(test_chain_unchain_invalidate),
        cmocka_unit_test(test_lookup_by_physical_address),
        cmocka_unit_test(test_link_scopes),
        cmocka_unit_test(test_link_index),
        cmocka_unit_test(test_invalidate_containing),
        cmocka_unit_test(test_invalidate_phys_range),
        cmocka_unit_test(test_inline_cache),
        cmocka_unit_test(test_links_suspended_and_restored),
        cmocka_unit_test(test_flush_and_drop_hook),
        cmocka_unit_test(test_arena_full),
        cmocka_unit_test(test_arena_is_w_xor_x),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
