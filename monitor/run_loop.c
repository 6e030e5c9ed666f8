/*
 * monitor/run_loop.c — the monitor's dispatch loop (run_loop.h).
 *
 * Guest memory is reached three ways: translated code through the current
 * view (the shadow MMU fills it on demand), the translator's fetches and
 * emul/'s accesses through a software walk of the guest's page tables
 * (shadow_translate) and the monitor's own mapping of RAM. Physical
 * addresses that are not RAM go to the MMIO bus (where nothing claims them
 * they read as all ones and ignore writes, as on a PC bus).
 */
#include "monitor/run_loop.h"
#include "monitor/perf_map.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <x86intrin.h>

#include "common/log.h"
#include "devices/platform.h"
#include "emul/emul.h"
#include "monitor/adaptive.h"
#include "monitor/signals.h"
#include "monitor/trampoline.h"
#include "shadowpt/view.h"
#include "translator/trace.h"

#define CODE_BUFFER_BYTES (64 * 1024)
#define BOUNCE_BYTES      4096
#define IBL_PAGE_BUCKETS  4096
#define DECODED_ENTRIES   64
#define CODE_PAGE_PROBES  256
#define MODE_KEY_BOUNCE   0x80000000u /* blocks re-executing one access against the buffer */
#define MODE_KEY_SINGLE   0x40000000u /* one-instruction blocks (the STI/MOV SS shadow) */
#define MAX_FILL_RETRIES  8           /* host faults in a row at one EIP before emulating */

/* The decoded instruction of a callout, kept for the translated code that
 * hands it over (translate_config.alloc_decoded) until the cache is
 * flushed. */
struct kept_decode {
    struct kept_decode *next;
    struct emul_decoded_insn d;
};

struct loop {
    const struct run_env *env;
    bool reset_requested;              /* a triple fault without -no-reboot */
    bool devices_due;                  /* port I/O or a device-memory write: service devices */
    guest_linear_t last_stale_callout; /* see handle_callout */
    const char *unsupported_mode;      /* set when the guest entered a mode popek lacks */
    /* A host fault answered by a fill that comes straight back for the same
     * access means the fill cannot help (see handle_host_fault). */
    guest_linear_t retry_eip;
    int64_t retry_linear;
    unsigned retries;
    /* The instruction that took the last guest #PF from translated code:
     * when it is about to run again, its page is mapped first (a demand
     * fault then costs one host fault instead of two or three). */
    struct pending_refault {
        bool valid, write;
        uint16_t cs;
        guest_linear_t eip, linear;
    } refault;
    struct run_stats *stats;
    struct emul_env emul;
    struct adaptive_set adaptive;
    /* decode_at_eip's recent answers, by EIP: the instructions a loop
     * emulates in turn (a PTE store, INVLPG, the accesses after it). */
    struct emul_decoded_insn decoded[DECODED_ENTRIES];
    guest_linear_t decoded_eip[DECODED_ENTRIES];
    /* The last answer, good without a fetch while nothing could have
     * changed the bytes or their mapping: until the guest runs again or
     * the monitor writes memory, a control register or INVLPG
     * (code_epoch counts those). */
    const struct emul_decoded_insn *memo;
    guest_linear_t memo_eip;
    bool memo_user;
    uint64_t memo_epoch, code_epoch;
    /* Decodes of callouts: those of blocks in the cache, and those of the
     * block being translated (kept only once it is in: inserting it may
     * flush the cache, which frees the others). */
    struct kept_decode *kept, *kept_pending;
    guest_linear_t last_emulated_eip, last_emulated_page; /* see adaptive_verdict_at_eip */
    /* Indirect-branch table slots filled for targets on non-global pages:
     * a CR3 load empties those whose page no longer maps their target's
     * frame (the table is a TLB of sorts). */
    uint32_t ibl_local_slots[VCPU_IBL_ENTRIES];
    bool ibl_slot_global[VCPU_IBL_ENTRIES];    /* the entry's target page is global */
    bool ibl_slot_listed[VCPU_IBL_ENTRIES];    /* the slot is in ibl_local_slots */
    uint32_t ibl_slot_frame[VCPU_IBL_ENTRIES]; /* the frame of the entry's target block */
    /* Entries per bucket of target pages (IBL_PAGE_BUCKETS): an INVLPG of a
     * page whose bucket is empty has no entry to look for. Never below the
     * true count (entries emptied behind its back leave it higher). */
    uint32_t ibl_page_entries[IBL_PAGE_BUCKETS];
    uint32_t ibl_local_count;
    /* What a CR3 load's recheck of links found per (page, privilege):
     * entries of the current recheck have the current generation. */
    struct code_page_probe {
        uint32_t generation;
        uint32_t page_user; /* page number << 1 | user */
        bool maps;
        uint32_t frame;
    } probes[CODE_PAGE_PROBES];
    uint32_t probe_generation;
    uint8_t code[CODE_BUFFER_BYTES];
    uint8_t bounce[BOUNCE_BYTES] __attribute__((aligned(64)));
};

static struct loop *current_loop; /* the running loop, for the callbacks below */

static unsigned current_cpl(const struct vcpu *cpu)
{
    return cpu->arch.seg[SEG_CS].selector & 3u;
}

/* ---- guest memory for the translator and emul/ ---------------------------- */

static enum walk_access walk_access_of(enum emul_access access)
{
    switch (access) {
    case EMUL_ACCESS_WRITE:
    case EMUL_ACCESS_SYSTEM_WRITE:
        return WALK_WRITE;
    case EMUL_ACCESS_FETCH:
        return WALK_FETCH;
    default:
        return WALK_READ;
    }
}

/* A CPL-3 access is a user access, except the processor's own accesses to
 * descriptor tables and the TSS (SDM vol. 3, §4.6: implicit supervisor
 * accesses). */
static bool access_is_user(enum emul_access access, unsigned cpl)
{
    return cpl == 3 && access != EMUL_ACCESS_SYSTEM_READ && access != EMUL_ACCESS_SYSTEM_WRITE;
}

/* Splits [addr, addr+len) at page boundaries (and at the 4 GiB wrap) and
 * translates every piece before anything is accessed, so that an access
 * faults as a whole. Returns the number of pieces, or -1 with *fault set. */
struct access_piece {
    guest_phys_t phys;
    unsigned offset, len; /* within the caller's buffer */
};

static int translate_access(const struct run_env *env, guest_linear_t addr, unsigned len,
                            enum emul_access access, unsigned cpl, struct access_piece *pieces,
                            unsigned max_pieces, struct emul_fault *fault)
{
    unsigned n = 0, done = 0;

    while (done < len) {
        guest_linear_t linear = addr + done; /* wraps at 4 GiB like the hardware */
        unsigned chunk = GUEST_PAGE_SIZE - (linear & (GUEST_PAGE_SIZE - 1));
        struct walk_result w;

        if (chunk > len - done)
            chunk = len - done;
        if (!shadow_translate(env->mmu, linear, walk_access_of(access), access_is_user(access, cpl),
                              &w)) {
            *fault = (struct emul_fault){.vector = VEC_PF,
                                         .has_error_code = true,
                                         .error_code = w.error_code,
                                         .fault_address = linear};
            return -1;
        }
        if (n == max_pieces)
            return -1;
        pieces[n++] = (struct access_piece){.phys = w.phys, .offset = done, .len = chunk};
        done += chunk;
    }
    return (int)n;
}

#define MAX_PIECES 64

static bool memory_read(void *opaque, guest_linear_t addr, void *buf, unsigned len,
                        enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    const struct run_env *env = opaque;
    struct access_piece pieces[MAX_PIECES];
    uint8_t *out = buf;
    int n = translate_access(env, addr, len, access, cpl, pieces, MAX_PIECES, fault);

    if (n < 0)
        return false;
    for (int i = 0; i < n; i++) {
        const void *src = guest_ram_is_usable_frame(env->ram, pieces[i].phys >> GUEST_PAGE_SHIFT)
                              ? guest_ram_host_ptr(env->ram, pieces[i].phys, pieces[i].len)
                              : NULL;
        if (src)
            memcpy(out + pieces[i].offset, src, pieces[i].len);
        else
            mmio_read(env->mmio, pieces[i].phys, out + pieces[i].offset, pieces[i].len);
    }
    return true;
}

static bool memory_write(void *opaque, guest_linear_t addr, const void *buf, unsigned len,
                         enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    const struct run_env *env = opaque;
    struct access_piece pieces[MAX_PIECES];
    const uint8_t *in = buf;
    int n = translate_access(env, addr, len, access, cpl, pieces, MAX_PIECES, fault);

    if (current_loop)
        current_loop->code_epoch++; /* it may overwrite code decode_at_eip holds */
    if (n < 0)
        return false;
    for (int i = 0; i < n; i++) {
        uint32_t frame = pieces[i].phys >> GUEST_PAGE_SHIFT;
        void *dst = guest_ram_is_usable_frame(env->ram, frame)
                        ? guest_ram_host_ptr(env->ram, pieces[i].phys, pieces[i].len)
                        : NULL;
        if (!dst) {
            mmio_write(env->mmio, pieces[i].phys, in + pieces[i].offset, pieces[i].len);
            if (current_loop)
                current_loop->devices_due = true; /* it may have reprogrammed a timer */
            continue;
        }
        if (shadow_frame_has_code(env->mmu, frame) &&
            tcache_invalidate_phys_range(env->tc, pieces[i].phys, pieces[i].len) == 0) {
            /* The blocks the bytes fed are gone; with none left in the
             * frame, it needs no protection. */
            shadow_unprotect_code_frame(env->mmu, frame);
        }
        memcpy(dst, in + pieces[i].offset, pieces[i].len);
        shadow_note_phys_write(env->mmu, pieces[i].phys, pieces[i].len);
    }
    return true;
}

