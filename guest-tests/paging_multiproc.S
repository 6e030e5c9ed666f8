/*
 * guest-tests/paging_multiproc.S — the two transitions of paging_multiproc.c
 * that C cannot express: the first entry into ring 3 and the way back to
 * the boot stack once every process has exited.
 *
 * mp_enter_user(frame) saves the kernel's callee-saved registers and ESP,
 * then loads every register from a struct rt_frame (runtime/rt.h) and IRETs
 * to ring 3 through it, exactly as the runtime's common interrupt path does
 * when it resumes a process. From then on the kernel only runs in interrupt
 * and system-call handlers. When the last process exits, the kernel rewrites
 * the trap frame to IRET at the same privilege level to mp_ring0_return (an
 * IRET that does not change CPL pops only EIP, CS and EFLAGS, SDM Vol. 2A
 * IRET), which abandons that process's kernel stack, puts the saved ESP
 * back and returns from mp_enter_user.
 */

/* Offsets in struct rt_frame. */
#define F_GS 0
#define F_FS 4
#define F_ES 8
#define F_DS 12
#define F_EDI 16
#define F_ESI 20
#define F_EBP 24
#define F_EBX 32
#define F_EDX 36
#define F_ECX 40
#define F_EAX 44
#define F_EIP 56
#define F_CS 60
#define F_EFLAGS 64
#define F_USER_ESP 68
#define F_USER_SS 72

    .text
    .globl mp_enter_user
    .type mp_enter_user, @function
mp_enter_user:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, mp_kernel_esp
    movl 20(%esp), %esi
    /* The inter-privilege IRET frame (SDM Vol. 3A §6.12.1, Figure 6-4). */
    pushl F_USER_SS(%esi)
    pushl F_USER_ESP(%esi)
    pushl F_EFLAGS(%esi)
    pushl F_CS(%esi)
    pushl F_EIP(%esi)
    movl F_EDI(%esi), %edi
    movl F_EBP(%esi), %ebp
    movl F_EBX(%esi), %ebx
    movl F_EDX(%esi), %edx
    movl F_ECX(%esi), %ecx
    movl F_EAX(%esi), %eax
    /* The user data selector (DPL 3, flat) is usable at CPL 0 as well, so
     * the frame stays addressable after DS is loaded. */
    movw F_GS(%esi), %gs
    movw F_FS(%esi), %fs
    movw F_ES(%esi), %es
    movw F_DS(%esi), %ds
    movl F_ESI(%esi), %esi
    iret
    .size mp_enter_user, . - mp_enter_user

    .globl mp_ring0_return
    .type mp_ring0_return, @function
mp_ring0_return:
    movl mp_kernel_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .size mp_ring0_return, . - mp_ring0_return

    .data
    .balign 4
mp_kernel_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
