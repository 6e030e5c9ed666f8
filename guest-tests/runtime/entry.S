/*
 * guest-tests/runtime/entry.S — everything that must be assembly: the
 * multiboot header, _start, the GDT, the 256 IDT stubs and the common
 * exception path that builds a struct rt_frame (runtime/rt.h) and calls
 * rt_dispatch_exception().
 *
 * _start keeps nothing the loader gave beyond what rt_boot records: it saves
 * the loader's registers, switches to our own stack, clears .bss, loads our
 * GDT and reloads every segment register, then calls rt_entry() in C, which
 * never returns.
 */

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* page-align modules | memory information */

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10

#define STACK_SIZE 65536

/* Offsets in struct rt_boot_state. */
#define BOOT_EAX 0
#define BOOT_EBX 4
#define BOOT_ESP 8
#define BOOT_EFLAGS 12
#define BOOT_CR0 16
#define BOOT_CS 20
#define BOOT_DS 24
#define BOOT_ES 28
#define BOOT_FS 32
#define BOOT_GS 36
#define BOOT_SS 40

/* Multiboot 0.6.96 §3.1.1: magic, flags, checksum; 4-byte aligned within the
 * first 8 KiB of the file (the linker script places this section first). */
    .section .multiboot, "a"
    .balign 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .text
    .globl _start
    .type _start, @function
_start:
    /* The loader's state (§3.2) is recorded before anything changes it. The
     * loader's ESP is undefined, so our stack is set before the first push. */
    movl %eax, rt_boot + BOOT_EAX
    movl %ebx, rt_boot + BOOT_EBX
    movl %esp, rt_boot + BOOT_ESP
    movl $rt_stack_top, %esp
    pushfl
    popl rt_boot + BOOT_EFLAGS
    movl %cr0, %eax
    movl %eax, rt_boot + BOOT_CR0
    movw %cs, rt_boot + BOOT_CS
    movw %ds, rt_boot + BOOT_DS
    movw %es, rt_boot + BOOT_ES
    movw %fs, rt_boot + BOOT_FS
    movw %gs, rt_boot + BOOT_GS
    movw %ss, rt_boot + BOOT_SS

    /* A known EFLAGS: IF=0, DF=0 (the C ABI needs DF clear), no AC/NT/TF. */
    pushl $2
    popfl

    /* Clear .bss ourselves rather than trust the loader to zero p_memsz
     * beyond p_filesz. The stack is in .bss but holds nothing live here. */
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    xorl %eax, %eax
    rep stosb

    /* Our own GDT: the loader's may be anywhere, even in memory we reuse. */
    lgdt rt_gdtr
    ljmp $SEL_KCODE, $1f
1:  movl $SEL_KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %fs
    movw %ax, %gs
    movw %ax, %ss
    movl $rt_stack_top, %esp
    xorl %ebp, %ebp
    call rt_entry
2:  cli
    hlt
    jmp 2b
    .size _start, . - _start

/*
 * IDT stubs. The CPU pushes an error code only for vectors 8, 10-14 and 17
 * (SDM Vol. 3A §6.15; 21/29/30 exist only with CET/SVM-era features we do
 * not model). Every other stub pushes a dummy 0 so that the frame layout is
 * the same for all vectors.
 */
.macro isr_stub vec
    .balign 16
isr_stub_\vec:
    .if (\vec == 8) || ((\vec >= 10) && (\vec <= 14)) || (\vec == 17)
    .else
    pushl $0
    .endif
    pushl $\vec
    jmp isr_common
.endm

.macro isr_addr vec
    .long isr_stub_\vec
.endm

    .altmacro
    .set vec, 0
    .rept 256
    isr_stub %vec
    .set vec, vec + 1
    .endr

/*
 * Common path: complete struct rt_frame (segment registers and pushad on top
 * of vector and error code), run C on a 16-byte aligned stack, undo.
 */
isr_common:
    pushal
    pushl %ds
    pushl %es
    pushl %fs
    pushl %gs
    movl $SEL_KDATA, %eax
    movw %ax, %ds
    movw %ax, %es
    cld
    movl %esp, %ebx /* callee-saved: survives the call */
    andl $-16, %esp
    subl $12, %esp
    pushl %ebx
    call rt_dispatch_exception
    movl %ebx, %esp
    popl %gs
    popl %fs
    popl %es
    popl %ds
    popal
    addl $8, %esp /* vector and error code */
    iret

    .section .rodata
    .balign 4
    .globl rt_isr_stubs
rt_isr_stubs:
    .set vec, 0
    .rept 256
    isr_addr %vec
    .set vec, vec + 1
    .endr
    .noaltmacro

    .data
    .balign 4
    .globl rt_boot
rt_boot:
    .fill 11, 4, 0

/*
 * GDT (SDM Vol. 3A §3.4.5). Flat 4 GiB segments, accessed bit preset so the
 * CPU never has to write the table. Entries from 0x30 on are for tests
 * (rt_set_gdt_entry); 0x28 is filled by rt_load_tss.
 */
    .balign 8
    .globl rt_gdt
rt_gdt:
    .quad 0                  /* 0x00 null */
    .quad 0x00CF9B000000FFFF /* 0x08 ring-0 code, execute/read */
    .quad 0x00CF93000000FFFF /* 0x10 ring-0 data, read/write */
    .quad 0x00CFFB000000FFFF /* 0x18 ring-3 code */
    .quad 0x00CFF3000000FFFF /* 0x20 ring-3 data */
    .quad 0                  /* 0x28 TSS */
    .fill 10, 8, 0           /* 0x30 .. 0x78 free */
rt_gdt_end:

    .balign 4
    .word 0
    .globl rt_gdtr
rt_gdtr:
    .word rt_gdt_end - rt_gdt - 1
    .long rt_gdt

    .bss
    .balign 16
rt_stack:
    .skip STACK_SIZE
    .globl rt_stack_top
rt_stack_top:

    .section .note.GNU-stack, "", @progbits