/* The translator's code fetch: page by page through the guest's tables, at
 * the current CPL; stops at the first byte that cannot be fetched (it
 * becomes a callout that raises the fault when executed). */
static size_t fetch_code(void *opaque, guest_linear_t eip, uint8_t *buf, size_t len)
{
    const struct run_env *env = opaque;
    bool user = current_cpl(env->cpu) == 3;
    size_t n = 0;

    while (n < len) {
        guest_linear_t linear = eip + (uint32_t)n;
        size_t chunk = GUEST_PAGE_SIZE - (linear & (GUEST_PAGE_SIZE - 1));
        struct walk_result w;

        if (chunk > len - n)
            chunk = len - n;
        if (!shadow_translate(env->mmu, linear, WALK_FETCH, user, &w) ||
            !guest_ram_is_usable_frame(env->ram, w.phys >> GUEST_PAGE_SHIFT))
            break;
        memcpy(buf + n, guest_ram_host_ptr(env->ram, w.phys, chunk), chunk);
        n += chunk;
    }
    return n;
}

/* emul_env.ram_address: the walk an access of that kind would make (A and
 * D set as it will set them), and whether it reaches RAM. */
static bool ram_address(void *opaque, guest_linear_t addr, enum emul_access access, unsigned cpl,
                        uint64_t *phys)
{
    const struct run_env *env = opaque;
    struct walk_result w;

    if (!shadow_translate(env->mmu, addr, walk_access_of(access), access_is_user(access, cpl),
                          &w) ||
        !guest_ram_is_usable_frame(env->ram, w.phys >> GUEST_PAGE_SHIFT))
        return false;
    *phys = w.phys;
    return true;
}

static uint32_t port_in(void *opaque, io_port_t port, unsigned size)
{
    const struct run_env *env = opaque;

    return ioport_read(env->io, port, size);
}

static void port_out(void *opaque, io_port_t port, unsigned size, uint32_t value)
{
    const struct run_env *env = opaque;

    ioport_write(env->io, port, size, value);
}

static uint64_t read_tsc(void *opaque)
{
    return __rdtsc();
}

/* The translator's question: should the instruction at eip be a callout
 * because running it in place keeps trapping? */
static bool emulate_instruction(void *opaque, guest_linear_t eip)
{
    return current_loop && adaptive_is_emulated(&current_loop->adaptive, eip);
}

/* ---- the indirect-branch table ------------------------------------------- */

static uint32_t *ibl_page_count(struct loop *lp, guest_linear_t eip)
{
    uint32_t page = eip >> GUEST_PAGE_SHIFT;

    return &lp->ibl_page_entries[(page ^ (page >> 12)) & (IBL_PAGE_BUCKETS - 1)];
}

/* Empties an entry (not_tag 0 matches no (eip, key)). */
static void ibl_clear_slot(struct loop *lp, uint32_t slot)
{
    struct vcpu_ibl_entry *e = &lp->env->cpu->ibl[slot];

    if (e->not_tag) {
        uint32_t *count = ibl_page_count(lp, (uint32_t)~e->not_tag);
        if (*count)
            (*count)--;
    }
    memset(e, 0, sizeof(*e));
}

/* Empties the whole table. */
static void ibl_clear_all(struct loop *lp)
{
    memset(lp->env->cpu->ibl, 0, sizeof(lp->env->cpu->ibl));
    memset(lp->ibl_page_entries, 0, sizeof(lp->ibl_page_entries));
    memset(lp->ibl_slot_listed, 0, sizeof(lp->ibl_slot_listed));
    lp->ibl_local_count = 0;
}

/* Lists a slot holding a local entry, once: the list never holds more
 * than every slot. */
static void ibl_note_local(struct loop *lp, uint32_t slot)
{
    if (lp->ibl_slot_listed[slot])
        return;
    lp->ibl_slot_listed[slot] = true;
    lp->ibl_local_slots[lp->ibl_local_count++] = slot;
}

/* Enters `b` as the target for `eip` under mode `key` in way 0 of eip's
 * set (unless b straddles two pages); an entry for another (eip, key)
 * there moves to way 1. `global`
 * says whether eip's page is mapped global: other entries go when the
 * guest loads CR3. */
static void ibl_fill(struct loop *lp, guest_linear_t eip, uint32_t key, const struct tc_block *b,
                     bool global)
{
    struct vcpu *cpu = lp->env->cpu;
    uint32_t slot = (eip & (VCPU_IBL_SETS - 1)) * VCPU_IBL_WAYS;
    struct vcpu_ibl_entry *way0 = &cpu->ibl[slot], *way1 = &cpu->ibl[slot + 1];
    uint64_t not_tag = ~((uint64_t)key << 32 | eip);
    uint64_t code = (uint64_t)(uintptr_t)b->code;

    if (way0->not_tag == not_tag && way0->host_code == code)
        return;
    /* A block running into a second page is entered only through the
     * monitor's lookup, which checks that page's frame, and through links
     * logged on both pages: an entry here would outlive an INVLPG of the
     * second page (the table is searched by the first). */
    if (tc_block_straddles(b))
        return;
    if (way0->not_tag && way0->not_tag != not_tag) {
        /* The entry being displaced stays, one way down (a local one is
         * recorded under its new slot too). */
        ibl_clear_slot(lp, slot + 1);
        *way1 = *way0;
        memset(way0, 0, sizeof(*way0)); /* counted under way 1 now */
        lp->ibl_slot_global[slot + 1] = lp->ibl_slot_global[slot];
        lp->ibl_slot_frame[slot + 1] = lp->ibl_slot_frame[slot];
        if (!lp->ibl_slot_global[slot + 1])
            ibl_note_local(lp, slot + 1);
    } else if (way1->not_tag == not_tag) {
        ibl_clear_slot(lp, slot + 1);
    }
    if (!way0->not_tag)
        (*ibl_page_count(lp, eip))++;
    way0->host_code = code;
    way0->not_tag = not_tag;
    lp->ibl_slot_global[slot] = global;
    lp->ibl_slot_frame[slot] = (uint32_t)(b->phys >> GUEST_PAGE_SHIFT);
    if (!global)
        ibl_note_local(lp, slot);
}

/* Whether code translated from `frame` for linear page `page` under mode
 * `key` still maps there after a CR3 load (tcache_page_check). The
 * answers for a page are remembered until the next load: a recheck asks
 * about the same few pages for hundreds of links. */
static bool code_page_still_maps(void *opaque, uint32_t page, uint32_t frame, uint32_t key)
{
    struct loop *lp = opaque;
    bool user = (key & 3) == 3;
    uint32_t page_user = page << 1 | user;
    struct code_page_probe *p =
        &lp->probes[(page_user ^ (page_user >> 8)) & (CODE_PAGE_PROBES - 1)];

    if (p->generation != lp->probe_generation || p->page_user != page_user) {
        p->generation = lp->probe_generation;
        p->page_user = page_user;
        p->maps = shadow_probe_fetch(lp->env->mmu, page, user, &p->frame);
    }
    return p->maps && p->frame == frame;
}

/* A TLB flush: entries for targets on pages that are not global go (all
 * of them with `including_global`), except, on a CR3 load, those whose
 * page still maps the frame the target was translated from. */
static void ibl_flush(struct loop *lp, bool including_global)
{
    if (including_global) {
        ibl_clear_all(lp);
        return;
    }
    uint32_t kept = 0;
    for (uint32_t i = 0; i < lp->ibl_local_count; i++) {
        uint32_t slot = lp->ibl_local_slots[i];
        const struct vcpu_ibl_entry *e = &lp->env->cpu->ibl[slot];
        lp->ibl_slot_listed[slot] = false;
        if (lp->ibl_slot_global[slot] || !e->not_tag)
            continue;
        uint64_t tag = ~e->not_tag;
        if (code_page_still_maps(lp, (uint32_t)tag >> GUEST_PAGE_SHIFT, lp->ibl_slot_frame[slot],
                                 (uint32_t)(tag >> 32))) {
            lp->ibl_slot_listed[slot] = true;
            lp->ibl_local_slots[kept++] = slot;
        } else
            ibl_clear_slot(lp, slot);
    }
    lp->ibl_local_count = kept;
}

/* INVLPG: the entries whose target lies on the page (their sets are the
 * page's 4096 offsets, modulo the number of sets). */
static void ibl_flush_page(struct loop *lp, guest_linear_t page)
{
    struct vcpu *cpu = lp->env->cpu;

    page &= GUEST_PAGE_MASK;
    if (!*ibl_page_count(lp, page))
        return; /* the common case: no entry leads into the page */
    for (uint32_t off = 0; off < GUEST_PAGE_SIZE; off++) {
        uint32_t set_first = ((page + off) & (VCPU_IBL_SETS - 1)) * VCPU_IBL_WAYS;
        for (uint32_t slot = set_first; slot < set_first + VCPU_IBL_WAYS; slot++) {
            uint64_t tag = ~cpu->ibl[slot].not_tag;
            if (cpu->ibl[slot].not_tag && ((uint32_t)tag & GUEST_PAGE_MASK) == page)
                ibl_clear_slot(lp, slot);
        }
    }
}

/* ---- paging registers ----------------------------------------------------- */

