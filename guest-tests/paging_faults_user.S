/*
 * guest-tests/paging_faults_user.S — one-instruction trips to ring 3 for
 * paging_faults.c.
 *
 * pgf_user_run(eip, esp, esi, edi) saves the kernel's callee-saved
 * registers and ESP, loads DS/ES with the ring-3 data selector (DPL 3, so
 * IRET keeps them) and IRETs to ring 3 at `eip` with the given ESP, ESI and
 * EDI and EFLAGS = 2 (IF = 0). Each probe below is one instruction followed
 * by INT 0x81. Whether the probe faults (#PF) or reaches INT 0x81,
 * paging_faults.c's handler rewrites its frame to IRET, at the same level,
 * to pgf_user_return, which puts the saved kernel ESP back and returns from
 * pgf_user_run. The probe labels are the faulting instructions, so that the
 * handler can compare the EIP the CPU pushed.
 */
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23

    .text
    .globl pgf_user_run
    .type pgf_user_run, @function
pgf_user_run:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, pgf_kernel_esp
    movl 20(%esp), %eax /* eip */
    movl 24(%esp), %ecx /* esp */
    movl 28(%esp), %esi
    movl 32(%esp), %edi
    movl $SEL_UDATA, %edx
    movw %dx, %ds
    movw %dx, %es
    pushl $SEL_UDATA
    pushl %ecx
    pushl $2
    pushl $SEL_UCODE
    pushl %eax
    iret

    .globl pgf_user_return
pgf_user_return:
    movl pgf_kernel_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .size pgf_user_run, . - pgf_user_run

/* Ring-3 probes: ESI = source / jump target, EDI = destination. */
    .globl pgf_user_read, pgf_user_write, pgf_user_push, pgf_user_jump
pgf_user_read:
    movl (%esi), %eax
    int $0x81
pgf_user_write:
    movl $0x5a5a5a5a, (%edi)
    int $0x81
pgf_user_push:
    pushl $0x12345678
    int $0x81
pgf_user_jump:
    jmp *%esi

    .data
    .balign 4
pgf_kernel_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
