/*
 * guest-tests/stack_switch.S — the parts of stack_calls that C cannot
 * express: saving and switching stacks (setjmp/longjmp, coroutine switch,
 * running a function on another stack) and probes that need every register
 * under control (PUSHA/POPA, ENTER/LEAVE, far CALL/RET, IRET, RET imm16,
 * return-address tricks). Probes leave what they saw in globals; the C side
 * (stack_calls.c) checks it.
 *
 * struct ctx layout (stack_calls.c): ebx, esi, edi, ebp, esp, eip.
 */

#define SEL_KCODE 0x08

    .text

/* int ctx_setjmp(struct ctx *c): 0 now, the longjmp value later. */
    .globl ctx_setjmp
ctx_setjmp:
    movl 4(%esp), %eax
    movl %ebx, 0(%eax)
    movl %esi, 4(%eax)
    movl %edi, 8(%eax)
    movl %ebp, 12(%eax)
    leal 4(%esp), %ecx /* ESP as it will be after our ret */
    movl %ecx, 16(%eax)
    movl (%esp), %ecx
    movl %ecx, 20(%eax)
    xorl %eax, %eax
    ret

/* void ctx_longjmp(const struct ctx *c, int val): setjmp returns val (1 if 0). */
    .globl ctx_longjmp
ctx_longjmp:
    movl 4(%esp), %edx
    movl 8(%esp), %eax
    testl %eax, %eax
    jnz 1f
    incl %eax
1:  movl 0(%edx), %ebx
    movl 4(%edx), %esi
    movl 8(%edx), %edi
    movl 12(%edx), %ebp
    movl 16(%edx), %esp
    jmp *20(%edx)

/* void ctx_switch(struct ctx *save, const struct ctx *load): saves the
 * caller as if it had called setjmp, resumes `load`. */
    .globl ctx_switch
ctx_switch:
    movl 4(%esp), %eax
    movl 8(%esp), %edx
    movl %ebx, 0(%eax)
    movl %esi, 4(%eax)
    movl %edi, 8(%eax)
    movl %ebp, 12(%eax)
    leal 4(%esp), %ecx
    movl %ecx, 16(%eax)
    movl (%esp), %ecx
    movl %ecx, 20(%eax)
    movl 0(%edx), %ebx
    movl 4(%edx), %esi
    movl 8(%edx), %edi
    movl 12(%edx), %ebp
    movl 16(%edx), %esp
    xorl %eax, %eax
    jmp *20(%edx)

/* uint32_t call_on_stack(void *top, uint32_t (*fn)(uint32_t), uint32_t arg) */
    .globl call_on_stack
call_on_stack:
    pushl %ebp
    movl %esp, %ebp
    movl 8(%ebp), %esp
    andl $-16, %esp
    subl $12, %esp
    pushl 16(%ebp)
    call *12(%ebp)
    movl %ebp, %esp
    popl %ebp
    ret

/*
 * PUSHA/POPA (SDM Vol. 2B PUSHA/PUSHAD): pushes EAX ECX EDX EBX, the ESP
 * from before the first push, EBP ESI EDI; POPA skips the ESP slot.
 */
    .globl pusha_probe
pusha_probe:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, pusha_esp_before
    movl $0xA0A0A0A0, %eax
    movl $0xC1C1C1C1, %ecx
    movl $0xD2D2D2D2, %edx
    movl $0xB3B3B3B3, %ebx
    movl $0xB5B5B5B5, %ebp
    movl $0x5E5E5E5E, %esi
    movl $0xD7D7D7D7, %edi
    pushal
    movl %esp, pusha_esp_after
    .irp i, 0, 4, 8, 12, 16, 20, 24, 28
    movl \i(%esp), %eax
    movl %eax, pusha_slots + \i
    .endr
    movl $0x12345678, 12(%esp) /* the ESP slot: POPA must ignore it */
    xorl %eax, %eax
    xorl %ecx, %ecx
    xorl %edx, %edx
    xorl %ebx, %ebx
    xorl %ebp, %ebp
    xorl %esi, %esi
    xorl %edi, %edi
    popal
    movl %eax, popa_regs + 0
    movl %ecx, popa_regs + 4
    movl %edx, popa_regs + 8
    movl %ebx, popa_regs + 12
    movl %esp, popa_regs + 16
    movl %ebp, popa_regs + 20
    movl %esi, popa_regs + 24
    movl %edi, popa_regs + 28
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret

/*
 * ENTER size, level (SDM Vol. 2A ENTER): push EBP; frame = ESP; for level
 * > 0 copy level-1 display pointers from below the old EBP and push frame;
 * EBP = frame; ESP -= size. EBP starts at enter_fake_ebp, a fake frame.
 * enter_out: [0] ESP before, [1] ESP after, [2] EBP after, [3..9] the
 * dwords at EBP, EBP-4, ..., EBP-24, [10] ESP after LEAVE, [11] EBP after.
 */
.macro enter_probe level
    .globl enter_probe_\level
enter_probe_\level:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, enter_out + 0
    movl enter_fake_ebp, %ebp
    enter $16, $\level
    movl %esp, enter_out + 4
    movl %ebp, enter_out + 8
    .irp i, 0, 4, 8, 12, 16, 20, 24
    movl -\i(%ebp), %eax
    movl %eax, enter_out + 12 + \i
    .endr
    leave
    movl %esp, enter_out + 40
    movl %ebp, enter_out + 44
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
.endm

    enter_probe 0
    enter_probe 1
    enter_probe 2
    enter_probe 5

/* uint32_t __attribute__((stdcall)) stdcall_sum(uint32_t a, uint32_t b):
 * the callee pops its arguments with RET imm16. */
    .globl stdcall_sum
stdcall_sum:
    movl 4(%esp), %eax
    addl 8(%esp), %eax
    ret $8

/* uint32_t ret_bump_probe(void): a callee that moves its own return address
 * past the caller's next instruction (5 bytes: mov $1, %eax). Returns 2. */
    .globl ret_bump_probe
ret_bump_probe:
    xorl %eax, %eax
    call 1f
    movl $1, %eax
    addl $2, %eax
    ret
1:  addl $5, (%esp)
    ret

/* uint32_t pop_jmp_probe(void): returns through pop + indirect jmp instead
 * of ret, and calls through a pushed return address (push + jmp). */
    .globl pop_jmp_probe
pop_jmp_probe:
    pushl $1f
    jmp 2f /* a "call" built from push + jmp */
1:  addl $0x100, %eax
    ret
2:  movl $0x23, %eax
    popl %ecx /* a "ret" built from pop + jmp */
    jmp *%ecx

/* Far CALL/RET through the GDT code selector (SDM Vol. 2A CALL "far call to
 * the same privilege level"): pushes CS (padded to 32 bits) then EIP. */
    .globl far_call_probe, far_call_return, far_call_return2
far_call_probe:
    movl %esp, far_esp_before
    lcall $SEL_KCODE, $far_target
far_call_return:
    movl %esp, far_esp_after
    lcall *far_pointer
far_call_return2:
    pushl $0x11111111
    pushl $0x22222222
    lcall $SEL_KCODE, $far_target_ret8
    movl %esp, far_esp_after2
    ljmp $SEL_KCODE, $1f
    ud2
1:  ret

far_target:
    movl (%esp), %eax
    movl %eax, far_seen_eip
    movl 4(%esp), %eax
    movl %eax, far_seen_cs
    lret

far_target2:
    movl (%esp), %eax
    movl %eax, far_seen_eip2
    lret

far_target_ret8:
    movl 8(%esp), %eax
    movl %eax, far_seen_arg
    lret $8

/* IRET to the same privilege level pops EIP, CS, EFLAGS only (SDM Vol. 2A
 * IRET, "RETURN-TO-SAME-PRIVILEGE-LEVEL"). iret_eflags_in is the image. */
    .globl iret_probe, iret_return
iret_probe:
    pushfl
    movl %esp, iret_esp_before
    pushl iret_eflags_in
    pushl %cs
    pushl $iret_return
    iret
iret_return:
    pushfl
    popl iret_eflags_out
    movl %esp, iret_esp_after
    popfl
    ret

    .data
    .balign 4
far_pointer:
    .long far_target2
    .word SEL_KCODE

    .section .note.GNU-stack, "", @progbits