/* CR0, CR3 or CR4 changed: the shadow MMU follows, and the links between
 * blocks that were cached translations go as the TLB would. */
static void control_register_written(void *opaque, unsigned crn, uint32_t old_value)
{
    const struct run_env *env = opaque;
    const struct vcpu_state *s = &env->cpu->arch;
    struct paging_regs regs = {.cr0 = s->cr0, .cr3 = s->cr3, .cr4 = s->cr4};

    if (!current_loop)
        return;
    current_loop->code_epoch++;
    if (crn == 0 && !(s->cr0 & CR0_PE))
        current_loop->unsupported_mode = "real mode (CR0.PE=0) is not supported yet";
    if (log_enabled(LOG_MMU) && crn != 2)
        log_printf("mmu: cr%u %08x -> %08x\n", crn, old_value,
                   crn == 0   ? s->cr0
                   : crn == 3 ? s->cr3
                              : s->cr4);
    switch (shadow_set_paging(env->mmu, &regs, crn == 3)) {
    case SHADOW_FLUSH_NONE:
        break;
    case SHADOW_FLUSH_NON_GLOBAL:
        current_loop->probe_generation++;
        tcache_recheck_local_links(env->tc, code_page_still_maps, current_loop);
        ibl_flush(current_loop, false);
        break;
    case SHADOW_FLUSH_ALL:
        tcache_drop_links(env->tc);
        ibl_flush(current_loop, true);
        break;
    }
}

static void invlpg(void *opaque, guest_linear_t addr)
{
    const struct run_env *env = opaque;

    if (!current_loop)
        return;
    current_loop->code_epoch++;
    if (log_enabled(LOG_MMU))
        log_printf("mmu: invlpg %08x\n", addr);
    shadow_invlpg(env->mmu, addr);
    tcache_drop_links_to_page(env->tc, addr & GUEST_PAGE_MASK);
    ibl_flush_page(current_loop, addr);
}

/* ---- translation -------------------------------------------------------- */

/* FS and GS: addressed through vcpu.seg_view, read at run time. */
#define OWN_VIEW_SEGMENTS ((1u << SEG_FS) | (1u << SEG_GS))

/* Everything a translation assumes about the vCPU, as a cache key:
 *   bits 0-1   CPL
 *   bits 2-7   segments (ES..DS) with a non-zero base, added at run time
 *   bits 8-13  segments (ES..DS) holding a null selector (accesses raise
 *              #GP(0)); FS and GS are neither (OWN_VIEW_SEGMENTS)
 *   bits 14-17 CR0.TS/EM/MP and CR4.OSFXSR as TRANSLATE_FPU_* (x87/SSE faults)
 *   bit 30     one-instruction blocks (MODE_KEY_SINGLE)
 *   bit 31     bounce blocks (MODE_KEY_BOUNCE) */
static uint32_t mode_key(const struct vcpu_state *s)
{
    uint32_t bases = 0, unusable = 0;

    for (int i = 0; i < SEG_COUNT; i++) {
        if ((OWN_VIEW_SEGMENTS >> i) & 1)
            continue;
        if (s->seg[i].base != 0)
            bases |= 1u << i;
        if (!(s->seg[i].attr & SEG_ATTR_P))
            unusable |= 1u << i;
    }
    unsigned fpu = ((s->cr0 & CR0_TS) ? TRANSLATE_FPU_TS : 0) |
                   ((s->cr0 & CR0_EM) ? TRANSLATE_FPU_EM : 0) |
                   ((s->cr0 & CR0_MP) ? TRANSLATE_FPU_MP : 0) |
                   ((s->cr4 & CR4_OSFXSR) ? 0 : TRANSLATE_FPU_NO_SSE);
    return (s->seg[SEG_CS].selector & 3u) | (bases << 2) | (unusable << 8) | (fpu << 14);
}

/* The frame of the page holding `linear` as an instruction fetch at the
 * current CPL sees it, or UINT32_MAX. */
static uint32_t fetch_frame(const struct run_env *env, guest_linear_t linear)
{
    struct walk_result w;

    if (!shadow_translate(env->mmu, linear, WALK_FETCH, current_cpl(env->cpu) == 3, &w))
        return UINT32_MAX;
    return w.phys >> GUEST_PAGE_SHIFT;
}

static void free_kept(struct kept_decode *k)
{
    while (k) {
        struct kept_decode *next = k->next;
        free(k);
        k = next;
    }
}

/* translate_config.alloc_decoded: kept once the block is in the cache. */
static struct emul_decoded_insn *alloc_kept_decode(void *opaque)
{
    struct kept_decode *k = current_loop ? malloc(sizeof(*k)) : NULL;

    (void)opaque;
    if (!k)
        return NULL; /* the callout fetches and decodes as before */
    k->next = current_loop->kept_pending;
    current_loop->kept_pending = k;
    return &k->d;
}

/* The block for (eip, its physical address, key), translated on a miss. A
 * block that straddles two pages is only reused while its second page maps
 * the frame it was read from. */
static struct tc_block *find_or_translate(struct loop *lp, guest_linear_t eip, guest_phys_t phys,
                                          uint32_t key)
{
    bool bounce = key & MODE_KEY_BOUNCE;
    const struct run_env *env = lp->env;
    struct tc_block *b = tcache_lookup(env->tc, eip, phys, key);
    struct translated_block tb;
    struct emit_buf buf;

    if (b && tc_block_straddles(b) &&
        fetch_frame(env, eip + b->guest_size - 1) != b->phys_last_frame) {
        tcache_invalidate_block(env->tc, b);
        b = NULL;
    }
    if (b)
        return b;
    struct translate_config cfg = {
        .fetch = fetch_code,
        .opaque = (void *)env,
        .nonzero_bases = (segment_base_mask)((key >> 2) & 0x3F),
        .own_view_segments = OWN_VIEW_SEGMENTS,
        .unusable_segments = (segment_base_mask)((key >> 8) & 0x3F),
        .fpu_mode = (key >> 14) & 0xF,
        .max_insns = (key & MODE_KEY_SINGLE) ? 1 : TRANSLATE_MAX_INSNS,
        .cpl = key & 3,
        .native_rdtsc = lp->env->cpu->arch.tsc_offset == 0,
        .count_indirect = env->collect_stats,
        .bounce_buffer = bounce ? (uint64_t)(uintptr_t)lp->bounce : 0,
        .emulate = bounce ? NULL : emulate_instruction,
        .alloc_decoded = bounce ? NULL : alloc_kept_decode,
    };
    emit_init(&buf, lp->code, sizeof(lp->code));
    if (!translate_block(&cfg, eip, &buf, &tb)) {
        free_kept(lp->kept_pending);
        lp->kept_pending = NULL;
        return NULL;
    }
    tb.phys = phys;
    tb.phys_last_frame = phys >> GUEST_PAGE_SHIFT;
    if (tb.guest_size && ((eip ^ (eip + tb.guest_size - 1)) & GUEST_PAGE_MASK))
        tb.phys_last_frame = fetch_frame(env, eip + tb.guest_size - 1);
    uint64_t flushes = tcache_stats(env->tc)->flushes;
    b = tcache_insert_or_evict(env->tc, &tb, lp->code, key);
    /* The block's callouts point at their decodes: they live as long as it. */
    while (lp->kept_pending) {
        struct kept_decode *k = lp->kept_pending;
        lp->kept_pending = k->next;
        if (b) {
            k->next = lp->kept;
            lp->kept = k;
        } else {
            free(k);
        }
    }
    if (tcache_stats(env->tc)->flushes != flushes)
        env->cpu->exit_link = 0; /* the exit that led here is gone */
    if (b && !bounce) {
        /* Self-modifying code: the frames this block was read from are
         * write-protected, in every view and alias, until it is dropped. */
        shadow_protect_code_frame(env->mmu, phys >> GUEST_PAGE_SHIFT);
        shadow_protect_code_frame(env->mmu, tb.phys_last_frame);
    }
    if (b && log_enabled(LOG_PERFMAP))
        perf_map_block(b->code, b->code_size, eip, key & 3);
    if (b && (log_enabled(LOG_IN_ASM) || log_enabled(LOG_OUT_ASM)))
        trace_block(log_stream ? log_stream : stderr, log_enabled(LOG_IN_ASM),
                    log_enabled(LOG_OUT_ASM), &tb, &cfg, b->code);
    return b;
}

/* VERW with a memory operand naming a writable data segment (the host's
 * SS) is the form that overwrites the CPU's internal buffers on processors
 * with Intel's MD_CLEAR microcode (SDM vol. 2, VERW; Intel's "Microarchitectural
 * Data Sampling" guidance); elsewhere it is a selector check of a few
 * cycles. */
static void clear_host_cpu_buffers(void)
{
    uint16_t selector;

    __asm__ volatile("mov %%ss, %0\n\tverw %0" : "=m"(selector) : : "cc");
}

/* emul_env.clear_cpu_buffers: due before the next CPL-3 entry. */
static void clear_cpu_buffers(void *opaque)
{
    const struct run_env *env = opaque;

    env->cpu->clear_buffers_due = 1;
}

/* Sets the view translated code sees (r13/r12) for the current CPL and
 * address space, then runs `code`. */
