/*
 * monitor/run_loop.c — the monitor's dispatch loop (run_loop.h).
 *
 * Paging is off in this version: guest linear addresses are physical, code is
 * fetched straight from guest RAM, and emul/ reaches memory through the
 * monitor's own mapping of RAM (reads outside RAM float high, writes vanish,
 * as on a PC bus with nothing behind the address).
 */
#include "monitor/run_loop.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <x86intrin.h>

#include "common/log.h"
#include "emul/emul.h"
#include "monitor/signals.h"
#include "monitor/trampoline.h"
#include "translator/trace.h"

#define CODE_BUFFER_BYTES (64 * 1024)
#define BOUNCE_BYTES      4096
#define MODE_KEY_BOUNCE   0x80000000u /* blocks re-executing one access against the buffer */

struct loop {
    const struct run_env *env;
    bool reset_requested;              /* a triple fault without -no-reboot */
    guest_linear_t last_stale_callout; /* see handle_callout */
    const char *unsupported_mode;      /* set when the guest entered a mode popek lacks */
    struct run_stats *stats;
    struct emul_env emul;
    uint8_t code[CODE_BUFFER_BYTES];
    uint8_t bounce[BOUNCE_BYTES] __attribute__((aligned(64)));
};

/* ---- guest memory for the translator and emul/ (paging off) --------------- */

static size_t fetch_code(void *opaque, guest_linear_t eip, uint8_t *buf, size_t len)
{
    const struct run_env *env = opaque;
    size_t n = 0;

    while (n < len) {
        guest_phys_t addr = eip + (uint32_t)n;
        if (!guest_ram_is_usable_frame(env->ram, addr >> GUEST_PAGE_SHIFT))
            break;
        buf[n] = *(uint8_t *)guest_ram_host_ptr(env->ram, addr, 1);
        n++;
    }
    return n;
}

static bool memory_read(void *opaque, guest_linear_t addr, void *buf, unsigned len,
                        enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    const struct run_env *env = opaque;
    uint8_t *out = buf;

    for (unsigned i = 0; i < len; i++) {
        guest_phys_t a = addr + i; /* wraps at 4 GiB like the hardware */
        out[i] = guest_ram_is_usable_frame(env->ram, a >> GUEST_PAGE_SHIFT)
                     ? *(uint8_t *)guest_ram_host_ptr(env->ram, a, 1)
                     : 0xFF;
    }
    return true;
}

static bool memory_write(void *opaque, guest_linear_t addr, const void *buf, unsigned len,
                         enum emul_access access, unsigned cpl, struct emul_fault *fault)
{
    const struct run_env *env = opaque;
    const uint8_t *in = buf;

