/*
 * guest-tests/segments_far.S — far transfers for segments.c at CPL 0: far
 * CALL/JMP/RET to a second code segment (a different selector, GDT or LDT),
 * directly, through a memory far pointer and through call gates (SDM Vol. 2A
 * CALL "far call to the same privilege level", "call gate, same
 * privilege"; JMP; RET "return to the same privilege level").
 *
 * Every probe is a cdecl function that returns with a near RET in the
 * runtime's code segment (0x08); what the far target saw is recorded in
 * sf_seen[] and the ESP values around the transfer in sf_esp[].
 */

#define SEL_KCODE  0x08
#define SEL_CODE2  0x58 /* segments.c: flat code, DPL 0, execute/read */
#define SEL_GATE   0x60 /* segments.c: 32-bit call gate -> SEL_CODE2:sf_callee */
#define SEL_LCODE  0x14 /* LDT index 2: flat code, DPL 0 */
#define SEL_LGATE  0x34 /* LDT index 6: call gate -> SEL_LCODE:sf_callee */
#define SEL_JGATE  0x68 /* segments.c: call gate -> SEL_CODE2:sf_jgate_target */

    .text

/* Records CS, the pushed return EIP and CS, and the two stack words above
 * them, then returns with a plain far RET. */
    .globl sf_callee
sf_callee:
    movl %cs, %eax
    movl %eax, sf_seen + 0
    movl (%esp), %eax
    movl %eax, sf_seen + 4
    movl 4(%esp), %eax
    movl %eax, sf_seen + 8
    movl 8(%esp), %eax
    movl %eax, sf_seen + 12
    lret

/* The same, returning with RET imm16: pops two argument words. */
sf_callee_ret8:
    movl %cs, %eax
    movl %eax, sf_seen + 0
    movl (%esp), %eax
    movl %eax, sf_seen + 4
    movl 4(%esp), %eax
    movl %eax, sf_seen + 8
    movl 8(%esp), %eax
    movl %eax, sf_seen + 12
    movl 12(%esp), %eax
    movl %eax, sf_seen + 16
    lret $8

/* lcall SEL_CODE2:sf_callee */
    .globl sf_call_direct, sf_ret_direct
sf_call_direct:
    movl %esp, sf_esp + 0
    lcall $SEL_CODE2, $sf_callee
sf_ret_direct:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* lcall *[m16:32] */
    .globl sf_call_indirect, sf_ret_indirect
sf_call_indirect:
    movl %esp, sf_esp + 0
    lcall *sf_ptr_callee
sf_ret_indirect:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* push two arguments, lcall, the callee pops them with RET 8 */
    .globl sf_call_ret8, sf_ret_ret8
sf_call_ret8:
    movl %esp, sf_esp + 0
    pushl $0xA1A1A1A1
    pushl $0xB2B2B2B2
    lcall $SEL_CODE2, $sf_callee_ret8
sf_ret_ret8:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* lcall through the call gate (the offset in the instruction is ignored) */
    .globl sf_call_gate, sf_ret_gate
sf_call_gate:
    movl %esp, sf_esp + 0
    lcall $SEL_GATE, $0x12345678
sf_ret_gate:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* lcall to the LDT code segment, directly and through the LDT call gate */
    .globl sf_call_ldt, sf_ret_ldt
sf_call_ldt:
    movl %esp, sf_esp + 0
    lcall $SEL_LCODE, $sf_callee
sf_ret_ldt:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

    .globl sf_call_ldt_gate, sf_ret_ldt_gate
sf_call_ldt_gate:
    movl %esp, sf_esp + 0
    lcall $SEL_LGATE, $0
sf_ret_ldt_gate:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* ljmp to SEL_CODE2 and back; returns the CS seen there in sf_seen[0] */
    .globl sf_jmp_direct
sf_jmp_direct:
    movl %esp, sf_esp + 0
    ljmp $SEL_CODE2, $1f
1:  movl %cs, %eax
    movl %eax, sf_seen + 0
    ljmp $SEL_KCODE, $2f
2:  movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* ljmp *[m16:32] there, ljmp *[m16:32] back */
    .globl sf_jmp_indirect
sf_jmp_indirect:
    movl %esp, sf_esp + 0
    ljmp *sf_ptr_jmp_there
sf_jmp_there:
    movl %cs, %eax
    movl %eax, sf_seen + 0
    ljmp *sf_ptr_jmp_back
sf_jmp_back:
    movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

/* ljmp through a call gate: JMP pushes nothing */
    .globl sf_jmp_gate
sf_jmp_gate:
    movl %esp, sf_esp + 0
    ljmp $SEL_JGATE, $0
    .globl sf_jgate_target
sf_jgate_target:
    movl %cs, %eax
    movl %eax, sf_seen + 0
    ljmp $SEL_KCODE, $1f
1:  movl %esp, sf_esp + 4
    movl %cs, %eax
    ret

    .data
    .balign 4
    .globl sf_seen, sf_esp
sf_seen:
    .fill 8, 4, 0
sf_esp:
    .fill 2, 4, 0
sf_ptr_callee:
    .long sf_callee
    .word SEL_CODE2
    .balign 4
sf_ptr_jmp_there:
    .long sf_jmp_there
    .word SEL_CODE2
    .balign 4
sf_ptr_jmp_back:
    .long sf_jmp_back
    .word SEL_KCODE

    .section .note.GNU-stack, "", @progbits