static void enter_translated(const struct run_env *env, const void *code)
{
    struct vcpu *cpu = env->cpu;
    bool user = current_cpl(cpu) == 3;

    if (user && cpu->clear_buffers_due) {
        clear_host_cpu_buffers();
        cpu->clear_buffers_due = 0;
    }
    cpu->view_base = (uint64_t)(uintptr_t)shadow_view_base(env->mmu, user);
    cpu->view_base_high = cpu->view_base + 0x80000000ull;
    for (int i = SEG_FS; i <= SEG_GS; i++) {
        const struct segment_cache *seg = &cpu->arch.seg[i];
        cpu->seg_view[i] = cpu->view_base + ((seg->attr & SEG_ATTR_P) ? 0 : VCPU_SEG_VIEW_UNUSABLE);
    }
    signals_begin_entry(code);
    tc_enter(cpu, code);
    signals_end_entry();
}

static void cache_drop_hook(void *ctx, const struct tc_block *b)
{
    const struct run_env *env = ctx;
    struct vcpu *cpu = env->cpu;

    if (!b && current_loop) {
        /* No code is left to hand these over. */
        free_kept(current_loop->kept);
        current_loop->kept = NULL;
        current_loop->memo = NULL;
    }
    if (!b) {
        if (current_loop)
            ibl_clear_all(current_loop);
        else
            memset(cpu->ibl, 0, sizeof(cpu->ibl)); /* not_tag 0 matches no (eip, key) */
        shadow_unprotect_all_code(env->mmu);
        return;
    }
    uint32_t set = (b->eip & (VCPU_IBL_SETS - 1)) * VCPU_IBL_WAYS;
    for (uint32_t slot = set; slot < set + VCPU_IBL_WAYS; slot++) {
        if (cpu->ibl[slot].host_code != (uint64_t)(uintptr_t)b->code)
            continue;
        if (current_loop)
            ibl_clear_slot(current_loop, slot);
        else
            memset(&cpu->ibl[slot], 0, sizeof(cpu->ibl[slot]));
    }
}

/* ---- events and faults --------------------------------------------------- */

static void dump_state(const struct run_env *env)
{
    if (env->flush_output)
        env->flush_output(env->ctx);
    vcpu_state_dump(&env->cpu->arch, stderr);
}

/* Exceptions that push an error code (SDM vol. 3, §6.13, table 6-1). */
static bool vector_has_error_code(uint32_t vector)
{
    return vector == VEC_DF || (vector >= VEC_TS && vector <= VEC_PF) || vector == VEC_AC;
}

/* A triple fault shuts the processor down (SDM vol. 3, §6.15, interrupt 8):
 * the PC's chipset then resets it. With -no-reboot popek stops instead,
 * with a register dump, as QEMU does. Returns false (the loop ends). */
static bool triple_fault(struct loop *lp, struct popek_error *err, const char *what)
{
    struct vcpu *cpu = lp->env->cpu;

    if (!lp->env->no_reboot) {
        lp->reset_requested = true;
        if (log_enabled(LOG_INT))
            log_printf("int: triple fault (%s) at eip=%08x: resetting\n", what, cpu->arch.eip);
        return false;
    }
    dump_state(lp->env);
    return popek_fail(err, "guest triple fault (%s) at eip 0x%08x", what, cpu->arch.eip);
}

/* A device pulled the reset line (0xCF9, the 8042, port 0x92): the guest
 * asked for a reboot, and the instruction that did it has completed. The
 * machine resets (RUN_RESET); with -no-reboot the run ends as under QEMU,
 * with status 0, and err says which device did it. */
static int device_reset(struct loop *lp, struct popek_error *err, const char *why)
{
    struct vcpu *cpu = lp->env->cpu;

    if (!lp->env->no_reboot) {
        if (log_enabled(LOG_INT))
            log_printf("int: %s reset the machine at eip=%08x\n", why, cpu->arch.eip);
        return RUN_RESET;
    }
    popek_fail(err, "guest reset the machine (%s) at eip 0x%08x; stopped (-no-reboot)", why,
               cpu->arch.eip);
    return 0;
}

/* Pushes an event through the guest IDT (emul/); false when the guest
 * cannot go on (a triple fault without reset, or an unsupported gate). */
static bool deliver_event(struct loop *lp, enum emul_event_kind kind, uint8_t vector,
                          bool has_error, uint32_t error, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    char why[256] = "";

    switch (emul_deliver_event(&cpu->arch, &lp->emul, kind, vector, has_error, error, why,
                               sizeof(why))) {
    case EMUL_OK:
        return true;
    case EMUL_TRIPLE_FAULT:
        return triple_fault(lp, err,
                            kind == EMUL_EVENT_EXTERNAL ? "delivering an interrupt"
                                                        : "delivering an exception");
    default:
        dump_state(lp->env);
        return popek_fail(err, "%s", why[0] ? why : "cannot deliver a guest event");
    }
}

/* Delivers a guest exception; false when the guest cannot go on. */
static bool deliver_exception(struct loop *lp, uint8_t vector, bool has_error, uint32_t error,
                              struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;

    if (log_enabled(LOG_INT))
        log_printf("int: exception %u err=%#x at eip=%08x\n", vector, error, cpu->arch.eip);
    lp->stats->exceptions_delivered++;
    return deliver_event(lp, EMUL_EVENT_EXCEPTION, vector, has_error, error, err);
}

/* A guest fault found while emulating: #PF sets CR2 first. */
static bool deliver_emul_fault(struct loop *lp, const struct emul_fault *fault,
                               struct popek_error *err)
{
    if (fault->vector == VEC_PF) {
        lp->env->cpu->arch.cr2 = fault->fault_address;
        lp->stats->page_faults_delivered++;
    }
    return deliver_exception(lp, fault->vector, fault->has_error_code, fault->error_code, err);
}

/* The instruction at linear `eip`, fetched now and decoded: the last decodes
 * are kept and reused while the bytes fetched at that address are the
 * same. */
static const struct emul_decoded_insn *decode_at_eip_fetched(struct loop *lp, guest_linear_t eip)
{
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    size_t n = fetch_code((void *)lp->env, eip, bytes, sizeof(bytes));
    unsigned slot = (eip ^ (eip >> 6)) & (DECODED_ENTRIES - 1);
    struct emul_decoded_insn *at = &lp->decoded[slot];

    /* The bytes are compared, so an entry is never stale (nbytes 0: empty). */
    if (lp->decoded_eip[slot] == eip && at->nbytes == n && n && memcmp(at->bytes, bytes, n) == 0)
        return at;
    memcpy(at->bytes, bytes, n);
    at->linear = eip;
    at->nbytes = n;
    at->decoded = n && translate_decode(at->bytes, n, &at->insn, at->ops);
    lp->decoded_eip[slot] = eip;
    return at;
}

/* Makes `d` the decode of the instruction at CS:EIP until the guest runs
 * again or code_epoch moves. */
static void memo_set(struct loop *lp, const struct emul_decoded_insn *d)
{
    lp->memo = d;
    lp->memo_eip = d->linear;
    lp->memo_user = current_cpl(lp->env->cpu) == 3;
    lp->memo_epoch = lp->code_epoch;
}

/* The decode of the instruction at CS:EIP the monitor already holds, for
 * emul/ to run it without fetching and decoding it again (NULL: none). */
static const struct emul_decoded_insn *current_decode(const struct loop *lp)
{
    const struct vcpu *cpu = lp->env->cpu;

    if (!lp->memo || lp->memo_epoch != lp->code_epoch ||
        lp->memo_eip != cpu->arch.seg[SEG_CS].base + cpu->arch.eip ||
        lp->memo_user != (current_cpl(cpu) == 3))
        return NULL;
    return lp->memo;
}

/* The instruction at CS:EIP, decoded. The monitor asks several questions
 * about one instruction in a row (its class, whether and how to emulate
 * it, and emul/ decodes it to run it): within one exit the answer is
 * reused without fetching again (memo). */
static const struct emul_decoded_insn *decode_at_eip(struct loop *lp)
{
    const struct vcpu *cpu = lp->env->cpu;
    const struct emul_decoded_insn *at = current_decode(lp);

    if (!at) {
        at = decode_at_eip_fetched(lp, cpu->arch.seg[SEG_CS].base + cpu->arch.eip);
        memo_set(lp, at);
    }
    return at;
}

/* The single explicit memory access of the decoded instruction `at`
 * (emul_describe_access), under the current registers. */
static bool access_of(const struct loop *lp, const struct emul_decoded_insn *at,
                      struct emul_access_desc *access)
{
    return at->decoded &&
           emul_describe_decoded_access(&lp->env->cpu->arch, &at->insn, at->ops, access);
}

/* False when the instruction at EIP is not wholly in RAM (it runs off the
 * end of RAM or sits in the hole), which the translator cannot fetch. */
static bool code_in_ram(struct loop *lp)
{

    const struct emul_decoded_insn *at = decode_at_eip(lp);
    return at->nbytes == sizeof(at->bytes) || at->decoded;
}

/* The instruction at CS:EIP as the access-emulation paths see it: decoded,
 * classified, and (an ident instruction) its one explicit access under the
 * current registers. */
struct faulting_insn {
    const struct emul_decoded_insn *at;
    enum insn_class cls;
    bool has_access;
    struct emul_access_desc access;
};

static enum insn_class class_at_eip(struct loop *lp);
static bool describe_faulting_insn(struct loop *lp, struct faulting_insn *fi);
static bool emulate_access_of(struct loop *lp, const struct faulting_insn *fi,
                              struct popek_error *err);
static bool emulate_faulting_access(struct loop *lp, struct popek_error *err);
static bool emulatable_access(const struct faulting_insn *fi);
static enum adaptive_verdict adaptive_verdict_of(struct loop *lp, const struct faulting_insn *fi);

