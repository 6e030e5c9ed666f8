/*
 * guest-tests/smc_code.S — code that smc.c rewrites while it runs. The
 * instruction bytes are spelled out (.byte/.long) where smc.c patches
 * them, so that the patched offsets do not depend on the assembler's
 * choice of encoding. Paging is off: .text is writable.
 */
    .text

/* uint32_t smc_imm(void): mov eax, imm32; ret */
    .globl smc_imm, smc_imm_value
smc_imm:
    .byte 0xb8
smc_imm_value:
    .long 0x11111111
    ret

/* uint32_t smc_ahead(uint32_t v): stores v into the immediate of the very
 * next instruction, in the same basic block, then executes it. */
    .globl smc_ahead
smc_ahead:
    movl 4(%esp), %ecx
    movl %ecx, smc_ahead_value
    .byte 0xb8
smc_ahead_value:
    .long 0xAAAAAAAA
    ret

/* uint32_t smc_opcode(uint32_t op): eax = 10, then writes the one-byte
 * opcode `op` over the next instruction and executes it. */
    .globl smc_opcode
smc_opcode:
    movl 4(%esp), %ecx
    movl $10, %eax
    movb %cl, smc_opcode_site
smc_opcode_site:
    nop
    ret

/* uint32_t smc_loop(uint32_t n): a loop whose body increments the imm8 of
 * its own `add eax, imm8` every iteration: sum of 1, 2, ... (imm8 is
 * sign-extended). */
    .globl smc_loop
smc_loop:
    movl 4(%esp), %ecx
    xorl %eax, %eax
    movb $1, smc_loop_imm
1:  .byte 0x83, 0xc0 /* add eax, imm8 */
smc_loop_imm:
    .byte 0x01
    incb smc_loop_imm
    decl %ecx
    jnz 1b
    ret

/* uint32_t smc_branch(void): jmp rel8 over some of three adds (1, 2, 4);
 * smc.c rewrites the displacement. */
    .globl smc_branch, smc_branch_disp
smc_branch:
    xorl %eax, %eax
    .byte 0xeb /* jmp rel8 */
smc_branch_disp:
    .byte 0x00
    .byte 0x83, 0xc0, 0x01 /* add eax, 1 */
    .byte 0x83, 0xc0, 0x02 /* add eax, 2 */
    .byte 0x83, 0xc0, 0x04 /* add eax, 4 */
    ret

/* uint32_t smc_retsite(void): the callee rewrites the instruction at its
 * own return address, in the caller's block, before returning to it. */
    .globl smc_retsite, smc_retsite_new
smc_retsite:
    call 1f
    .byte 0xb8
    .long 0x0000FFFF
    ret
1:  movl (%esp), %ecx
    movl smc_retsite_new, %eax
    movl %eax, 1(%ecx)
    ret

/* Position-independent functions that smc.c copies into a data buffer. */
    .globl smc_copy_a, smc_copy_a_end, smc_copy_b, smc_copy_b_end, smc_copy_b_shift
smc_copy_a: /* 3x + 1 */
    movl 4(%esp), %eax
    leal 1(%eax,%eax,2), %eax
    ret
smc_copy_a_end:
smc_copy_b: /* x << 4 */
    movl 4(%esp), %eax
    .byte 0xc1, 0xe0 /* shl eax, imm8 */
smc_copy_b_shift:
    .byte 4
    ret
smc_copy_b_end:

/* uint32_t smc_straddle(void): mov eax, imm32 whose first three bytes are
 * at the end of a page and the last two at the start of the next. */
    .globl smc_straddle, smc_straddle_value
    .balign 4096
    .skip 4096 - 3
smc_straddle:
    .byte 0xb8
smc_straddle_value:
    .long 0x01020304
    ret

    .data
    .balign 4
smc_retsite_new:
    .long 0

    .section .note.GNU-stack, "", @progbits
