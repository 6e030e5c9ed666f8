/*
 * guest-tests/fuzz_entry.S — entering random code and getting back.
 *
 * fuzz_enter(frame) saves the kernel's callee-saved registers and ESP, loads
 * the eight general registers from frame->regs, and IRETs to the iret frame
 * built in frame->iret (ring 0: EIP, CS, EFLAGS; ring 3: plus ESP, SS).
 * fuzz_resume — where the catch-all handler IRETs to (ring 0, EAX = the
 * vector), on whatever stack the event arrived on — reloads the kernel's
 * segment registers and ESP and returns EAX from fuzz_enter.
 */
#define SEL_KDATA 0x10

    .text
    .globl fuzz_enter
    .type fuzz_enter, @function
fuzz_enter:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, fuzz_kernel_esp
    movl 20(%esp), %eax        /* struct fuzz_frame * */
    /* Copy the iret frame (5 dwords) to the kernel stack and IRET from there. */
    pushl 32(%eax)
    pushl 28(%eax)
    pushl 24(%eax)
    pushl 20(%eax)
    pushl 16(%eax)
    movl 0(%eax), %ecx         /* regs[] pointer: eax..edi */
    movl 4(%ecx), %edx
    movl 12(%ecx), %ebx
    movl 20(%ecx), %ebp
    movl 24(%ecx), %esi
    movl 28(%ecx), %edi
    movl 0(%ecx), %eax
    movl 8(%ecx), %ecx
    iret

    .globl fuzz_resume
    .type fuzz_resume, @function
fuzz_resume:
    movl $SEL_KDATA, %ecx
    movw %cx, %ds
    movw %cx, %es
    movw %cx, %fs
    movw %cx, %gs
    movw %cx, %ss
    movl fuzz_kernel_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

    .data
    .balign 4
    .globl fuzz_kernel_esp
fuzz_kernel_esp:
    .long 0

    .section .note.GNU-stack, "", @progbits