static bool handle_callout(struct loop *lp, struct popek_error *err, bool *halted)
{
    struct vcpu *cpu = lp->env->cpu;
    struct emul_fault fault;
    char why[256] = "";

    cpu->arch.eip = cpu->next_eip;
    guest_linear_t here = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
    if (adaptive_is_emulated(&lp->adaptive, here)) {
        /* Retranslated as a callout because it kept trapping: emulate its
         * access as the fault path would, without the fault. After its
         * probation it runs in place again (its code page's blocks are
         * translated anew). The instruction is classified and its access
         * worked out once for the three questions below. */
        struct faulting_insn fi;
        if (describe_faulting_insn(lp, &fi)) {
            if (!emulatable_access(&fi)) {
                /* Not an instruction whose access the monitor emulates
                 * (other code now lives at this address): back to running
                 * in place. */
                adaptive_forget(&lp->adaptive, here);
                uint32_t frame = fetch_frame(lp->env, here);
                if (frame != UINT32_MAX)
                    tcache_invalidate_frame(lp->env->tc, frame);
                return true;
            }
            lp->stats->adaptive_emulations++;
            enum adaptive_verdict verdict = adaptive_verdict_of(lp, &fi);
            lp->stats->adaptive_would_trap += verdict == ADAPTIVE_WOULD_TRAP;
            lp->stats->adaptive_would_not_trap += verdict == ADAPTIVE_WOULD_NOT_TRAP;
            if (adaptive_note_emulation(&lp->adaptive, here, verdict)) {
                /* Back in place: the blocks holding it are translated again. */
                uint32_t frame = fetch_frame(lp->env, here);
                lp->stats->adaptive_restores++;
                if (frame != UINT32_MAX)
                    tcache_invalidate_containing(lp->env->tc, frame, here);
            }
            return emulate_access_of(lp, &fi, err);
        }
    }
    uint64_t tsc_offset = cpu->arch.tsc_offset;
    lp->emul.predecoded = current_decode(lp);
    enum emul_status status = emul_execute(&cpu->arch, &lp->emul, &fault, why, sizeof(why));
    lp->emul.predecoded = NULL;
    if ((tsc_offset == 0) != (cpu->arch.tsc_offset == 0)) {
        /* Blocks read the TSC in place only while it is the host's. */
        tcache_flush(lp->env->tc);
    }
    switch (status) {
    case EMUL_OK:
        lp->last_stale_callout = 0xFFFFFFFFu;
        if (lp->unsupported_mode) {
            dump_state(lp->env);
            return popek_fail(err, "at eip 0x%08x: %s", cpu->arch.eip, lp->unsupported_mode);
        }
        return true;
    case EMUL_HALT:
        *halted = true;
        return true;
    case EMUL_FAULT:
        return deliver_emul_fault(lp, &fault, err);
    case EMUL_TRIPLE_FAULT:
        return triple_fault(lp, err, "executing a system instruction");
    case EMUL_UNSUPPORTED:
        here = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
        lp->memo = NULL; /* judged by the bytes in memory now, not the block's */
        if (class_at_eip(lp) != INSN_CALLOUT && here != lp->last_stale_callout) {
            /* The bytes are no longer the callout this block was made from
             * (a write the cache missed): drop it and translate again —
             * once; a translator that cannot translate the instruction
             * would bring it straight back here. */
            lp->last_stale_callout = here;
            lp->stats->stale_callouts++;
            uint32_t frame = fetch_frame(lp->env, here);
            if (frame != UINT32_MAX)
                tcache_invalidate_frame(lp->env->tc, frame);
            return true;
        }
        /* Stack and string forms the translator leaves to the monitor
         * (16-bit operand sizes: ret 16, leave 16...) are emulated by the
         * implicit-memory emulator. */
        lp->emul.predecoded = current_decode(lp);
        enum emul_status implicit = emul_execute_implicit(&cpu->arch, &lp->emul, &fault, NULL, 0);
        lp->emul.predecoded = NULL;
        switch (implicit) {
        case EMUL_OK:
            return true;
        case EMUL_FAULT:
            return deliver_emul_fault(lp, &fault, err);
        default:
            break;
        }
        break;
    }
    dump_state(lp->env);
    if (!code_in_ram(lp))
        return popek_fail(err, "guest execution reached memory that is not RAM at 0x%08x",
                          cpu->arch.seg[SEG_CS].base + cpu->arch.eip);
    popek_fail(err, "%s", why[0] ? why : "unsupported guest instruction");
    return false;
}

/* An access that cannot be made in place — its 32-bit address wrapped past
 * 4 GiB into a view guard, or it is not RAM — is re-executed natively by a
 * one-instruction block whose memory operand is a host buffer, filled from
 * and written back to guest memory with the exact 32-bit addresses. */
static bool bounce_execute(struct loop *lp, struct popek_error *err);
static bool handle_host_fault(struct loop *lp, struct popek_error *err);

/* The translation class of the instruction at EIP (INSN_CALLOUT when it
 * cannot be read or decoded). */
static enum insn_class class_at_eip(struct loop *lp)
{

    const struct emul_decoded_insn *at = decode_at_eip(lp);
    return at->decoded ? classify_instruction(&at->insn, at->ops) : INSN_CALLOUT;
}

/* Runs the callout the guest exited for (`handed`: its decode from the
 * block, or NULL) and, in the same exit, the system instructions the
 * translator chained after it on the same page — while execution falls
 * through to each (no branch, fault or event came between), with the same
 * CS, no single-stepping, and no memory written that could have changed
 * their bytes (code_epoch). Interrupts are taken after the run, as after
 * a block. */
static bool run_callouts(struct loop *lp, const struct emul_decoded_insn *handed,
                         struct popek_error *err, bool *halted)
{
    struct vcpu *cpu = lp->env->cpu;

    for (;;) {
        uint16_t cs = cpu->arch.seg[SEG_CS].selector;
        /* Decoded at translation: the block is still valid, so the bytes
         * are the same. */
        if (handed)
            memo_set(lp, handed);
        uint64_t epoch = lp->code_epoch;
        uint64_t flushes = tcache_stats(lp->env->tc)->flushes;
        if (!handle_callout(lp, err, halted))
            return false;
        if (emul_is_port_io((ZydisMnemonic)cpu->callout_mnemonic)) {
            lp->devices_due = true; /* it may have reprogrammed a device's deadline */
            return true;            /* ...or asked for a reset or power-off */
        }
        /* A flush inside it (a bounce block that did not fit in the full
         * cache) freed the chained decodes with the blocks. */
        if (tcache_stats(lp->env->tc)->flushes != flushes)
            return true;
        const struct emul_decoded_insn *next = handed ? handed->next : NULL;
        if (!next || *halted || lp->reset_requested || lp->code_epoch != epoch ||
            cpu->arch.seg[SEG_CS].selector != cs || (cpu->arch.eflags & EFLAGS_TF) ||
            lp->unsupported_mode || cpu->arch.seg[SEG_CS].base + cpu->arch.eip != next->linear)
            return true;
        handed = next;
        cpu->next_eip = cpu->arch.eip;
        cpu->callout_mnemonic = (uint32_t)next->insn.mnemonic;
        lp->stats->callouts_chained++;
        if (cpu->callout_mnemonic < RUN_STATS_MNEMONICS)
            lp->stats->callouts[cpu->callout_mnemonic]++;
    }
}

/* Instructions whose memory operands are implicit (string, stack, call/ret,
 * xlat) are emulated in C by emul/ when their access cannot be made in
 * place; writes go through the monitor's own mapping of RAM. */
static bool emulate_implicit_access(struct loop *lp, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    struct emul_fault fault;
    char why[256] = "";

    lp->stats->implicit_emulations++;
    lp->emul.predecoded = current_decode(lp);
    enum emul_status status =
        emul_execute_implicit(&cpu->arch, &lp->emul, &fault, why, sizeof(why));
    lp->emul.predecoded = NULL;
    switch (status) {
    case EMUL_OK:
        return true;
    case EMUL_FAULT:
        return deliver_emul_fault(lp, &fault, err);
    default:
        dump_state(lp->env);
        return popek_fail(err, "%s", why[0] ? why : "cannot emulate a faulting guest access");
    }
}

/* jmp [mem] whose pointer is not in RAM or wraps: load the target the way
 * the hardware would (32-bit address arithmetic, RAM or floating bus).
 * False when the instruction is not such a jump. */
static bool emulate_indirect_jump(struct loop *lp, bool *ok, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    struct emul_access_desc access;
    struct emul_fault fault;
    uint32_t target = 0;

    const struct emul_decoded_insn *at = decode_at_eip(lp);
    if (!at->decoded || at->insn.mnemonic != ZYDIS_MNEMONIC_JMP || at->insn.operand_width != 32 ||
        !access_of(lp, at, &access) || access.size != 4)
        return false;
    if (!memory_read((void *)lp->env, access.address, &target, 4, EMUL_ACCESS_READ,
                     current_cpl(cpu), &fault)) {
        *ok = deliver_emul_fault(lp, &fault, err);
        return true;
    }
    cpu->arch.eip = target;
    *ok = true;
    return true;
}

/* Whether the access of the instruction at EIP would trap if it ran in
 * place now (known for single-operand ident instructions; checked before it
 * is emulated, since the emulation itself unsyncs a page table it writes). */
static enum adaptive_verdict adaptive_verdict_of(struct loop *lp, const struct faulting_insn *fi)
{
    guest_linear_t here = lp->env->cpu->arch.seg[SEG_CS].base + lp->env->cpu->arch.eip;
    struct walk_result w;
    const struct vcpu *cpu = lp->env->cpu;

