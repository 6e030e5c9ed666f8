/*
 * guest-tests/x87_sse_mem.S — SSE and MMX memory operands for x87_sse.c:
 * 16-, 8- and 4-byte loads and stores (MOVDQU/MOVUPS/MOVUPD, MOVDQA/MOVAPS
 * aligned, MOVQ, MOVD, MOVSS, MOVSD, MOVLPS, MOVHPS, MMX MOVQ) through
 * every addressing form: base only (incl. ESP and EBP), disp8, disp32,
 * negative displacements, base + index*scale, index*scale + disp32,
 * absolute, a 32-bit wrap-around of the effective address, an access
 * straddling a page boundary and an FS override with a non-zero base.
 *
 * Loads read xs_src + k into a cleared register and copy it to xs_lout;
 * stores write xs_pat's register image to xs_dst + k. Each probe records
 * {k, size, register offset} in a table; x87_sse.c rebuilds the expected
 * bytes from it. ESP is a probed base: nothing here uses the stack.
 */
#define SEL_FS 0x30 /* x87_sse.c: data segment with base xs_src + 0x100 */
#define FS_OFF 0x100

    .set NL, 0
    .set NS, 0

    .section .rodata.xs_ltab, "a"
    .balign 4
    .globl xs_ltab
xs_ltab:
    .section .rodata.xs_stab, "a"
    .balign 4
    .globl xs_stab
xs_stab:
    .text

/* A load probe: `insn` loads size bytes from xs_src + k into the register
 * at byte offset off (xmm0, or mm0 when mmx=1). */
.macro LOADP k, size, off, insn:vararg
    pxor %xmm0, %xmm0
    \insn
    movdqu %xmm0, xs_lout + 16*NL
    .pushsection .rodata.xs_ltab, "a"
    .long \k, \size, \off
    .popsection
    .set NL, NL+1
.endm

.macro LOADM k, size, insn:vararg
    pxor %mm0, %mm0
    \insn
    movq %mm0, xs_lout + 16*NL
    .pushsection .rodata.xs_ltab, "a"
    .long \k, \size, 0
    .popsection
    .set NL, NL+1
.endm

/* A store probe: xmm1 (or mm1) holds xs_pat; `insn` stores size bytes of
 * it, from register byte offset off, to xs_dst + k. */
.macro STOREP k, size, off, insn:vararg
    \insn
    .pushsection .rodata.xs_stab, "a"
    .long \k, \size, \off
    .popsection
    .set NS, NS+1
.endm

    .globl xs_mem_run
    .type xs_mem_run, @function
