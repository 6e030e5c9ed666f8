/*
 * guest-tests/ring3_entry.S — the privilege transitions of ring3.c.
 *
 * enter_user(fn, user_esp, eflags) saves the kernel's callee-saved
 * registers and ESP, then IRETs to ring 3 (CS 0x1b, SS 0x23) at
 * user_trampoline with the given EFLAGS image. The trampoline records the
 * segment registers IRET left (SDM Vol. 2A IRET: DS/ES/FS/GS holding a
 * segment with DPL < the new CPL become null), loads DS/ES with 0x23, calls
 * fn and leaves ring 3 with INT 0x81. ring3.c's handler for 0x81 rewrites
 * its frame to IRET (at the same level) to ring0_return, which puts the
 * saved kernel ESP back and returns from enter_user.
 */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23

    .text
    .globl enter_user
    .type enter_user, @function
enter_user:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, r3_kernel_esp
    movl 20(%esp), %ebx /* fn: kept in EBX across the IRET */
    movl 24(%esp), %ecx
    movl 28(%esp), %edx
    movl $SEL_UDATA, %eax
    movw %ax, %gs /* DPL 3: survives the IRET */
    movl $SEL_KDATA, %eax
    movw %ax, %fs /* DPL 0: nulled by the IRET, like DS and ES */
    pushl $SEL_UDATA
    pushl %ecx
    pushl %edx
    pushl $SEL_UCODE
    pushl $user_trampoline
    iret

user_trampoline:
    /* DS is null here: read the selectors into registers first. */
    movl %ds, %esi
    movl %es, %edi
    movl %fs, %ebp
    movl %gs, %ecx
    movl $SEL_UDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movl %esi, r3_entry_segs + 0
    movl %edi, r3_entry_segs + 4
    movl %ebp, r3_entry_segs + 8
    movl %ecx, r3_entry_segs + 12
    movl %cs, %eax
    movl %eax, r3_entry_segs + 16
    movl %ss, %eax
    movl %eax, r3_entry_segs + 20
    pushfl
    popl r3_entry_segs + 24
    xorl %ebp, %ebp
    call *%ebx
    int $0x81
    ud2

    .globl ring0_return
ring0_return:
    movl r3_kernel_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .size enter_user, . - enter_user

    .data
    .balign 4
    .globl r3_entry_segs
r3_kernel_esp:
    .long 0
r3_entry_segs:
    .fill 7, 4, 0

    .section .note.GNU-stack, "", @progbits