    if (!fi->has_access)
        return ADAPTIVE_UNKNOWN;
    const struct emul_access_desc access = fi->access;
    bool user = current_cpl(cpu) == 3;
    if (!shadow_translate(lp->env->mmu, access.address, access.writes ? WALK_WRITE : WALK_READ,
                          user, &w))
        return ADAPTIVE_WOULD_TRAP; /* a guest #PF: the emulation raises it */
    uint32_t frame = w.phys >> GUEST_PAGE_SHIFT;
    guest_linear_t last = access.address + access.size - 1;
    if (!guest_ram_is_usable_frame(lp->env->ram, frame) ||
        (access.writes && shadow_frame_traps_writes(lp->env->mmu, frame)))
        return ADAPTIVE_WOULD_TRAP;
    if (!shadow_view_allows(lp->env->mmu, access.address, access.writes, user) ||
        !shadow_view_allows(lp->env->mmu, last, access.writes, user)) {
        /* Only a fill away. When this instruction's previous emulation was
         * on the same page (a loop working through one page, like a
         * memset), the page is mapped now — the access is about to be
         * made, so A and D are set as it would set them — and the next
         * ones will not trap. A loop that touches a new page each time
         * gains nothing from the mapping and does not get it. */
        bool same_page = lp->last_emulated_eip == here &&
                         lp->last_emulated_page == (access.address & GUEST_PAGE_MASK);
        lp->last_emulated_eip = here;
        lp->last_emulated_page = access.address & GUEST_PAGE_MASK;
        if (same_page) {
            shadow_prefill(lp->env->mmu, access.address, access.writes, user);
            if ((last ^ access.address) & GUEST_PAGE_MASK)
                shadow_prefill(lp->env->mmu, last, access.writes, user);
        }
        return ADAPTIVE_WOULD_TRAP;
    }
    return ADAPTIVE_WOULD_NOT_TRAP;
}

/* True when emulate_access_of() can emulate the instruction: an ident
 * instruction with one explicit memory operand, a stack, string or xlat
 * form, a near call or ret, or a jmp through memory. */
static bool emulatable_access(const struct faulting_insn *fi)
{
    const struct emul_decoded_insn *at = fi->at;

    switch (fi->cls) {
    case INSN_IDENT:
        return fi->has_access && fi->access.size <= BOUNCE_BYTES;
    case INSN_BRANCH:
        /* Near call and ret (emul_execute_implicit), jmp through memory
         * (emulate_indirect_jump). */
        if (at->insn.meta.branch_type != ZYDIS_BRANCH_TYPE_NEAR)
            return false;
        return at->insn.mnemonic == ZYDIS_MNEMONIC_CALL ||
               at->insn.mnemonic == ZYDIS_MNEMONIC_RET ||
               (at->insn.mnemonic == ZYDIS_MNEMONIC_JMP &&
                at->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY);
    case INSN_STACK:
    case INSN_STRING:
    case INSN_XLAT:
        return true;
    default:
        return false;
    }
}

/* Decodes and classifies the instruction at CS:EIP; false when it cannot
 * be read or decoded, or is a callout (no access of its own to emulate). */
static bool describe_faulting_insn(struct loop *lp, struct faulting_insn *fi)
{
    fi->at = decode_at_eip(lp);
    if (!fi->at->decoded)
        return false;
    fi->cls = classify_instruction(&fi->at->insn, fi->at->ops);
    if (fi->cls == INSN_CALLOUT)
        return false;
    fi->has_access = fi->cls == INSN_IDENT && access_of(lp, fi->at, &fi->access);
    return true;
}

/* mov between a general register (or an immediate) and memory, emulated
 * directly: the access through memory_read/memory_write, the register in
 * the vCPU. The commonest instruction adaptive translation hands over (a
 * PTE store, a store into a page just remapped), and re-executing it in a
 * bounce block costs a block entry and, for a store, a read of the
 * destination first. False when the instruction is not such a mov. */
static bool emulate_plain_mov(struct loop *lp, const struct faulting_insn *fi, bool *ok,
                              struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    const struct emul_decoded_insn *at = fi->at;
    const struct emul_access_desc access = fi->access;
    struct emul_fault fault;
    unsigned cpl = current_cpl(cpu);
    uint32_t value = 0;

    if (at->insn.mnemonic != ZYDIS_MNEMONIC_MOV || at->insn.operand_count_visible != 2 ||
        (cpu->arch.eflags & EFLAGS_TF) || !fi->has_access || access.size > 4)
        return false;
    bool store = at->ops[0].type == ZYDIS_OPERAND_TYPE_MEMORY;
    const ZydisDecodedOperand *other = &at->ops[store ? 1 : 0];
    if (other->type == ZYDIS_OPERAND_TYPE_IMMEDIATE && store)
        value = (uint32_t)other->imm.value.u;
    else if (other->type != ZYDIS_OPERAND_TYPE_REGISTER || other->size != 8 * access.size ||
             !emul_reg_read(&cpu->arch, other->reg.value, &value))
        return false;
    if (store ? !memory_write((void *)lp->env, access.address, &value, access.size,
                              EMUL_ACCESS_WRITE, cpl, &fault)
              : !memory_read((void *)lp->env, access.address, &value, access.size, EMUL_ACCESS_READ,
                             cpl, &fault)) {
        *ok = deliver_emul_fault(lp, &fault, err);
        return true;
    }
    if (!store)
        emul_reg_write(&cpu->arch, other->reg.value, value);
    cpu->arch.eip += at->insn.length;
    lp->stats->direct_movs++;
    *ok = true;
    return true;
}

/* An ident instruction's access through a null selector: #GP(0) before
 * any access (SDM vol. 3, §3.4.2). Translated code sends FS and GS accesses
 * into the view's guard then (rewrite.h), and they come here. False (with
 * *ok set) when it raised the fault. */
static bool null_segment_check(struct loop *lp, const struct faulting_insn *fi, bool *ok,
                               struct popek_error *err)
{
    const struct vcpu *cpu = lp->env->cpu;

    if (!fi->has_access || (cpu->arch.seg[fi->access.segment].attr & SEG_ATTR_P))
        return true;
    *ok = deliver_exception(lp, fi->access.segment == SEG_SS ? VEC_SS : VEC_GP, true, 0, err);
    return false;
}

static bool emulate_access_of(struct loop *lp, const struct faulting_insn *fi,
                              struct popek_error *err)
{
    bool ok;

    switch (fi->cls) {
    case INSN_IDENT:
        if (!null_segment_check(lp, fi, &ok, err) || emulate_plain_mov(lp, fi, &ok, err))
            return ok;
        return bounce_execute(lp, err);
    case INSN_BRANCH: {
        if (emulate_indirect_jump(lp, &ok, err))
            return ok;
        return emulate_implicit_access(lp, err);
    }
    case INSN_STACK:
    case INSN_STRING:
    case INSN_XLAT:
        return emulate_implicit_access(lp, err);
    default:
        dump_state(lp->env);
        return popek_fail(err, "cannot emulate the faulting access of the instruction at 0x%08x",
                          lp->env->cpu->arch.eip);
    }
}

/* An access that faulted on the host for a reason that is not the guest's
 * (not RAM, or a 32-bit wrap): emulate the one instruction, by its class. */
static bool emulate_faulting_access(struct loop *lp, struct popek_error *err)
{
    struct faulting_insn fi;

    if (!describe_faulting_insn(lp, &fi)) {
        dump_state(lp->env);
        return popek_fail(err, "cannot emulate the faulting access of the instruction at 0x%08x",
                          lp->env->cpu->arch.eip);
    }
    return emulate_access_of(lp, &fi, err);
}

static bool bounce_execute(struct loop *lp, struct popek_error *err)
{
    const struct run_env *env = lp->env;
    struct vcpu *cpu = env->cpu;
    guest_linear_t eip = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
    struct emul_access_desc access;
    struct emul_fault fault;
    unsigned cpl = current_cpl(cpu);

    const struct emul_decoded_insn *at = decode_at_eip(lp);
    if (!access_of(lp, at, &access) || access.size > BOUNCE_BYTES) {
        dump_state(lp->env);
        return popek_fail(err,
                          "cannot emulate the faulting access of the instruction at 0x%08x "
                          "(only single-operand ident instructions are re-executed)",
                          eip);
    }
    /* The access must be allowed as a whole before the instruction runs:
     * a store checks as a write (the #PF error code says W). */
    struct access_piece pieces[MAX_PIECES];
    if ((access.writes && translate_access(env, access.address, access.size, EMUL_ACCESS_WRITE, cpl,
                                           pieces, MAX_PIECES, &fault) < 0) ||
        !memory_read((void *)env, access.address, lp->bounce, access.size, EMUL_ACCESS_READ, cpl,
                     &fault))
        return deliver_emul_fault(lp, &fault, err);
    uint32_t key = mode_key(&cpu->arch) | MODE_KEY_BOUNCE;
    uint32_t frame = fetch_frame(env, eip);
    struct tc_block *b =
        frame == UINT32_MAX
            ? NULL
            : find_or_translate(lp, eip, frame << GUEST_PAGE_SHIFT | (eip & 0xFFFu), key);
    if (!b || b->ninsns != 1 || b->insns[0].cls != INSN_IDENT) {
        dump_state(lp->env);
        return popek_fail(err, "cannot re-execute the instruction at 0x%08x", eip);
    }
    lp->stats->bounce_executions++;
    cpu->ibl_mode_tag = (uint64_t)key << 32;
    enter_translated(env, b->code);
    cpu->exit_link = 0; /* never chain out of a bounce block */
    switch (cpu->exit_reason) {
    case EXIT_BRANCH:
        cpu->arch.eip = cpu->next_eip - cpu->arch.seg[SEG_CS].base;
        if (access.writes && !memory_write((void *)env, access.address, lp->bounce, access.size,
                                           EMUL_ACCESS_WRITE, cpl, &fault))
            return deliver_emul_fault(lp, &fault, err);
        return true;
    case EXIT_RAISE:
        /* Known to fault before the access (null segment, CR0.TS...). */
        cpu->arch.eip = cpu->next_eip - cpu->arch.seg[SEG_CS].base;
        return deliver_exception(lp, (uint8_t)cpu->raise_vector,
                                 vector_has_error_code(cpu->raise_vector), cpu->raise_error, err);
    case EXIT_FAULT:
        /* The instruction's own fault (#DE, misaligned SSE, x87/SSE
         * exceptions): the bounce buffer itself never faults. */
        if (cpu->host_fault.signo != SIGSEGV || cpu->host_fault.code == SI_KERNEL) {
            cpu->arch.eip -= cpu->arch.seg[SEG_CS].base;
            return handle_host_fault(lp, err);
        }
        break;
    default:
        break;
    }
    dump_state(lp->env);
    return popek_fail(err,
                      "re-executing the instruction at 0x%08x failed (exit %u, host signal %d "
                      "code %d at %#lx)",
                      eip, cpu->exit_reason, cpu->host_fault.signo, cpu->host_fault.code,
                      (unsigned long)cpu->host_fault.host_address);
}

