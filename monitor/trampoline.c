/*
 * monitor/trampoline.c — entering and leaving translated code (trampoline.h).
 *
 * Written as naked functions so the vCPU field offsets come from offsetof()
 * through "i" operands instead of hand-kept constants.
 *
 * While translated code runs: r15 = vcpu, r13 = view base, r12 = r13 + 2^31,
 * eax..edi and esp = the guest's registers (upper halves zero), RFLAGS'
 * arithmetic bits and DF = the guest's. The host stack pointer lives in
 * vcpu->host_rsp; nothing may push on the guest's RSP.
 */
#include "monitor/trampoline.h"

/* The x87 control word and MXCSR the host's C code expects (SysV ABI). */
static const uint32_t host_mxcsr = 0x1F80;

#define REG_OFFSET(n) "i"(offsetof(struct vcpu, arch.regs) + 4 * (n))

__attribute__((naked)) void tc_enter(struct vcpu *cpu, const void *code)
{
    __asm__ volatile(
        "push %%rbp\n\t"
        "push %%rbx\n\t"
        "push %%r12\n\t"
        "push %%r13\n\t"
        "push %%r14\n\t"
        "push %%r15\n\t"
        "sub $8, %%rsp\n\t"
        "mov %%rdi, %%r15\n\t"
        "mov %%rsp, %c[host_rsp](%%r15)\n\t"
        /* The guest's SSE registers and MXCSR back (see tc_fault_landing). */
        "movdqa %c[xmm](%%r15), %%xmm0\n\t"
        "movdqa %c[xmm]+16(%%r15), %%xmm1\n\t"
        "movdqa %c[xmm]+32(%%r15), %%xmm2\n\t"
        "movdqa %c[xmm]+48(%%r15), %%xmm3\n\t"
        "movdqa %c[xmm]+64(%%r15), %%xmm4\n\t"
        "movdqa %c[xmm]+80(%%r15), %%xmm5\n\t"
        "movdqa %c[xmm]+96(%%r15), %%xmm6\n\t"
        "movdqa %c[xmm]+112(%%r15), %%xmm7\n\t"
        "ldmxcsr %c[mxcsr_at](%%r15)\n\t"
        "mov %c[view](%%r15), %%r13\n\t"
        "mov %c[view_high](%%r15), %%r12\n\t"
        "mov %%rsi, %%r14\n\t"
        /* EFLAGS.IF into the byte inline cli/sti write. */
        "mov %c[eflags](%%r15), %%eax\n\t"
        "shr $9, %%eax\n\t"
        "and $1, %%eax\n\t"
        "mov %%al, %c[vif](%%r15)\n\t"
        /* Guest arithmetic flags and DF into RFLAGS, on the host stack. */
        "mov %c[eflags](%%r15), %%eax\n\t"
        "and %[flags_mask], %%eax\n\t"
        "push %%rax\n\t"
        "popfq\n\t"
        "mov %c[eax](%%r15), %%eax\n\t"
        "mov %c[ecx](%%r15), %%ecx\n\t"
        "mov %c[edx](%%r15), %%edx\n\t"
        "mov %c[ebx](%%r15), %%ebx\n\t"
        "mov %c[ebp](%%r15), %%ebp\n\t"
        "mov %c[esi](%%r15), %%esi\n\t"
        "mov %c[edi](%%r15), %%edi\n\t"
        "mov %c[esp](%%r15), %%esp\n\t"
        "jmp *%%r14\n\t"
        :
        : [host_rsp] "i"(offsetof(struct vcpu, host_rsp)),
          [xmm] "i"(offsetof(struct vcpu, fpu_state) + FXSAVE_XMM0),
          [mxcsr_at] "i"(offsetof(struct vcpu, fpu_state) + FXSAVE_MXCSR),
          [view] "i"(offsetof(struct vcpu, view_base)),
          [view_high] "i"(offsetof(struct vcpu, view_base_high)),
          [eflags] "i"(offsetof(struct vcpu, arch.eflags)), [flags_mask] "i"(VCPU_HOST_FLAGS_MASK),
          [vif] "i"(offsetof(struct vcpu, virtual_if)), [eax] REG_OFFSET(0), [ecx] REG_OFFSET(1),
          [edx] REG_OFFSET(2), [ebx] REG_OFFSET(3), [esp] REG_OFFSET(4), [ebp] REG_OFFSET(5),
          [esi] REG_OFFSET(6), [edi] REG_OFFSET(7));
}

