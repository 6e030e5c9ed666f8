/*
 * monitor/signals.c — turning host faults in translated code into precise
 * guest state (signals.h).
 */
#include "monitor/signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

#include "devices/chardev.h"
#include "monitor/trampoline.h"

#define ALT_STACK_SIZE (64 * 1024)

static __thread struct vcpu *current_cpu;
static __thread struct tcache *current_tc;

void signals_set_current(struct vcpu *cpu, struct tcache *tc)
{
    current_cpu = cpu;
    current_tc = tc;
}

/* Host register numbers of the guest's eax..edi in the signal frame. */
static const int guest_greg[REG_COUNT] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX,
                                          REG_RSP, REG_RBP, REG_RSI, REG_RDI};

static void guest_fault_handler(int signo, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    greg_t *gregs = uc->uc_mcontext.gregs;
    void *rip = (void *)gregs[REG_RIP];
    struct vcpu *cpu = current_cpu;
    struct tc_block *block = current_tc ? tcache_block_at(current_tc, rip) : NULL;
    const struct translated_insn *insn = block ? tcache_insn_at(block, rip) : NULL;

    if (!cpu || !insn) {
        /* Not guest code: let the default action report the bug, with the
         * user's terminal back as it was. */
        chardev_restore_terminal();
        signal(signo, SIG_DFL);
        return;
    }
    /* Every guest register is the low 32 bits of its host register; that
     * also undoes the view bias of string instructions (the base is 4 GiB
     * aligned). */
    for (int i = 0; i < REG_COUNT; i++)
        cpu->arch.regs[i] = (uint32_t)gregs[guest_greg[i]];
    if (insn->fixup == FIXUP_TEMP_IN_R11)
        cpu->arch.regs[insn->fixup_reg] = (uint32_t)gregs[REG_R11];
    if (insn->fixup == FIXUP_STRING_BIASED && (insn->fixup_reg & 15))
        cpu->arch.regs[REG_ESI] -= cpu->arch.seg[(insn->fixup_reg & 15) - 1].base;
    if (insn->fixup == FIXUP_STRING_BIASED && (insn->fixup_reg >> 4))
        cpu->arch.regs[REG_EDI] -= cpu->arch.seg[(insn->fixup_reg >> 4) - 1].base;
    cpu->arch.eflags = (cpu->arch.eflags & ~(VCPU_HOST_FLAGS_MASK | EFLAGS_IF)) |
                       ((uint32_t)gregs[REG_EFL] & VCPU_HOST_FLAGS_MASK) |
                       ((uint32_t)cpu->virtual_if << 9);
    cpu->arch.eip = insn->eip;
    cpu->next_eip = insn->eip;
    cpu->exit_reason = EXIT_FAULT;
    cpu->exit_link = 0;
    cpu->host_fault.signo = signo;
    cpu->host_fault.code = info->si_code;
    cpu->host_fault.host_address = (uint64_t)info->si_addr;
    cpu->host_fault.error_code = (uint64_t)gregs[REG_ERR];
    cpu->host_fault.host_rip = (uint64_t)rip;

    /* Resume on the monitor's stack at the common exit path. The FPU state
     * restored on return is the guest's, which the landing saves. */
    gregs[REG_R15] = (greg_t)cpu;
    gregs[REG_RSP] = (greg_t)cpu->host_rsp;
    gregs[REG_RIP] = (greg_t)tc_fault_landing;
    gregs[REG_EFL] &= ~(greg_t)(EFLAGS_DF | EFLAGS_TF);
}

/* The block the monitor is about to enter (signals_begin_entry), while it
 * is on its way there in C. */
static __thread const void *volatile entering_code;

/* Makes the block at `code` return to the monitor when it ends: its direct
 * exits point at their stubs and every indirect-branch probe misses. Blocks
 * are short (at most 64 instructions, no loops inside). Async-signal-safe. */
static void stop_chaining(struct vcpu *cpu, const void *code)
{
    struct tc_block *block = tcache_block_at(current_tc, code);

    if (block)
        tcache_unlink_block_async(current_tc, block);
    cpu->ibl_mode_tag = ~0ull; /* matches no entry: indirect branches exit */
}

/* The event nudge (monitor/host_timer.c): a device deadline passed, or an
 * input thread has something. Translated code does not poll for events;
 * the nudge sets the event flag and makes the running block, or the one
 * the monitor is about to enter, return to the monitor when it ends. A
 * nudge that lands in the monitor before signals_begin_entry is seen there
 * through the flag. */
static void event_nudge_handler(int signo, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;
    void *rip = (void *)uc->uc_mcontext.gregs[REG_RIP];
    struct vcpu *cpu = current_cpu;

    if (!cpu)
        return;
    __atomic_store_n(&cpu->event_pending, 1, __ATOMIC_RELEASE);
    if (!current_tc)
        return;
    if (tcache_contains_code(current_tc, rip))
        stop_chaining(cpu, rip);
    else if (entering_code)
        stop_chaining(cpu, entering_code);
}

void signals_begin_entry(const void *code)
{
    entering_code = code;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (current_cpu && current_tc && __atomic_load_n(&current_cpu->event_pending, __ATOMIC_ACQUIRE))
        stop_chaining(current_cpu, code);
}

void signals_end_entry(void)
{
    entering_code = NULL;
}

bool signals_install(struct popek_error *err)
{
    /* The alternate stack lives as long as the thread that runs guests
     * (one per process: the vCPU thread); once per thread, since runs
     * repeat after a reset. */
    static __thread bool installed;
    static __thread uint8_t alt_stack[ALT_STACK_SIZE] __attribute__((aligned(64)));
    stack_t ss = {.ss_sp = alt_stack, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    struct sigaction sa;

    if (installed)
        return true;
    if (sigaltstack(&ss, NULL) < 0)
        return popek_fail(err, "cannot set up the signal stack: %s", strerror(errno));
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = guest_fault_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, NULL) < 0 || sigaction(SIGBUS, &sa, NULL) < 0 ||
        sigaction(SIGFPE, &sa, NULL) < 0 || sigaction(SIGILL, &sa, NULL) < 0)
        return popek_fail(err, "cannot install signal handlers: %s", strerror(errno));
    sa.sa_sigaction = event_nudge_handler;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    if (sigaction(SIGNAL_EVENT_NUDGE, &sa, NULL) < 0)
        return popek_fail(err, "cannot install signal handlers: %s", strerror(errno));
    installed = true;
    return true;
}