/* An unmasked x87 or SSE floating-point exception: #XM for SSE
 * instructions when CR4.OSXMMEXCPT is set, #UD when it is not, #MF for x87
 * (SDM vol. 3, §6.15, interrupts 16 and 19). */
static uint8_t floating_point_vector(struct loop *lp)
{
    struct vcpu *cpu = lp->env->cpu;

    const struct emul_decoded_insn *at = decode_at_eip(lp);
    if (at->decoded &&
        (at->insn.meta.isa_set == ZYDIS_ISA_SET_SSE || at->insn.meta.isa_set == ZYDIS_ISA_SET_SSE2))
        return (cpu->arch.cr4 & CR4_OSXMMEXCPT) ? VEC_XM : VEC_UD;
    return VEC_MF;
}

static bool handle_host_fault(struct loop *lp, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    const struct vcpu_host_fault *f = &cpu->host_fault;

    if (f->signo == SIGFPE && (f->code == FPE_INTDIV || f->code == FPE_INTOVF))
        return deliver_exception(lp, VEC_DE, false, 0, err); /* divide error, SDM vol. 3 §6.15 */
    if (f->signo == SIGFPE)
        return deliver_exception(lp, floating_point_vector(lp), false, 0, err);
    if (f->signo == SIGILL)
        return deliver_exception(lp, VEC_UD, false, 0, err);
    if (f->signo == SIGSEGV && f->code == SI_KERNEL)
        /* The host CPU's #GP on the guest's own instruction (reserved MXCSR
         * bits in ldmxcsr/fxrstor, a misaligned movaps...): the guest's too. */
        return deliver_exception(lp, VEC_GP, true, 0, err);
    if (f->signo != SIGSEGV && f->signo != SIGBUS) {
        dump_state(lp->env);
        return popek_fail(err, "guest instruction at eip 0x%08x raised host signal %d",
                          cpu->arch.eip, f->signo);
    }
    int64_t linear = (int64_t)(f->host_address - cpu->view_base);
    if (linear < -(int64_t)VIEW_GUARD_BELOW ||
        linear >= (int64_t)(VIEW_WINDOW_SIZE + VIEW_GUARD_ABOVE)) {
        /* Translated code never forms such an address: a popek bug. */
        dump_state(lp->env);
        return popek_fail(err,
                          "guest access at eip 0x%08x faulted outside the guest's view (host "
                          "address %#lx)",
                          cpu->arch.eip, (unsigned long)f->host_address);
    }
    struct shadow_fault sf;
    shadow_handle_fault(lp->env->mmu, (const uint8_t *)(uintptr_t)cpu->view_base,
                        (const void *)(uintptr_t)f->host_address, f->error_code & 2, &sf);
    guest_linear_t here = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
    if (sf.kind != SHADOW_FAULT_RETRY)
        lp->retries = 0;
    /* Every kind of host fault an access can keep taking counts: device
     * memory, code, page tables, and the demand paging of a loop that
     * touches a new page each time (a guest #PF, or a fill). */
    bool trapping_access = sf.kind != SHADOW_FAULT_OUTSIDE;
    if (sf.kind == SHADOW_FAULT_NOT_RAM)
        lp->stats->mmio_faults++;
    if (sf.unsynced_table)
        lp->stats->page_table_write_faults++;
    if (trapping_access && adaptive_note_fault(&lp->adaptive, here)) {
        /* It keeps trapping: its block is translated again with the
         * instruction as a callout (monitor/adaptive.h). */
        struct tc_block *b = tcache_block_at(lp->env->tc, (const void *)cpu->host_fault.host_rip);
        if (b && b->valid && !(b->mode_key & MODE_KEY_BOUNCE)) {
            if (log_enabled(LOG_MMU))
                log_printf("mmu: the instruction at %08x keeps trapping (%s): emulating it\n", here,
                           sf.kind == SHADOW_FAULT_NOT_RAM      ? "device memory"
                           : sf.kind == SHADOW_FAULT_CODE_WRITE ? "translated code"
                           : sf.kind == SHADOW_FAULT_GUEST_PF   ? "guest page faults"
                           : sf.unsynced_table                  ? "a page table"
                                                                : "shadow fills");
            tcache_invalidate_block(lp->env->tc, b);
            lp->stats->adaptive_retranslations++;
        }
    }
    switch (sf.kind) {
    case SHADOW_FAULT_RETRY:
        /* Mapped now: run the instruction again. A page that keeps
         * faulting (the host refused the mapping) is emulated instead. */
        lp->retries = here == lp->retry_eip && linear == lp->retry_linear ? lp->retries + 1 : 0;
        lp->retry_eip = here;
        lp->retry_linear = linear;
        lp->stats->shadow_fill_faults++;
        if (lp->retries < MAX_FILL_RETRIES)
            return true;
        lp->retries = 0;
        if (log_enabled(LOG_MMU))
            log_printf("mmu: eip %08x: access at linear %08lx keeps faulting (host error %#lx): "
                       "emulated\n",
                       here, (unsigned long)linear, (unsigned long)f->error_code);
        return emulate_faulting_access(lp, err);
    case SHADOW_FAULT_GUEST_PF:
        cpu->arch.cr2 = sf.linear;
        lp->stats->page_faults_delivered++;
        lp->refault = (struct pending_refault){.valid = true,
                                               .eip = here,
                                               .cs = cpu->arch.seg[SEG_CS].selector,
                                               .linear = sf.linear,
                                               .write = f->error_code & 2};
        return deliver_exception(lp, VEC_PF, true, sf.error_code, err);
    case SHADOW_FAULT_CODE_WRITE:
        /* A store into a frame holding translated code: the blocks whose
         * bytes it overwrites are dropped (memory_write), the frame made
         * writable once none is left. The store itself runs alone (against the bounce buffer,
         * written back through the monitor's mapping), so that whatever
         * follows it is translated from the new bytes — even the next
         * instruction of the same block. */
        lp->stats->smc_write_faults++;
        return emulate_faulting_access(lp, err); /* memory_write drops what it overwrites */
    case SHADOW_FAULT_NOT_RAM:
    case SHADOW_FAULT_OUTSIDE:
        /* Not RAM (emulated against the bus), or a 32-bit wrap into a
         * view guard (emulated with exact wrap-around). */
        if (log_enabled(LOG_MMU))
            log_printf("mmu: eip %08x: access at linear %08lx emulated (%s)\n", here,
                       (unsigned long)linear,
                       sf.kind == SHADOW_FAULT_NOT_RAM ? "not RAM" : "outside the window");
        return emulate_faulting_access(lp, err);
    }
    return false;
}

/* Brings the devices up to the host clock and host input (raising their
 * interrupt lines) and re-arms the host timer for the next deadline. */
static void service_devices(const struct run_env *env)
{
    uint64_t deadline = platform_service(env->platform);

    host_timer_arm(env->timer, deadline < env->stop_at_ns ? deadline : env->stop_at_ns);
}

/* The CPU's INTR line: the local APIC's, or the 8259A's when
 * IA32_APIC_BASE disables the APIC (devices/irq.h). */
static bool interrupt_waiting(const struct run_env *env)
{
    return irq_cpu_has_interrupt(env->irq, emul_lapic_enabled(&env->cpu->arch));
}

/* Delivers a pending external interrupt when the guest accepts one: IF set
 * and no interrupt shadow (SDM vol. 3, §6.8.3). Returns false when the
 * guest cannot go on; *delivered says whether one was taken, and *none
 * whether it found none waiting (so the caller need not ask again). */
static bool inject_interrupt(struct loop *lp, bool *delivered, bool *none, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;

    *delivered = false;
    *none = false;
    if (!(cpu->arch.eflags & EFLAGS_IF) || cpu->arch.interrupt_shadow)
        return true;
    if (!interrupt_waiting(lp->env)) {
        *none = true;
        return true;
    }
    int vector = irq_cpu_acknowledge(lp->env->irq, emul_lapic_enabled(&cpu->arch));
    if (log_enabled(LOG_INT))
        log_printf("int: external interrupt vector 0x%02x at eip=%08x\n", vector, cpu->arch.eip);
    lp->stats->interrupts_delivered++;
    *delivered = true;
    return deliver_event(lp, EMUL_EVENT_EXTERNAL, (uint8_t)vector, false, 0, err);
}