__attribute__((naked)) void tc_exit_routine(void)
{
    __asm__ volatile(
        "mov %%eax, %c[eax](%%r15)\n\t"
        "mov %%ecx, %c[ecx](%%r15)\n\t"
        "mov %%edx, %c[edx](%%r15)\n\t"
        "mov %%ebx, %c[ebx](%%r15)\n\t"
        "mov %%esp, %c[esp](%%r15)\n\t"
        "mov %%ebp, %c[ebp](%%r15)\n\t"
        "mov %%esi, %c[esi](%%r15)\n\t"
        "mov %%edi, %c[edi](%%r15)\n\t"
        "mov %%r14, %c[link](%%r15)\n\t"
        "mov %c[host_rsp](%%r15), %%rsp\n\t"
        /* Merge RFLAGS' guest bits into the vCPU's EFLAGS. */
        "pushfq\n\t"
        "pop %%rax\n\t"
        "and %[flags_mask], %%eax\n\t"
        "mov %c[eflags](%%r15), %%ecx\n\t"
        "and %[not_mask], %%ecx\n\t"
        "or %%ecx, %%eax\n\t"
        /* ...and the virtual IF inline cli/sti may have changed. */
        "and %[not_if], %%eax\n\t"
        "movzbl %c[vif](%%r15), %%ecx\n\t"
        "shl $9, %%ecx\n\t"
        "or %%ecx, %%eax\n\t"
        "mov %%eax, %c[eflags](%%r15)\n\t"
        "jmp tc_fault_landing\n\t"
        :
        : [host_rsp] "i"(offsetof(struct vcpu, host_rsp)),
          [link] "i"(offsetof(struct vcpu, exit_link)),
          [eflags] "i"(offsetof(struct vcpu, arch.eflags)), [flags_mask] "i"(VCPU_HOST_FLAGS_MASK),
          [not_mask] "i"(~VCPU_HOST_FLAGS_MASK), [not_if] "i"(~EFLAGS_IF),
          [vif] "i"(offsetof(struct vcpu, virtual_if)), [eax] REG_OFFSET(0), [ecx] REG_OFFSET(1),
          [edx] REG_OFFSET(2), [ebx] REG_OFFSET(3), [esp] REG_OFFSET(4), [ebp] REG_OFFSET(5),
          [esi] REG_OFFSET(6), [edi] REG_OFFSET(7));
}

__attribute__((naked)) void tc_fault_landing(void)
{
    __asm__ volatile(
        /* Keep the guest's SSE state and give C code the ABI's MXCSR. The
         * guest has xmm0-7 (all SysV C code may clobber); its x87/MMX
         * state stays live in the registers, because popek's C code never
         * uses the x87 (no long double anywhere): saving it on every exit
         * cost a fifth of a callout. Layout as fxsave's (SDM vol. 1,
         * §10.5.1; FXSAVE_* in vcpu_runtime.h). */
        "movdqa %%xmm0, %c[xmm](%%r15)\n\t"
        "movdqa %%xmm1, %c[xmm]+16(%%r15)\n\t"
        "movdqa %%xmm2, %c[xmm]+32(%%r15)\n\t"
        "movdqa %%xmm3, %c[xmm]+48(%%r15)\n\t"
        "movdqa %%xmm4, %c[xmm]+64(%%r15)\n\t"
        "movdqa %%xmm5, %c[xmm]+80(%%r15)\n\t"
        "movdqa %%xmm6, %c[xmm]+96(%%r15)\n\t"
        "movdqa %%xmm7, %c[xmm]+112(%%r15)\n\t"
        "stmxcsr %c[mxcsr_at](%%r15)\n\t"
        "ldmxcsr %[mxcsr]\n\t"
        "cld\n\t"
        "add $8, %%rsp\n\t"
        "pop %%r15\n\t"
        "pop %%r14\n\t"
        "pop %%r13\n\t"
        "pop %%r12\n\t"
        "pop %%rbx\n\t"
        "pop %%rbp\n\t"
        "ret\n\t"
        :
        : [xmm] "i"(offsetof(struct vcpu, fpu_state) + FXSAVE_XMM0),
          [mxcsr_at] "i"(offsetof(struct vcpu, fpu_state) + FXSAVE_MXCSR), [mxcsr] "m"(host_mxcsr));
}