    for (unsigned i = 0; i < len; i++) {
        guest_phys_t a = addr + i;
        if (guest_ram_is_usable_frame(env->ram, a >> GUEST_PAGE_SHIFT))
            *(uint8_t *)guest_ram_host_ptr(env->ram, a, 1) = in[i];
    }
    /* Code may have changed: drop translations of what was written. */
    tcache_invalidate_range(env->tc, addr, len);
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

/* CR0 changes the translator cannot follow yet stop the guest cleanly. */
static struct loop *current_loop;
static void control_register_written(void *opaque, unsigned crn, uint32_t old_value)
{
    const struct run_env *env = opaque;
    uint32_t cr0 = env->cpu->arch.cr0;

    if (crn != 0 || !current_loop)
        return;
    if (cr0 & CR0_PG)
        current_loop->unsupported_mode = "guest paging (CR0.PG=1) is not supported yet";
    else if (!(cr0 & CR0_PE))
        current_loop->unsupported_mode = "real mode (CR0.PE=0) is not supported yet";
}

/* ---- translation -------------------------------------------------------- */

/* Everything a translation assumes about the vCPU: CPL and which segment
 * bases are non-zero (those are added at run time). */
/* Everything a translation assumes about the vCPU, as a cache key:
 *   bits 0-1   CPL
 *   bits 2-7   segments (ES..GS) with a non-zero base, added at run time
 *   bits 8-13  segments holding a null selector (accesses raise #GP(0))
 *   bits 14-17 CR0.TS/EM/MP and CR4.OSFXSR as TRANSLATE_FPU_* (x87/SSE faults)
 *   bit 31     bounce blocks (MODE_KEY_BOUNCE) */
static uint32_t mode_key(const struct vcpu_state *s)
{
    uint32_t bases = 0, unusable = 0;

    for (int i = 0; i < SEG_COUNT; i++) {
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

static struct tc_block *find_or_translate(struct loop *lp, guest_linear_t eip, uint32_t key)
{
    bool bounce = key & MODE_KEY_BOUNCE;
    const struct run_env *env = lp->env;
    struct tc_block *b = tcache_lookup(env->tc, eip, key);
    struct translated_block tb;
    struct emit_buf buf;

    if (b)
        return b;
    struct translate_config cfg = {
        .fetch = fetch_code,
        .opaque = (void *)env,
        .nonzero_bases = (segment_base_mask)((key >> 2) & 0x3F),
        .unusable_segments = (segment_base_mask)((key >> 8) & 0x3F),
        .fpu_mode = (key >> 14) & 0xF,
        .max_insns = TRANSLATE_MAX_INSNS,
        .count_indirect = env->collect_stats,
        .bounce_buffer = bounce ? (uint64_t)(uintptr_t)lp->bounce : 0,
    };
    emit_init(&buf, lp->code, sizeof(lp->code));
    if (!translate_block(&cfg, eip, &buf, &tb))
        return NULL;
    uint64_t flushes = tcache_stats(env->tc)->flushes;
    b = tcache_insert_or_evict(env->tc, &tb, lp->code, key);
    if (tcache_stats(env->tc)->flushes != flushes)
        env->cpu->exit_link = 0; /* the exit that led here is gone */
    if (b && !bounce) {
        /* Self-modifying code: the pages this block was read from are
         * write-protected until the block is dropped. */
        code_pages_protect(env->code_pages, eip);
        if (tb.guest_size)
            code_pages_protect(env->code_pages, eip + tb.guest_size - 1);
    }
    if (b && (log_enabled(LOG_IN_ASM) || log_enabled(LOG_OUT_ASM)))
        trace_block(log_stream ? log_stream : stderr, log_enabled(LOG_IN_ASM),
                    log_enabled(LOG_OUT_ASM), &tb, &cfg, b->code);
    return b;
}

/* ---- the indirect-branch table ------------------------------------------- */

static void ibl_fill(struct vcpu *cpu, guest_linear_t eip, uint32_t key, const struct tc_block *b)
{
    struct vcpu_ibl_entry *e = &cpu->ibl[eip & (VCPU_IBL_ENTRIES - 1)];

    e->host_code = (uint64_t)(uintptr_t)b->code;
    e->not_tag = ~((uint64_t)key << 32 | eip);
}

static void cache_drop_hook(void *ctx, const struct tc_block *b)
{
    const struct run_env *env = ctx;
    struct vcpu *cpu = env->cpu;

    if (!b) {
        memset(cpu->ibl, 0, sizeof(cpu->ibl)); /* not_tag 0 matches no (eip, key) */
        code_pages_unprotect_all(env->code_pages);
        return;
    }
    struct vcpu_ibl_entry *e = &cpu->ibl[b->eip & (VCPU_IBL_ENTRIES - 1)];
    if (e->host_code == (uint64_t)(uintptr_t)b->code)
        memset(e, 0, sizeof(*e));
}

/* ---- events and faults --------------------------------------------------- */

static void dump_state(const struct vcpu *cpu)
{
    vcpu_state_dump(&cpu->arch, stderr);
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
    dump_state(cpu);
    return popek_fail(err, "guest triple fault (%s) at eip 0x%08x", what, cpu->arch.eip);
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
        dump_state(cpu);
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

/* The guest instruction at CS:EIP, fetched and decoded once for the
 * monitor's decisions about it (a fault's class, what it accesses). */
struct insn_at_eip {
    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    size_t nbytes; /* how many could be read (RAM only) */
    bool decoded;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
};

static void decode_at_eip(struct loop *lp, struct insn_at_eip *at)
{
    const struct vcpu *cpu = lp->env->cpu;

    at->nbytes = fetch_code((void *)lp->env, cpu->arch.seg[SEG_CS].base + cpu->arch.eip, at->bytes,
                            sizeof(at->bytes));
    at->decoded = at->nbytes && translate_decode(at->bytes, at->nbytes, &at->insn, at->ops);
}

/* False when the instruction at EIP is not wholly in RAM (it runs off the
 * end of RAM or sits in the hole), which the translator cannot fetch. */
static bool code_in_ram(struct loop *lp)
{
    struct insn_at_eip at;

    decode_at_eip(lp, &at);
    return at.nbytes == sizeof(at.bytes) || at.decoded;
}

static enum insn_class class_at_eip(struct loop *lp);

static bool handle_callout(struct loop *lp, struct popek_error *err, bool *halted)
{
    struct vcpu *cpu = lp->env->cpu;
    struct emul_fault fault;
    char why[256] = "";

    cpu->arch.eip = cpu->next_eip;
    switch (emul_execute(&cpu->arch, &lp->emul, &fault, why, sizeof(why))) {
    case EMUL_OK:
        lp->last_stale_callout = 0xFFFFFFFFu;
        if (lp->unsupported_mode) {
            dump_state(cpu);
            return popek_fail(err, "at eip 0x%08x: %s", cpu->arch.eip, lp->unsupported_mode);
        }
        return true;
    case EMUL_HALT:
        *halted = true;
        return true;
    case EMUL_FAULT:
        if (fault.vector == VEC_PF)
            cpu->arch.cr2 = fault.fault_address;
        return deliver_exception(lp, fault.vector, fault.has_error_code, fault.error_code, err);
    case EMUL_TRIPLE_FAULT:
        return triple_fault(lp, err, "executing a system instruction");
    case EMUL_UNSUPPORTED:
        guest_linear_t here = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
        if (class_at_eip(lp) != INSN_CALLOUT && here != lp->last_stale_callout) {
            /* The bytes are no longer the callout this block was made from
             * (a write the cache missed): drop it and translate again —
             * once; a translator that cannot translate the instruction
             * would bring it straight back here. */
            lp->last_stale_callout = here;
            lp->stats->stale_callouts++;
            tcache_invalidate_range(lp->env->tc, cpu->arch.seg[SEG_CS].base + cpu->arch.eip, 1);
            return true;
        }
        /* Stack and string forms the translator leaves to the monitor
         * (16-bit operand sizes: ret 16, leave 16...) are emulated by the
         * implicit-memory emulator. */
        switch (emul_execute_implicit(&cpu->arch, &lp->emul, &fault, NULL, 0)) {
        case EMUL_OK:
            return true;
        case EMUL_FAULT:
            if (fault.vector == VEC_PF)
                cpu->arch.cr2 = fault.fault_address;
            return deliver_exception(lp, fault.vector, fault.has_error_code, fault.error_code, err);
        default:
            break;
        }
        break;
    }
    dump_state(cpu);
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
    struct insn_at_eip at;

    decode_at_eip(lp, &at);
    return at.decoded ? classify_instruction(&at.insn, at.ops) : INSN_CALLOUT;
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
    switch (emul_execute_implicit(&cpu->arch, &lp->emul, &fault, why, sizeof(why))) {
    case EMUL_OK:
        return true;
    case EMUL_FAULT:
        if (fault.vector == VEC_PF)
            cpu->arch.cr2 = fault.fault_address;
        return deliver_exception(lp, fault.vector, fault.has_error_code, fault.error_code, err);
    default:
        dump_state(cpu);
        return popek_fail(err, "%s", why[0] ? why : "cannot emulate a faulting guest access");
    }
}

/* jmp [mem] whose pointer is not in RAM or wraps: load the target the way
 * the hardware would (32-bit address arithmetic, RAM or floating bus). */
static bool emulate_indirect_jump(struct loop *lp)
{
    struct vcpu *cpu = lp->env->cpu;
    struct insn_at_eip at;
    struct emul_access_desc access;
    struct emul_fault unused;
    uint32_t target = 0;

    decode_at_eip(lp, &at);
    if (!at.decoded || at.insn.mnemonic != ZYDIS_MNEMONIC_JMP || at.insn.operand_width != 32 ||
        !emul_describe_access(&cpu->arch, at.bytes, at.nbytes, &access) || access.size != 4)
        return false;
    memory_read((void *)lp->env, access.address, &target, 4, EMUL_ACCESS_READ, 0, &unused);
    cpu->arch.eip = target;
    return true;
}

/* An access that faulted on the host for a reason that is not the guest's
 * (not RAM, or a 32-bit wrap): emulate the one instruction, by its class. */
static bool emulate_faulting_access(struct loop *lp, struct popek_error *err)
{
    switch (class_at_eip(lp)) {
    case INSN_IDENT:
        return bounce_execute(lp, err);
    case INSN_BRANCH:
        if (emulate_indirect_jump(lp))
            return true;
        return emulate_implicit_access(lp, err);
    case INSN_STACK:
    case INSN_STRING:
    case INSN_XLAT:
        return emulate_implicit_access(lp, err);
    default:
        dump_state(lp->env->cpu);
        return popek_fail(err, "cannot emulate the faulting access of the instruction at 0x%08x",
                          lp->env->cpu->arch.eip);
    }
}

static bool bounce_execute(struct loop *lp, struct popek_error *err)
{
    const struct run_env *env = lp->env;
    struct vcpu *cpu = env->cpu;
    guest_linear_t eip = cpu->arch.seg[SEG_CS].base + cpu->arch.eip;
    struct insn_at_eip at;
    struct emul_access_desc access;
    struct emul_fault unused;

    decode_at_eip(lp, &at);
    if (!emul_describe_access(&cpu->arch, at.bytes, at.nbytes, &access) ||
        access.size > BOUNCE_BYTES) {
        dump_state(cpu);
        return popek_fail(err,
                          "cannot emulate the faulting access of the instruction at 0x%08x "
                          "(only single-operand ident instructions are re-executed)",
                          eip);
    }
    memory_read((void *)env, access.address, lp->bounce, access.size, EMUL_ACCESS_READ, 0, &unused);
    uint32_t key = mode_key(&cpu->arch) | MODE_KEY_BOUNCE;
    struct tc_block *b = find_or_translate(lp, eip, key);
    if (!b || b->ninsns != 1 || b->insns[0].cls != INSN_IDENT) {
        dump_state(cpu);
        return popek_fail(err, "cannot re-execute the instruction at 0x%08x", eip);
    }
    lp->stats->bounce_executions++;
    cpu->ibl_mode_tag = (uint64_t)key << 32;
    tc_enter(cpu, b->code);
    cpu->exit_link = 0; /* never chain out of a bounce block */
    switch (cpu->exit_reason) {
    case EXIT_BRANCH:
        cpu->arch.eip = cpu->next_eip - cpu->arch.seg[SEG_CS].base;
        if (access.writes)
            memory_write((void *)env, access.address, lp->bounce, access.size, EMUL_ACCESS_WRITE, 0,
                         &unused);
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
    dump_state(cpu);
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
    struct insn_at_eip at;

    decode_at_eip(lp, &at);
    if (at.decoded &&
        (at.insn.meta.isa_set == ZYDIS_ISA_SET_SSE || at.insn.meta.isa_set == ZYDIS_ISA_SET_SSE2))
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
    int64_t linear = (int64_t)(f->host_address - cpu->view_base);
    if (f->signo == SIGSEGV && linear >= 0 && linear < (int64_t)GIB(4) &&
        code_pages_is_protected(lp->env->code_pages, (guest_linear_t)linear)) {
        /* A store into translated code: drop the page's blocks and make it
         * writable. The store itself runs alone (against the bounce buffer,
         * written back through the monitor's mapping), so that whatever
         * follows it is translated from the new bytes — even the next
         * instruction of the same block. */
        guest_linear_t page = (guest_linear_t)linear & GUEST_PAGE_MASK;
        lp->stats->smc_write_faults++;
        tcache_invalidate_range(lp->env->tc, page, GUEST_PAGE_SIZE);
        code_pages_unprotect(lp->env->code_pages, page);
        return emulate_faulting_access(lp, err);
    }
    if (f->signo == SIGSEGV && linear >= -(int64_t)VIEW_GUARD_BELOW &&
        linear < (int64_t)(VIEW_WINDOW_SIZE + VIEW_GUARD_ABOVE))
        return emulate_faulting_access(lp, err);
    dump_state(cpu);
    popek_fail(err,
               "guest access at eip 0x%08x faulted on the host (signal %d, host address %#lx): "
               "MMIO and wrap-around emulation are not built yet",
               cpu->arch.eip, f->signo, (unsigned long)f->host_address);
    return false;
}

/* Brings the timer devices up to the host clock (raising their IRQs on the
 * PIC) and re-arms the host timer for the next deadline. */
static void service_devices(const struct run_env *env)
{
    uint64_t deadline;

    pit8254_update(env->pit);
    deadline = pit8254_next_deadline(env->pit);
    host_timer_arm(env->timer, deadline < env->stop_at_ns ? deadline : env->stop_at_ns);
}

/* Delivers a pending external interrupt when the guest accepts one: IF set
 * and no interrupt shadow (SDM vol. 3, §6.8.3). Returns false when the
 * guest cannot go on; *delivered says whether one was taken. */
static bool inject_interrupt(struct loop *lp, bool *delivered, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;

    *delivered = false;
    if (!(cpu->arch.eflags & EFLAGS_IF) || cpu->arch.interrupt_shadow ||
        !pic8259_has_interrupt(lp->env->pic))
        return true;
    int vector = pic8259_acknowledge(lp->env->pic);
    if (log_enabled(LOG_INT))
        log_printf("int: external interrupt vector 0x%02x at eip=%08x\n", vector, cpu->arch.eip);
    lp->stats->interrupts_delivered++;
    *delivered = true;
    return deliver_event(lp, EMUL_EVENT_EXTERNAL, (uint8_t)vector, false, 0, err);
}

/* HLT: sleep until the next device deadline. False when nothing can ever
 * wake the guest (interrupts disabled, or no timer running). */
static bool wait_for_interrupt(struct loop *lp, struct popek_error *err)
{
    struct vcpu *cpu = lp->env->cpu;
    uint64_t deadline = pit8254_next_deadline(lp->env->pit);

    if (lp->env->stop_at_ns != HOST_TIMER_NEVER) {
        /* Wake for the time limit too (the loop then stops the guest). */
        if (!(cpu->arch.eflags & EFLAGS_IF) || deadline > lp->env->stop_at_ns)
            deadline = lp->env->stop_at_ns;
        host_sleep_until(deadline);
        return true;
    }
    if (!(cpu->arch.eflags & EFLAGS_IF) || deadline == HOST_TIMER_NEVER) {
        dump_state(cpu);
        popek_fail(err, "guest halted at eip 0x%08x with %s", cpu->arch.eip,
                   (cpu->arch.eflags & EFLAGS_IF) ? "no interrupt source armed"
                                                  : "interrupts disabled");
        return false;
    }
    host_sleep_until(deadline);
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
    };
    current_loop = lp;
    if (!signals_install(err))
        return 1;
    signals_set_current(cpu, env->tc);
    cpu->exit_reason = 0;
    cpu->exit_link = 0;

    bool devices_due = true;
    for (;;) {
        bool delivered;

        if (env->exit_requested(env->ctx, &status))
            return status;
        if (__atomic_load_n(&cpu->event_pending, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&cpu->event_pending, 0, __ATOMIC_RELAXED);
            stats->events++;
            devices_due = true;
        }
        if (devices_due || halted) {
            service_devices(env);
            devices_due = false;
            if (host_monotonic_ns() >= env->stop_at_ns) {
                dump_state(cpu);
                popek_fail(err, "time limit reached (--time-limit) at eip 0x%08x", cpu->arch.eip);
                return 1;
            }
        }
        if (!inject_interrupt(lp, &delivered, err))
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
        struct tc_block *b = find_or_translate(lp, eip, key);
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
            if (cpu->exit_link)
                tcache_chain_site(env->tc, (const void *)cpu->exit_link, b);
            else if (cpu->exit_reason == EXIT_BRANCH)
                stats->ibl_misses++;
            ibl_fill(cpu, eip, key, b);
            cpu->ibl_mode_tag = (uint64_t)key << 32;
        }
        cpu->arch.interrupt_shadow = false;
        tc_enter(cpu, b->code);
        if (log_enabled(LOG_CPU)) {
            log_printf("cpu: exit %u next_eip=%08x\n", cpu->exit_reason, cpu->next_eip);
            vcpu_state_dump(&cpu->arch, log_stream ? log_stream : stderr);
        }

        switch (cpu->exit_reason) {
        case EXIT_BRANCH:
            stats->exits_branch++;
            cpu->arch.eip = cpu->next_eip - cpu->arch.seg[SEG_CS].base;
            break;
        case EXIT_CALLOUT:
            stats->exits_callout++;
            if (cpu->callout_mnemonic < RUN_STATS_MNEMONICS)
                stats->callouts[cpu->callout_mnemonic]++;
            cpu->exit_link = 0;
            cpu->next_eip -= cpu->arch.seg[SEG_CS].base;
            if (!handle_callout(lp, err, &halted))
                return 1;
            devices_due = true; /* port I/O may have reprogrammed a device */
            break;
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