xs_mem_run:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, xs_saved_esp

    /* ---- loads ---- */
    movl $(xs_src+0x10), %eax
    LOADP 0x10, 16, 0, movdqu (%eax), %xmm0
    movl $(xs_src+0x23-0x7f), %ebx
    LOADP 0x23, 16, 0, movdqu 0x7f(%ebx), %xmm0
    movl $(xs_src+0x35+0x80), %ecx
    LOADP 0x35, 16, 0, movups -0x80(%ecx), %xmm0
    movl $(xs_src+0x47-0x12345), %edx
    LOADP 0x47, 16, 0, movupd 0x12345(%edx), %xmm0
    movl $(xs_src+0x59-3*4), %esi
    movl $3, %edi
    LOADP 0x59, 16, 0, movdqu (%esi,%edi,4), %xmm0
    movl $(xs_src+0x6b-0x40-5*2), %ebp
    movl $5, %eax
    LOADP 0x6b, 16, 0, movdqu 0x40(%ebp,%eax,2), %xmm0
    movl $(xs_src+0x7d), %ebp
    LOADP 0x7d, 16, 0, movdqu (%ebp), %xmm0
    movl $(xs_src+0x8f), %esp
    LOADP 0x8f, 16, 0, movdqu (%esp), %xmm0
    movl $(xs_src+0xa1-0x1000-7*8), %esp
    movl $7, %ecx
    LOADP 0xa1, 16, 0, movdqu 0x1000(%esp,%ecx,8), %xmm0
    movl $9, %edi
    LOADP 0xb3, 16, 0, movdqu xs_src+0xb3-9*8(,%edi,8), %xmm0
    LOADP 0xc5, 16, 0, movdqu xs_src+0xc5, %xmm0
    movl $(xs_src+0xd7+0x40000000), %ebx
    LOADP 0xd7, 16, 0, movdqu 0xC0000000(%ebx), %xmm0
    movl $(xs_src+0x20), %eax
    LOADP 0x20, 16, 0, movdqa (%eax), %xmm0
    movl $(xs_src+0x30-0x10), %edx
    LOADP 0x30, 16, 0, movaps 0x10(%edx), %xmm0
    LOADP 0xff8, 16, 0, movdqu xs_src+0xff8, %xmm0 /* straddles a page */
    movl $(xs_src+0xffd), %esi
    LOADP 0xffd, 16, 0, movups (%esi), %xmm0
    movl $(xs_src+0xe9), %ecx
    LOADP 0xe9, 8, 0, movq (%ecx), %xmm0
    movl $(xs_src+0xfb-0x20), %ebx
    LOADP 0xfb, 4, 0, movd 0x20(%ebx), %xmm0
    movl $2, %eax
    LOADP 0x10d, 4, 0, movss xs_src+0x10d-2*4(,%eax,4), %xmm0
    movl $(xs_src+0x11f), %esp
    LOADP 0x11f, 8, 0, movsd (%esp), %xmm0
    movl $(xs_src+0x131), %edi
    LOADP 0x131, 8, 8, movhps (%edi), %xmm0
    movl $(xs_src+0x143-1), %esi
    movl $1, %edx
    LOADP 0x143, 8, 0, movlps (%esi,%edx,1), %xmm0
    movl $(xs_src+0xffc), %ebp
    LOADP 0xffc, 8, 0, movq (%ebp), %xmm0 /* straddles a page */
    movw $SEL_FS, %ax
    movw %ax, %fs
    movl $(0x155-FS_OFF), %eax
    LOADP 0x155, 16, 0, movdqu %fs:(%eax), %xmm0
    movl $(0x167-FS_OFF-0x10), %ecx
    LOADP 0x167, 8, 0, movq %fs:0x10(%ecx), %xmm0
    movl $(xs_src+0x179), %eax
    LOADM 0x179, 8, movq (%eax), %mm0
    movl $(xs_src+0x18b-0x7f), %esp
    LOADM 0x18b, 8, movq 0x7f(%esp), %mm0
    movl $4, %ebx
    LOADM 0x19d, 8, movq xs_src+0x19d-4*2(,%ebx,2), %mm0
    LOADM 0xffa, 8, movq xs_src+0xffa, %mm0 /* straddles a page */
    movl $(0x1af-FS_OFF), %edx
    LOADM 0x1af, 8, movq %fs:(%edx), %mm0
    movl $(xs_src+0x1c1), %esi
    LOADM 0x1c1, 4, movd (%esi), %mm0

    /* ---- stores ---- */
    movdqu xs_pat, %xmm1
    movq xs_pat, %mm1
    movl $(xs_dst+0x10), %eax
    STOREP 0x10, 16, 0, movdqu %xmm1, (%eax)
    movl $(xs_dst+0x33-0x7f), %ebx
    STOREP 0x33, 16, 0, movups %xmm1, 0x7f(%ebx)
    movl $(xs_dst+0x55+0x80), %ecx
    STOREP 0x55, 16, 0, movupd %xmm1, -0x80(%ecx)
    movl $(xs_dst+0x77-0x12345), %edx
    STOREP 0x77, 16, 0, movdqu %xmm1, 0x12345(%edx)
    movl $(xs_dst+0x99-6*2), %esi
    movl $6, %edi
    STOREP 0x99, 16, 0, movdqu %xmm1, (%esi,%edi,2)
    movl $(xs_dst+0xbb), %ebp
    STOREP 0xbb, 16, 0, movdqu %xmm1, (%ebp)
    movl $(xs_dst+0xdd-8), %esp
    STOREP 0xdd, 16, 0, movdqu %xmm1, 8(%esp)
    movl $11, %eax
    STOREP 0xff, 16, 0, movdqu %xmm1, xs_dst+0xff-11*8(,%eax,8)
    STOREP 0x121, 16, 0, movdqu %xmm1, xs_dst+0x121
    movl $(xs_dst+0x143+0x40000000), %ebx
    STOREP 0x143, 16, 0, movdqu %xmm1, 0xC0000000(%ebx)
    movl $(xs_dst+0x170), %ecx
    STOREP 0x170, 16, 0, movdqa %xmm1, (%ecx)
    STOREP 0x190, 16, 0, movaps %xmm1, xs_dst+0x190
    STOREP 0xff7, 16, 0, movdqu %xmm1, xs_dst+0xff7 /* straddles a page */
    movl $(xs_dst+0x1b5), %edx
    STOREP 0x1b5, 8, 0, movq %xmm1, (%edx)
    movl $(xs_dst+0x1c7), %esi
    STOREP 0x1c7, 4, 0, movd %xmm1, (%esi)
    movl $(xs_dst+0x1d9), %esp
    STOREP 0x1d9, 4, 0, movss %xmm1, (%esp)
    movl $3, %edi
    STOREP 0x1eb, 8, 0, movsd %xmm1, xs_dst+0x1eb-3*4(,%edi,4)
    movl $(xs_dst+0x1fd), %eax
    STOREP 0x1fd, 8, 8, movhps %xmm1, (%eax)
    movl $(xs_dst+0x20f-0x40), %ebp
    STOREP 0x20f, 8, 0, movlps %xmm1, 0x40(%ebp)
    movl $(xs_dst+0x231), %ebx
    STOREP 0x231, 8, 0, movq %mm1, (%ebx)
    movl $(xs_dst+0x243+0x80), %esp
    STOREP 0x243, 8, 0, movq %mm1, -0x80(%esp)
    STOREP 0xffe, 8, 0, movq %mm1, xs_dst+0xffe /* straddles a page */
    movl $(xs_dst+0x265), %ecx
    STOREP 0x265, 4, 0, movd %mm1, (%ecx)
    movl $(0x287-FS_OFF-0x1000), %eax
    movl $(xs_dst-xs_src), %edx /* FS is based in xs_src: reach xs_dst */
    addl %edx, %eax
    STOREP 0x287, 16, 0, movdqu %xmm1, %fs:0x1000(%eax)
    movl $(0x2a9-FS_OFF), %eax
    addl %edx, %eax
    STOREP 0x2a9, 8, 0, movq %mm1, %fs:(%eax)
    emms

    movl $0x10, %eax
    movw %ax, %fs
    movl xs_saved_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .size xs_mem_run, . - xs_mem_run

    .section .rodata
    .balign 4
    .globl xs_nloads, xs_nstores
xs_nloads:
    .long NL
xs_nstores:
    .long NS

    .bss
    .balign 4096
    .globl xs_src, xs_dst, xs_lout, xs_pat
xs_src:
    .skip 8192
xs_dst:
    .skip 8192
xs_lout:
    .skip 16 * 64
xs_pat:
    .skip 16
xs_saved_esp:
    .skip 4

    .section .note.GNU-stack, "", @progbits
