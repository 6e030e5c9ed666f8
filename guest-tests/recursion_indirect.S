/*
 * guest-tests/recursion_indirect.S — control transfers whose targets a
 * translator cannot predict from the call structure, for
 * recursion_indirect.c: running a function on another stack, returns to
 * addresses other than the one CALL pushed, returns that unwind several
 * frames at once, PUSH/RET and CALL/POP pairs, and indirect CALL/JMP
 * through registers and memory with every addressing form.
 */
    .text

/* uint32_t ri_call_on_stack(void *top, uint32_t (*fn)(uint32_t), uint32_t arg) */
    .globl ri_call_on_stack
ri_call_on_stack:
    pushl %ebp
    movl %esp, %ebp
    movl 8(%ebp), %esp
    pushl 16(%ebp)
    call *12(%ebp)
    movl %ebp, %esp
    popl %ebp
    ret

/* uint32_t ri_skip(void): its callee adds 5 to its own return address,
 * skipping `mov eax, 1` (5 bytes) at the return site. */
    .globl ri_skip
ri_skip:
    xorl %eax, %eax
    call 1f
    movl $1, %eax /* skipped */
    addl $2, %eax
    ret
1:  addl $5, (%esp)
    ret

/* uint32_t ri_redirect(void): the callee replaces its return address with
 * another label; the code after the call is never reached. */
    .globl ri_redirect
ri_redirect:
    movl $100, %eax
    call 1f
    movl $-1, %eax /* not reached */
    ret
2:  addl $7, %eax
    ret
1:  movl $2b, (%esp)
    ret

/* uint32_t ri_push_ret(void): push a label, ret to it (a jump) */
    .globl ri_push_ret
ri_push_ret:
    movl $3, %eax
    pushl $1f
    ret
    movl $-1, %eax
1:  addl $4, %eax
    ret

/* uint32_t ri_call_pop(void): call the next instruction and pop the
 * pushed address (the position-independent "get EIP" idiom); returns the
 * popped address minus the label's address (0). */
    .globl ri_call_pop
ri_call_pop:
    call 1f
1:  popl %eax
    subl $1b, %eax
    ret

/* uint32_t ri_unwind(void): three nested calls; the innermost discards
 * the two frames above it and returns straight to ri_unwind. */
    .globl ri_unwind
ri_unwind:
    movl $1, %eax
    call 1f
    addl $1000, %eax /* reached from the innermost ret */
    ret
1:  addl $10, %eax
    call 2f
    movl $-1, %eax /* not reached */
    ret
2:  addl $100, %eax
    call 3f
    movl $-1, %eax /* not reached */
    ret
3:  addl $8, %esp /* drop the return addresses into 2 and 1's bodies */
    ret

/* uint32_t ri_indirect_forms(void): indirect CALL and JMP through a
 * register, absolute memory, [base], [base+index*4+disp] and [index*4+disp];
 * each target adds its own bit to EAX. */
    .globl ri_indirect_forms
ri_indirect_forms:
    pushl %ebx
    pushl %esi
    xorl %eax, %eax
    movl $ri_t0, %ecx
    call *%ecx
    call *ri_table + 4
    movl $ri_table + 8, %ebx
    call *(%ebx)
    movl $ri_table - 12, %ebx
    movl $3, %esi
    call *12(%ebx,%esi,4)   /* ri_table[3] */
    movl $4, %esi
    call *ri_table(,%esi,4) /* ri_table[4] */
    movl $1f, %ecx
    jmp *%ecx
    orl $0x80000000, %eax /* not reached */
1:  movl $5, %esi
    jmp *ri_jtable(,%esi,4)
    orl $0x80000000, %eax /* not reached */
2:  popl %esi
    popl %ebx
    ret
ri_j5:
    orl $0x100, %eax
    jmp 2b

ri_t0: orl $0x01, %eax
    ret
ri_t1: orl $0x02, %eax
    ret
ri_t2: orl $0x04, %eax
    ret
ri_t3: orl $0x08, %eax
    ret
ri_t4: orl $0x10, %eax
    ret

    .section .rodata
    .balign 4
ri_table:
    .long ri_t0, ri_t1, ri_t2, ri_t3, ri_t4
ri_jtable:
    .long 0, 0, 0, 0, 0, ri_j5

    .section .note.GNU-stack, "", @progbits