/* HLT: sleep until the next device deadline or a wake from host input.
 * False when nothing can ever wake the guest (interrupts disabled, or no
 * timer running and no input source). */
static bool wait_for_interrupt(struct loop *lp, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    uint64_t deadline = platform_next_deadline(lp->env->platform);
    bool has_input = platform_has_input(lp->env->platform);

    const volatile uint32_t *woken = &cpu->event_pending;

    if (lp->env->stop_at_ns != HOST_TIMER_NEVER) {
        /* Wake for the time limit too (the loop then stops the guest). */
        if (!(cpu->arch.eflags & EFLAGS_IF) || deadline > lp->env->stop_at_ns)
            deadline = lp->env->stop_at_ns;
        host_timer_sleep_until(lp->env->timer, deadline, woken);
        return true;
    }
    if (!(cpu->arch.eflags & EFLAGS_IF) || (deadline == HOST_TIMER_NEVER && !has_input)) {
        dump_state(lp->env);
        popek_fail(err, "guest halted at eip 0x%08x with %s", cpu->arch.eip,
                   (cpu->arch.eflags & EFLAGS_IF) ? "no interrupt source armed"
                                                  : "interrupts disabled");
        return false;
    }
    host_timer_sleep_until(lp->env->timer, deadline, woken);
    return true;
}

static struct loop loop_state; /* large (code and bounce buffers): not on the stack */

static int run_loop_body(const struct run_env *env, struct run_stats *stats,
                         struct popek_error *err);

int run_loop(const struct run_env *env, struct run_stats *stats, struct popek_error *err)
{
    tcache_set_drop_hook(env->tc, cache_drop_hook, (void *)env);
    int status = run_loop_body(env, stats, err);
    if (loop_state.reset_requested)
        status = RUN_RESET;
    /* env does not outlive this call; neither may the hook. */
    tcache_set_drop_hook(env->tc, NULL, NULL);
    signals_set_current(NULL, NULL);
    return status;
}

static int run_loop_body(const struct run_env *env, struct run_stats *stats,
                         struct popek_error *err)
{
    struct loop *lp = &loop_state;
    struct vcpu *cpu = env->cpu;
    bool halted = false;
    int status;

    memset(lp, 0, sizeof(*lp));
    lp->last_stale_callout = 0xFFFFFFFFu;
    lp->env = env;
    lp->stats = stats;
    lp->emul = (struct emul_env){
        .opaque = (void *)env,
        .read = memory_read,
        .write = memory_write,
        .port_in = port_in,
        .port_out = port_out,
        .read_tsc = read_tsc,
        .control_register_written = control_register_written,
        .invlpg = invlpg,
        .ram_address = ram_address,
        .clear_cpu_buffers = clear_cpu_buffers,
    };
    lp->adaptive.disabled = env->no_adaptive;
    current_loop = lp;
    if (!signals_install(err))
        return 1;
    signals_set_current(cpu, env->tc);
    cpu->exit_reason = 0;
    cpu->exit_link = 0;
    cpu->sti_shadow_eip = 0xFFFFFFFFu;

    lp->devices_due = true;
    for (;;) {
        bool delivered;

        lp->code_epoch++; /* the guest ran: decode_at_eip fetches anew */
        if (env->exit_requested(env->ctx, &status))
            return status;
        const char *reset_by = env->reset_requested ? env->reset_requested(env->ctx) : NULL;
        if (reset_by)
            return device_reset(lp, err, reset_by);
        if (__atomic_load_n(&cpu->event_pending, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&cpu->event_pending, 0, __ATOMIC_RELAXED);
            stats->events++;
            lp->devices_due = true;
        }
        if (lp->devices_due || halted) {
            service_devices(env);
            lp->devices_due = false;
            if (host_monotonic_ns() >= env->stop_at_ns) {
                dump_state(lp->env);
                popek_fail(err, "time limit reached (--time-limit) at eip 0x%08x", cpu->arch.eip);
                return 1;
            }
        }
        /* An exit right after an inline sti keeps its interrupt shadow. */
        if (cpu->sti_shadow_eip == cpu->arch.seg[SEG_CS].base + cpu->arch.eip)
            cpu->arch.interrupt_shadow = EMUL_SHADOW_STI;
        cpu->sti_shadow_eip = 0xFFFFFFFFu;
        bool none_waiting;
        if (!inject_interrupt(lp, &delivered, &none_waiting, err))
            return 1;
        if (delivered)
            halted = false;
        if (halted) {
            if (!wait_for_interrupt(lp, err))
                return 1;
            continue;
        }
        guest_linear_t eip = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
        uint32_t key = mode_key(&cpu->arch);
        /* An interrupt held back only by the shadow of sti (or mov ss) is
         * taken right after the next instruction: that one runs alone. */
        bool irq_waiting = !none_waiting && interrupt_waiting(env);
        bool single_step =
            cpu->arch.interrupt_shadow && (cpu->arch.eflags & EFLAGS_IF) && irq_waiting;
        if (single_step)
            key |= MODE_KEY_SINGLE;
        struct walk_result fetch;
        if (!shadow_translate(env->mmu, eip, WALK_FETCH, current_cpl(cpu) == 3, &fetch)) {
            /* The next instruction's page cannot be fetched: #PF with CR2
             * at it (SDM vol. 3, §4.7). */
            cpu->exit_link = 0;
            cpu->arch.cr2 = eip;
            stats->page_faults_delivered++;
            if (!deliver_exception(lp, VEC_PF, true, fetch.error_code, err))
                return 1;
            continue;
        }
        if (lp->refault.valid && lp->refault.eip == eip &&
            lp->refault.cs == cpu->arch.seg[SEG_CS].selector) {
            lp->refault.valid = false;
            shadow_prefill(env->mmu, lp->refault.linear, lp->refault.write, current_cpl(cpu) == 3);
        }
        struct tc_block *b = find_or_translate(lp, eip, fetch.phys, key);
        if (!b) {
            popek_fail(err, "cannot translate the block at 0x%08x", eip);
            return 1;
        }
        if (log_enabled(LOG_EXEC)) {
            /* Every block goes through here: no chaining, no inline caches,
             * and an indirect-branch tag that matches nothing. */
            log_printf("exec: block 0x%08x key %#x eax=%08x esp=%08x eflags=%08x\n", eip, key,
                       cpu->arch.regs[REG_EAX], cpu->arch.regs[REG_ESP], cpu->arch.eflags);
            cpu->ibl_mode_tag = ~0ull;
        } else {
            tcache_relink_into(env->tc, b);
            if (cpu->exit_link)
                tcache_chain_site(env->tc, (const void *)cpu->exit_link, b, fetch.global);
            else if (cpu->exit_reason == EXIT_BRANCH)
                stats->ibl_misses++;
            ibl_fill(lp, eip, key, b, fetch.global);
            cpu->ibl_mode_tag = (uint64_t)key << 32;
        }
        cpu->arch.interrupt_shadow = false;
        cpu->irq_waiting = irq_waiting;
        enter_translated(env, b->code);
        if (single_step)
            cpu->exit_link = 0; /* never chain out of a one-instruction block */
        if (log_enabled(LOG_CPU)) {
            log_printf("cpu: exit %u next_eip=%08x\n", cpu->exit_reason, cpu->next_eip);
            vcpu_state_dump(&cpu->arch, log_stream ? log_stream : stderr);
        }

        if (cpu->exit_reason != EXIT_FAULT)
            lp->retries = 0; /* it got somewhere */
        switch (cpu->exit_reason) {
        case EXIT_BRANCH:
            stats->exits_branch++;
            cpu->arch.eip = cpu->next_eip - cpu->arch.seg[SEG_CS].base;
            break;
        case EXIT_CALLOUT: {
            const struct emul_decoded_insn *handed =
                (const struct emul_decoded_insn *)(uintptr_t)cpu->exit_link;
            stats->exits_callout++;
            if (cpu->callout_mnemonic < RUN_STATS_MNEMONICS)
                stats->callouts[cpu->callout_mnemonic]++;
            cpu->exit_link = 0;
            cpu->next_eip -= cpu->arch.seg[SEG_CS].base;
            if (!run_callouts(lp, handed, err, &halted))
                return 1;
            break;
        }
        case EXIT_RAISE:
            stats->exits_raise++;
            cpu->exit_link = 0;
            cpu->arch.eip = cpu->next_eip - cpu->arch.seg[SEG_CS].base;
            if (!deliver_exception(lp, (uint8_t)cpu->raise_vector,
                                   vector_has_error_code(cpu->raise_vector), cpu->raise_error, err))
                return 1;
            break;
        case EXIT_FAULT:
            stats->exits_fault++;
            if (cpu->host_fault.signo == SIGSEGV)
                stats->signals_segv++;
            else if (cpu->host_fault.signo == SIGFPE)
                stats->signals_fpe++;
            else
                stats->signals_other++;
            cpu->exit_link = 0;
            cpu->arch.eip -= cpu->arch.seg[SEG_CS].base;
            if (!handle_host_fault(lp, err))
                return 1;
            break;
        default:
            popek_fail(err, "translated code exited with unknown reason %u", cpu->exit_reason);
            return 1;
        }
    }
}
