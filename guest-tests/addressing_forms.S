/*
 * guest-tests/addressing_forms.S — the probes of addressing_forms.c: one
 * instruction per probe, each with one memory operand, covering every
 * ModRM/SIB form (SDM Vol. 2A §2.1.5, Tables 2-2 and 2-3) with every base
 * and index register, 8/16/32-bit operands, AH/CH/DH/BH, loads, stores,
 * read-modify-write, LEA, 32-bit wrap-around of the effective and of the
 * linear address, page-straddling accesses and segment overrides with
 * non-zero segment bases (including SS as the default segment of ESP/EBP).
 *
 * ab_run() executes all probes in one go without touching the stack (ESP is
 * itself a probed base register): results go to absolute addresses. Each
 * probe appends a record {op, k, slot, text} to ab_table; text is the
 * instruction as written here. See addressing_forms.h for the protocol.
 *
 * Macro arguments must not contain blanks (gas splits on them), hence the
 * unspaced expressions below.
 */
#include "addressing_forms.h"

#define LD1 (AB_LD|1)
#define LD2 (AB_LD|2)
#define LD4 (AB_LD|4)
#define LD1H (AB_LD|1|AB_HI)
#define ST1 (AB_ST|1)
#define ST2 (AB_ST|2)
#define ST4 (AB_ST|4)
#define ST1H (AB_ST|1|AB_HI)
#define ADD1 (AB_ADD|1)
#define ADD2 (AB_ADD|2)
#define ADD4 (AB_ADD|4)
#define ADD1H (AB_ADD|1|AB_HI)
#define ADDR1 (AB_ADDR|1)
#define ADDR2 (AB_ADDR|2)
#define ADDR4 (AB_ADDR|4)
#define ADDR1H (AB_ADDR|1|AB_HI)
#define INC1 (AB_INC|1)
#define INC2 (AB_INC|2)
#define INC4 (AB_INC|4)
#define XCHG1 (AB_XCHG|1)
#define XCHG2 (AB_XCHG|2)
#define XCHG4 (AB_XCHG|4)
#define XCHG1H (AB_XCHG|1|AB_HI)
#define LEA2 (AB_LEA|2)
#define LEA4 (AB_LEA|4)

#define KIND(op) ((op)&AB_KIND_MASK)
#define SIZE(op) ((op)&AB_SIZE_MASK)
/* gas: a true comparison is -1, false is 0 */
#define READS_BUF(op) ((KIND(op)==AB_LD)||(KIND(op)==AB_ADDR))
#define WRITES(op) ((KIND(op)==AB_ST)||(KIND(op)==AB_ADD)||(KIND(op)==AB_INC)||(KIND(op)==AB_XCHG))

/* Per-probe offset: spread over the first page with every alignment. XCHG
 * is implicitly locked: keep it naturally aligned so that it never becomes
 * a split lock (which hosts may slow down or kill). */
#define KAUTO (0x40+((SLOT*0x35)%0xF00))
#define KA4 ((KAUTO)&~3)
#define KA2 ((KAUTO)&~1)
/* Per-probe index value: small for even slots, pseudo-random 32-bit (so
 * that index*scale and base+index wrap at 2^32) for odd ones. */
#define IVAUTO (((SLOT&1)*((SLOT*0x9E3779B1)&0xffffffff))+((1-(SLOT&1))*(SLOT%13)))

    .set SLOT, 0

    .section .rodata.ab_table, "a"
    .balign 4
    .globl ab_table
ab_table:

    .text

/* One record in the table (op, k, slot, text). */
.macro RECORD op, k, text:vararg
    .pushsection .rodata.ab_names, "a"
.Lname\@:
    .asciz "\text"
    .popsection
    .pushsection .rodata.ab_table, "a"
    .long \op, ((\k)&0xffffffff), SLOT, .Lname\@
    .popsection
.endm

.macro GROUP name
    .pushsection .rodata.ab_names, "a"
.Lgroup\@:
    .asciz "\name"
    .popsection
    .pushsection .rodata.ab_table, "a"
    .long AB_GROUP, 0, 0, .Lgroup\@
    .popsection
.endm

/* The probe proper: window preset, pre capture, the instruction, post
 * capture, window capture and clear, table record. */
.macro PROBE op, k, r32, insn:vararg
    .if ((KIND(\op)==AB_ADD)||(KIND(\op)==AB_INC)||(KIND(\op)==AB_XCHG))
    movl $AB_W0, ab_sbuf+((\k)&~3)
    movl $AB_W1, ab_sbuf+((\k)&~3)+4
    .endif
    movl \r32, ab_res+16*SLOT
    \insn
    movl \r32, ab_res+16*SLOT+4
    .if WRITES(\op)
    movl %eax, ab_tmp
    movl ab_sbuf+((\k)&~3), %eax
    movl %eax, ab_res+16*SLOT+8
    movl ab_sbuf+((\k)&~3)+4, %eax
    movl %eax, ab_res+16*SLOT+12
    movl $0, ab_sbuf+((\k)&~3)
    movl $0, ab_sbuf+((\k)&~3)+4
    movl ab_tmp, %eax
    .endif
    RECORD \op, \k, \insn
    .set SLOT, SLOT+1
.endm

/* opcode, ModRM, SIB and a disp32 (one statement, for PROBE). */
.macro OPC3_DISP32 b0, b1, b2, disp
    .byte \b0, \b1, \b2
    .long \disp
.endm

/* The instruction for an operation on register `reg` and operand `mem`. */
.macro MEMOP op, k, r32, reg, mem:vararg
    .if KIND(\op)==AB_LD
    PROBE \op, \k, \r32, mov \mem, \reg
    .elseif KIND(\op)==AB_ST
    PROBE \op, \k, \r32, mov \reg, \mem
    .elseif KIND(\op)==AB_ADD
    PROBE \op, \k, \r32, add \reg, \mem
    .elseif KIND(\op)==AB_ADDR
    PROBE \op, \k, \r32, add \mem, \reg
    .elseif KIND(\op)==AB_XCHG
    PROBE \op, \k, \r32, xchg \reg, \mem
    .elseif KIND(\op)==AB_LEA
    PROBE \op, \k, \r32, lea \mem, \reg
    .elseif SIZE(\op)==1
    PROBE \op, \k, \r32, incb \mem
    .elseif SIZE(\op)==2
    PROBE \op, \k, \r32, incw \mem
    .else
    PROBE \op, \k, \r32, incl \mem
    .endif
.endm

/* reg := buffer + k - disp - sub (mod 2^32), the buffer being ab_buf for
 * reads and ab_sbuf for writes. */
.macro SETB op, reg, k, disp, sub
    .if READS_BUF(\op)
    movl $(ab_buf+(((\k)-(\disp)-(\sub))&0xffffffff)), \reg
    .else
    movl $(ab_sbuf+(((\k)-(\disp)-(\sub))&0xffffffff)), \reg
    .endif
.endm

/* [pfx:base + disp] through a flat segment. */
.macro M_B op, r32, reg, k, B, D, pfx=
    movl $AB_PRE, \r32
    SETB \op, \B, \k, \D, 0
    MEMOP \op, \k, \r32, \reg, \pfx\D(\B)
.endm

/* [base + index*scale + disp]; index = iv. */
.macro M_BI op, r32, reg, k, B, I, S, D, iv
    movl $AB_PRE, \r32
    movl $((\iv)&0xffffffff), \I
    SETB \op, \B, \k, \D, ((\iv)*(\S))
    MEMOP \op, \k, \r32, \reg, \D(\B,\I,\S)
.endm

/* [index*scale + disp32], no base. */
.macro M_I op, r32, reg, k, I, S, iv
    movl $AB_PRE, \r32
    movl $((\iv)&0xffffffff), \I
    .if READS_BUF(\op)
    MEMOP \op, \k, \r32, \reg, ab_buf+(((\k)-(\iv)*(\S))&0xffffffff)(,\I,\S)
    .else
    MEMOP \op, \k, \r32, \reg, ab_sbuf+(((\k)-(\iv)*(\S))&0xffffffff)(,\I,\S)
    .endif
.endm

/* [disp32] */
.macro M_A op, r32, reg, k
    movl $AB_PRE, \r32
    .if READS_BUF(\op)
    MEMOP \op, \k, \r32, \reg, ab_buf+\k
    .else
    MEMOP \op, \k, \r32, \reg, ab_sbuf+\k
    .endif
.endm

/* [seg:base + disp] where the segment's base is buffer + off. */
.macro M_S op, r32, reg, k, seg, off, B, D
    movl $AB_PRE, \r32
    movl $(((\k)-(\off)-(\D))&0xffffffff), \B
    MEMOP \op, \k, \r32, \reg, \seg:\D(\B)
.endm

/* [seg:base + index*scale + disp] with the same segment. */
.macro M_SBI op, r32, reg, k, seg, off, B, I, S, D, iv
    movl $AB_PRE, \r32
    movl $((\iv)&0xffffffff), \I
    movl $(((\k)-(\off)-(\D)-(\iv)*(\S))&0xffffffff), \B
    MEMOP \op, \k, \r32, \reg, \seg:\D(\B,\I,\S)
.endm

/* ---- groups ------------------------------------------------------------- */

/* base only: loads and stores at every displacement size */
.macro G_BASE_R B, D, R32, R16, R8
    M_B LD4, \R32, \R32, KAUTO, \B, \D
    M_B LD2, \R32, \R16, KAUTO, \B, \D
    M_B LD1, \R32, \R8, KAUTO, \B, \D
    M_B ST4, \R32, \R32, KAUTO, \B, \D
    M_B ST2, \R32, \R16, KAUTO, \B, \D
    M_B ST1, \R32, \R8, KAUTO, \B, \D
.endm
.macro G_BASE B, D
    .ifc \B,%eax
    G_BASE_R \B, \D, %edx, %dx, %dl
    .else
    G_BASE_R \B, \D, %eax, %ax, %al
    .endif
.endm

/* base only: read-modify-write */
.macro G_RMW_R B, R32, R16, R8
    M_B ADD4, \R32, \R32, KAUTO, \B, 0
    M_B ADD2, \R32, \R16, KAUTO, \B, 0x7f
    M_B ADD1, \R32, \R8, KAUTO, \B, -0x1000
    M_B ADDR4, \R32, \R32, KAUTO, \B, -0x80
    M_B ADDR2, \R32, \R16, KAUTO, \B, 0x1234
    M_B ADDR1, \R32, \R8, KAUTO, \B, 0
    M_B INC4, \R32, \R32, KAUTO, \B, 0x1234
    M_B INC2, \R32, \R32, KAUTO, \B, -0x80
    M_B INC1, \R32, \R32, KAUTO, \B, 0x7f
    M_B XCHG4, \R32, \R32, KA4, \B, -0x80
    M_B XCHG2, \R32, \R16, KA2, \B, 0
    M_B XCHG1, \R32, \R8, KAUTO, \B, 0x1234
.endm
.macro G_RMW B
    .ifc \B,%eax
    G_RMW_R \B, %edx, %dx, %dl
    .else
    G_RMW_R \B, %eax, %ax, %al
    .endif
.endm

/* base + index*scale + disp, every scale, for one (base, index) pair */
.macro G_BI_R B, I, R32, R16, R8
    M_BI LD4, \R32, \R32, KAUTO, \B, \I, 1, 0, IVAUTO
    M_BI ST2, \R32, \R16, KAUTO, \B, \I, 2, -0x80, IVAUTO
    M_BI LD1, \R32, \R8, KAUTO, \B, \I, 4, 0x7f, IVAUTO
    M_BI ADD4, \R32, \R32, KAUTO, \B, \I, 8, 0x12345, IVAUTO
    M_BI LD2, \R32, \R16, KAUTO, \B, \I, 4, -0x1000, IVAUTO
    M_BI ST4, \R32, \R32, KAUTO, \B, \I, 8, 0, IVAUTO
    M_BI XCHG4, \R32, \R32, KA4, \B, \I, 2, 0x40, IVAUTO
    M_BI INC2, \R32, \R32, KAUTO, \B, \I, 1, -0x7f, IVAUTO
.endm
.macro G_BI B, I
    .ifc \B,\I
    .exitm
    .endif
    .ifnc \B,%eax
    .ifnc \I,%eax
    G_BI_R \B, \I, %eax, %ax, %al
    .exitm
    .endif
    .endif
    .ifnc \B,%ecx
    .ifnc \I,%ecx
    G_BI_R \B, \I, %ecx, %cx, %cl
    .exitm
    .endif
    .endif
    G_BI_R \B, \I, %edx, %dx, %dl
.endm

/* index*scale + disp32 */
.macro G_I_R I, R32, R16, R8
    M_I LD4, \R32, \R32, KAUTO, \I, 1, IVAUTO
    M_I LD2, \R32, \R16, KAUTO, \I, 2, IVAUTO
    M_I ST1, \R32, \R8, KAUTO, \I, 4, IVAUTO
    M_I ADD4, \R32, \R32, KAUTO, \I, 8, IVAUTO
    M_I LD1, \R32, \R8, KAUTO, \I, 8, IVAUTO
    M_I ST4, \R32, \R32, KAUTO, \I, 4, IVAUTO
    M_I INC4, \R32, \R32, KAUTO, \I, 2, IVAUTO
    M_I XCHG2, \R32, \R16, KA2, \I, 1, IVAUTO
.endm
.macro G_I I
    .ifc \I,%eax
    G_I_R \I, %edx, %dx, %dl
    .else
    G_I_R \I, %eax, %ax, %al
    .endif
.endm

/* AH/CH/DH/BH against [base + disp], base including the register's own
 * 32-bit register (mov ah, [eax]: the address uses EAX before the load) */
.macro G_HI_B B, H, R32
    M_B LD1H, \R32, \H, KAUTO, \B, 0
    M_B LD1H, \R32, \H, KAUTO, \B, -0x80
    M_B ST1H, \R32, \H, KAUTO, \B, 0x7f
    M_B ADD1H, \R32, \H, KAUTO, \B, 0x1234
    M_B ADDR1H, \R32, \H, KAUTO, \B, -0x1000
    M_B XCHG1H, \R32, \H, KAUTO, \B, 0x33
.endm

    .text
    .globl ab_run
    .type ab_run, @function
ab_run:
    pushl %ebp
    pushl %ebx
    pushl %esi
    pushl %edi
    movl %esp, ab_saved_esp

    GROUP "base register only, no/disp8/disp32 displacement, 8/16/32-bit loads and stores"
    .irp B, %eax,%ecx,%edx,%ebx,%esp,%ebp,%esi,%edi
    .irp D, 0,0x7f,-0x80,0x1234,-0x1000
    G_BASE \B, \D
    .endr
    .endr

    GROUP "base register only, read-modify-write: add m r, add r m, inc, xchg"
    .irp B, %eax,%ecx,%edx,%ebx,%esp,%ebp,%esi,%edi
    G_RMW \B
    .endr

    GROUP "base + index*1/2/4/8 + disp, every base and index pair"
    .irp B, %eax,%ecx,%edx,%ebx,%esp,%ebp,%esi,%edi
    .irp I, %eax,%ecx,%edx,%ebx,%ebp,%esi,%edi
    G_BI \B, \I
    .endr
    .endr

    GROUP "index*1/2/4/8 + disp32 without base"
    .irp I, %eax,%ecx,%edx,%ebx,%ebp,%esi,%edi
    G_I \I
    .endr

    GROUP "absolute disp32"
    M_A LD4, %eax, %eax, 0x101
    M_A LD2, %ecx, %cx, 0x203
    M_A LD1, %edx, %dl, 0x305
    M_A ST4, %ebx, %ebx, 0x407
    M_A ST2, %esi, %si, 0x509
    M_A ST1, %ecx, %cl, 0x60b
    M_A ADD4, %edi, %edi, 0x70d
    M_A ADDR2, %ebp, %bp, 0x80f
    M_A INC1, %eax, %eax, 0x911
    M_A INC4, %eax, %eax, 0xa12
    M_A XCHG4, %edx, %edx, 0xb14

    GROUP "AH/CH/DH/BH with base-only forms"
    .irp B, %eax,%ecx,%edx,%ebx,%esp,%ebp,%esi,%edi
    G_HI_B \B, %ah, %eax
    G_HI_B \B, %ch, %ecx
    G_HI_B \B, %dh, %edx
    G_HI_B \B, %bh, %ebx
    .endr

    GROUP "AH/CH/DH/BH with SIB, index-only and absolute forms"
    M_BI LD1H, %eax, %ah, KAUTO, %ebx, %esi, 2, 0x10, IVAUTO
    M_BI LD1H, %ecx, %ch, KAUTO, %esp, %ebp, 8, -0x80, IVAUTO
    M_BI LD1H, %edx, %dh, KAUTO, %ebp, %edi, 1, 0, IVAUTO
    M_BI LD1H, %ebx, %bh, KAUTO, %eax, %ecx, 4, 0x1234, IVAUTO
    M_BI LD1H, %eax, %ah, KAUTO, %ecx, %eax, 2, 4, IVAUTO
    M_BI ST1H, %eax, %ah, KAUTO, %esi, %edi, 4, 0x20, IVAUTO
    M_BI ST1H, %ecx, %ch, KAUTO, %esp, %eax, 1, 0, IVAUTO
    M_BI ST1H, %edx, %dh, KAUTO, %ebp, %esi, 8, -0x1000, IVAUTO
    M_BI ST1H, %ebx, %bh, KAUTO, %edi, %edx, 2, 0x7f, IVAUTO
    M_BI ADD1H, %eax, %ah, KAUTO, %edx, %ebx, 1, 0x55, IVAUTO
    M_BI ADD1H, %ebx, %bh, KAUTO, %ebp, %ecx, 4, 0, IVAUTO
    M_BI ADDR1H, %ecx, %ch, KAUTO, %esi, %edi, 8, -4, IVAUTO
    M_BI ADDR1H, %edx, %dh, KAUTO, %esp, %edx, 2, 0x100, IVAUTO
    M_BI XCHG1H, %edx, %dh, KAUTO, %eax, %ebp, 1, 0x31, IVAUTO
    M_BI XCHG1H, %eax, %ah, KAUTO, %edi, %esi, 8, 0, IVAUTO
    M_I LD1H, %eax, %ah, KAUTO, %esi, 4, IVAUTO
    M_I LD1H, %ebx, %bh, KAUTO, %ebp, 8, IVAUTO
    M_I ST1H, %ecx, %ch, KAUTO, %edi, 2, IVAUTO
    M_I ADD1H, %edx, %dh, KAUTO, %eax, 1, IVAUTO
    M_I XCHG1H, %ebx, %bh, KAUTO, %ecx, 4, IVAUTO
    M_A LD1H, %eax, %ah, 0x123
    M_A LD1H, %ecx, %ch, 0x234
    M_A ST1H, %edx, %dh, 0x345
    M_A ST1H, %ebx, %bh, 0x456
    M_A ADD1H, %eax, %ah, 0x567
    M_A ADDR1H, %edx, %dh, 0x678
    M_A XCHG1H, %ecx, %ch, 0x789

    GROUP "encodings assemblers do not choose: SIB without index, disp32 for small displacements"
    /* 8b 04 23: mov eax, [ebx] through a SIB byte with index=100 (none) */
    movl $AB_PRE, %eax
    SETB LD4, %ebx, KAUTO, 0, 0
    PROBE LD4, KAUTO, %eax, .byte 0x8b,0x04,0x23
    /* 8b 04 a3: the same with scale bits 10, ignored without an index */
    movl $AB_PRE, %eax
    SETB LD4, %ebx, KAUTO, 0, 0
    PROBE LD4, KAUTO, %eax, .byte 0x8b,0x04,0xa3
    /* 8b 44 23 fc: [ebx - 4] through SIB, disp8 */
    movl $AB_PRE, %eax
    SETB LD4, %ebx, KAUTO, -4, 0
    PROBE LD4, KAUTO, %eax, .byte 0x8b,0x44,0x23,0xfc
    /* 8b 83 04 00 00 00: [ebx + 4] with mod=10 (disp32) */
    movl $AB_PRE, %eax
    SETB LD4, %ebx, KAUTO, 4, 0
    PROBE LD4, KAUTO, %eax, .byte 0x8b,0x83,0x04,0x00,0x00,0x00
    /* 8b 84 24 00 00 00 00: [esp + 0] with disp32 */
    movl $AB_PRE, %eax
    SETB LD4, %esp, KAUTO, 0, 0
    PROBE LD4, KAUTO, %eax, .byte 0x8b,0x84,0x24,0x00,0x00,0x00,0x00
    /* 8b 14 25 disp32: mov edx, [disp32] through SIB (base=101, mod=00, no index) */
    movl $AB_PRE, %edx
    PROBE LD4, 0x444, %edx, OPC3_DISP32 0x8b,0x14,0x25,ab_buf+0x444
    /* 8b 14 65 disp32: the same with scale bits 01 */
    movl $AB_PRE, %edx
    PROBE LD4, 0x448, %edx, OPC3_DISP32 0x8b,0x14,0x65,ab_buf+0x448
    /* 8b 04 2d disp32: [ebp*1 + disp32] (mod=00, base=101: no base) */
    movl $AB_PRE, %eax
    movl $0x20, %ebp
    PROBE LD4, 0x4c0, %eax, OPC3_DISP32 0x8b,0x04,0x2d,ab_buf+0x4a0
    /* 8a 64 23 05: mov ah, [ebx + 5] through SIB */
    movl $AB_PRE, %eax
    SETB LD1H, %ebx, KAUTO, 5, 0
    PROBE LD1H, KAUTO, %eax, .byte 0x8a,0x64,0x23,0x05
    /* 66 89 94 24 disp32: mov [esp + disp32], dx */
    movl $AB_PRE, %edx
    SETB ST2, %esp, KAUTO, 0x10, 0
    PROBE ST2, KAUTO, %edx, .byte 0x66,0x89,0x94,0x24,0x10,0x00,0x00,0x00

    GROUP "32-bit wrap-around of the effective address (large and negative displacements)"
    M_B LD4, %eax, %eax, KAUTO, %ebx, 0xC0000000
    M_B LD2, %eax, %ax, KAUTO, %esi, 0x80000000
    M_B LD1H, %edx, %dh, KAUTO, %ebp, 0xFFFFFFF0
    M_B ST4, %eax, %eax, KAUTO, %edi, 0xC0000000
    M_B ADD2, %ecx, %cx, KAUTO, %esp, 0xC0001000
    M_B INC4, %eax, %eax, KAUTO, %ecx, 0x90000000
    M_B XCHG4, %edx, %edx, KA4, %ebx, 0xC0000000
    M_B ADDR4, %eax, %eax, KAUTO, %edx, -0x10000000
    M_BI LD4, %eax, %eax, KAUTO, %ebx, %esi, 4, 0xC0000000, 3
    M_BI LD4, %eax, %eax, KAUTO, %ebx, %esi, 8, 0, 0x20000001
    M_BI ST2, %eax, %ax, KAUTO, %ecx, %edi, 2, 0x7f, 0x80000010
    M_BI LD1, %ecx, %cl, KAUTO, %esp, %ebp, 1, -0x80, 0xFFFFFFFF
    M_I LD4, %eax, %eax, KAUTO, %esi, 8, 0x30000000
    M_I ST4, %eax, %eax, KAUTO, %edi, 4, 0xC0000004

    GROUP "accesses straddling a page boundary"
    M_A LD2, %eax, %ax, 0xfff
    M_A LD4, %eax, %eax, 0xffd
    M_B LD4, %eax, %eax, 0xffe, %ebx, 0x10
    M_B LD4, %edx, %edx, 0xfff, %esp, -0x80
    M_B LD1H, %ecx, %ch, 0xfff, %ebp, 0
    M_A ST2, %eax, %ax, 0xfff
    M_B ST4, %eax, %eax, 0xffd, %esi, 0x7f
    M_BI ST4, %eax, %eax, 0xffe, %ebx, %edi, 4, 0, 5
    M_B ADD4, %eax, %eax, 0xfff, %edx, 0
    M_B ADDR4, %eax, %eax, 0xffe, %edi, 0x1000
    M_A INC4, %eax, %eax, 0xffe
    M_A INC2, %eax, %eax, 0xfff

    GROUP "flat segment overrides: es, cs, ss, ds"
    M_B LD4, %eax, %eax, KAUTO, %ebx, 4, %es:
    M_B LD2, %eax, %ax, KAUTO, %esi, -0x80, %cs:
    M_B LD1, %eax, %al, KAUTO, %edi, 0x1234, %ss:
    M_B ST4, %eax, %eax, KAUTO, %ebx, 0, %es:
    M_B ADD2, %eax, %ax, KAUTO, %ecx, 0x10, %ss:
    M_B LD4, %eax, %eax, KAUTO, %ebp, 8, %ds:
    M_B ST4, %eax, %eax, KAUTO, %esp, -4, %ds:
    movl $AB_PRE, %eax
    PROBE LD4, 0x3c4, %eax, movl %cs:ab_buf+0x3c4, %eax

    GROUP "fs and gs with non-zero segment bases"
    movw $AB_SEL_FS_LOAD, %ax
    movw %ax, %fs
    movw %ax, %gs
    movl $AB_PRE, %eax
    PROBE LD4, AB_FS_LOAD_OFF, %eax, movl %fs:0, %eax
    movl $AB_PRE, %edx
    PROBE LD1, AB_FS_LOAD_OFF+3, %edx, movb %fs:3, %dl
    M_S LD4, %eax, %eax, AB_FS_LOAD_OFF+4, %fs, AB_FS_LOAD_OFF, %ebx, 4
    M_S LD2, %eax, %ax, AB_FS_LOAD_OFF+0x37, %fs, AB_FS_LOAD_OFF, %ebx, 4
    M_S LD1H, %ecx, %ch, AB_FS_LOAD_OFF+0x101, %fs, AB_FS_LOAD_OFF, %esp, -0x80
    M_S ADDR4, %eax, %eax, AB_FS_LOAD_OFF+0x202, %fs, AB_FS_LOAD_OFF, %ebp, 0x1234
    M_SBI LD4, %eax, %eax, 0xa10, %fs, AB_FS_LOAD_OFF, %ebx, %esi, 2, 0x10, 7
    M_SBI LD1H, %ebx, %bh, 0x955, %gs, AB_FS_LOAD_OFF, %ebp, %edi, 8, -0x80, IVAUTO
    movl $AB_PRE, %eax
    movl $5, %ecx
    PROBE LD4, AB_FS_LOAD_OFF+20, %eax, movl %gs:(,%ecx,4), %eax
    movl $AB_PRE, %eax
    movl $0x81, %ecx
    PROBE LD2, AB_FS_LOAD_OFF+0x204+3, %eax, movw %gs:3(,%ecx,4), %ax
    /* the segment base is ignored by LEA: 64 8d 43 04 = lea eax, fs:[ebx + 4] */
    movl $AB_PRE, %eax
    movl $0x1000, %ebx
    PROBE LEA4, 0x1004, %eax, .byte 0x64,0x8d,0x43,0x04
    movw $AB_SEL_GS_STORE, %ax
    movw %ax, %gs
    M_S ST4, %eax, %eax, AB_GS_STORE_OFF+8, %gs, AB_GS_STORE_OFF, %edx, 8
    M_S ST1H, %ebx, %bh, AB_GS_STORE_OFF+0x15, %gs, AB_GS_STORE_OFF, %esi, 0
    M_S ADD2, %eax, %ax, AB_GS_STORE_OFF+0x22, %gs, AB_GS_STORE_OFF, %ebx, -0x80
    M_S INC1, %eax, %eax, AB_GS_STORE_OFF+0x33, %gs, AB_GS_STORE_OFF, %edi, 0x20
    M_S XCHG4, %ecx, %ecx, AB_GS_STORE_OFF+0x44, %gs, AB_GS_STORE_OFF, %esp, 0x1234
    M_SBI ST2, %eax, %ax, AB_GS_STORE_OFF+0x81, %gs, AB_GS_STORE_OFF, %ebx, %esi, 8, 0, 3
    M_SBI ADD4, %edx, %edx, AB_GS_STORE_OFF+0x96, %gs, AB_GS_STORE_OFF, %esp, %ecx, 4, 0x40, IVAUTO
    movl $AB_PRE, %eax
    movl $0x20, %ecx
    PROBE ST4, AB_GS_STORE_OFF+0x80, %eax, movl %eax, %gs:(,%ecx,4)

    GROUP "linear-address wrap: segment base + offset beyond 4 GiB"
    movw $AB_SEL_WRAP, %ax
    movw %ax, %fs
    M_S LD4, %eax, %eax, 0x150, %fs, AB_WRAP_OFF, %ebx, 0
    M_S LD1H, %eax, %ah, 0x161, %fs, AB_WRAP_OFF, %esi, 0x7f
    M_S LD2, %edx, %dx, 0x172, %fs, AB_WRAP_OFF, %ebp, -0x80
    M_SBI LD4, %eax, %eax, 0x183, %fs, AB_WRAP_OFF, %edi, %ecx, 4, 0, IVAUTO
    movl $AB_PRE, %eax
    PROBE LD4, 0x194, %eax, movl %fs:0x80000094, %eax

    GROUP "ss with a non-zero base: the default segment of esp and ebp bases"
    movw $AB_SEL_SS_LOAD, %ax
    movw %ax, %ss
    M_S LD4, %eax, %eax, 0x300, %ss, AB_SS_LOAD_OFF, %ebp, 0
    M_S LD4, %eax, %eax, 0x311, %ss, AB_SS_LOAD_OFF, %esp, 8
    M_S LD1H, %eax, %ah, 0x322, %ss, AB_SS_LOAD_OFF, %ebp, -0x80
    M_S ADDR2, %eax, %ax, 0x333, %ss, AB_SS_LOAD_OFF, %esp, 0x1234
    /* no prefix: esp/ebp as base select SS */
    movl $AB_PRE, %eax
    movl $((0x344-AB_SS_LOAD_OFF)&0xffffffff), %ebp
    PROBE LD4, 0x344, %eax, movl (%ebp), %eax
    movl $AB_PRE, %eax
    movl $((0x355-AB_SS_LOAD_OFF-0x10)&0xffffffff), %esp
    PROBE LD4, 0x355, %eax, movl 0x10(%esp), %eax
    movl $AB_PRE, %eax
    movl $4, %ecx
    movl $((0x366-AB_SS_LOAD_OFF-8)&0xffffffff), %ebp
    PROBE LD4, 0x366, %eax, movl (%ebp,%ecx,2), %eax
    movl $AB_PRE, %eax
    movl $((0x377-AB_SS_LOAD_OFF-0x20)&0xffffffff), %esp
    movl $0x10, %esi
    PROBE LD4, 0x377, %eax, movl (%esp,%esi,2), %eax
    /* ebp as index, not base: DS */
    movl $AB_PRE, %eax
    movl $0x10, %ebp
    movl $(ab_buf+0x388-0x40), %esi
    PROBE LD4, 0x388, %eax, movl (%esi,%ebp,4), %eax
    /* ds: override on an ebp base */
    movl $AB_PRE, %eax
    movl $(ab_buf+0x399-4), %ebp
    PROBE LD4, 0x399, %eax, movl %ds:4(%ebp), %eax
    /* absolute and other bases stay with DS */
    movl $AB_PRE, %eax
    movl $(ab_buf+0x3aa), %ebx
    PROBE LD4, 0x3aa, %eax, movl (%ebx), %eax
    movw $AB_SEL_SS_STORE, %ax
    movw %ax, %ss
    movl $AB_PRE, %eax
    movl $((0x120-AB_SS_STORE_OFF-4)&0xffffffff), %esp
    PROBE ST4, 0x120, %eax, movl %eax, 4(%esp)
    movl $AB_PRE, %edx
    movl $((0x131-AB_SS_STORE_OFF)&0xffffffff), %ebp
    PROBE ADD4, 0x131, %edx, addl %edx, (%ebp)
    movl $AB_PRE, %ecx
    movl $((0x142-AB_SS_STORE_OFF+0x80)&0xffffffff), %ebp
    PROBE ST1H, 0x142, %ecx, movb %ch, -0x80(%ebp)
    movl $AB_PRE, %eax
    movl $((0x154-AB_SS_STORE_OFF)&0xffffffff), %esp
    PROBE XCHG4, 0x154, %eax, xchgl %eax, (%esp)

    movw $0x10, %ax
    movw %ax, %ss
    movw %ax, %fs
    movw %ax, %gs

    GROUP "lea: every form, 32-bit wrap, 16-bit destination, no memory access"
    movl $AB_PRE, %eax
    movl $0x90000000, %ebx
    PROBE LEA4, 0x10000000, %eax, leal 0x80000000(%ebx), %eax
    movl $AB_PRE, %eax
    movl $0x12345678, %ebx
    PROBE LEA4, 0x12345678, %eax, leal (%ebx), %eax
    movl $AB_PRE, %edx
    movl $0x40, %ecx
    PROBE LEA4, 0xFFFFFFC0, %edx, leal -0x80(%ecx), %edx
    movl $AB_PRE, %eax
    movl $0x1000, %esp
    PROBE LEA4, 0x107f, %eax, leal 0x7f(%esp), %eax
    movl $AB_PRE, %esi
    movl $0xABCDEF01, %ebp
    PROBE LEA4, 0xABCDEF01, %esi, leal (%ebp), %esi
    movl $0x11111111, %edi
    PROBE LEA4, 0x23456789, %edi, leal 0x12345678(%edi), %edi
    movl $0x55555556, %eax
    PROBE LEA4, 2, %eax, leal (%eax,%eax,2), %eax
    movl $AB_PRE, %ecx
    movl $0x100, %esp
    movl $0x20000000, %ebp
    PROBE LEA4, 0x104, %ecx, leal 4(%esp,%ebp,8), %ecx
    movl $AB_PRE, %ebx
    movl $0x40000000, %esi
    PROBE LEA4, 0x10, %ebx, leal 0x10(,%esi,4), %ebx
    movl $AB_PRE, %edx
    PROBE LEA4, 0xdeadbeef, %edx, leal 0xdeadbeef, %edx
    movl $AB_PRE, %eax
    movl $0x0001FFFF, %ebx
    movl $0x10, %ecx
    PROBE LEA2, 0x21273, %eax, leaw 0x1234(%ebx,%ecx,4), %ax
    movl $AB_PRE, %edx
    movl $0x8765FFFE, %esi
    PROBE LEA2, 0x87660001, %edx, leaw 3(%esi), %dx
    movl $AB_PRE, %ebp
    movl $0, %ebx
    movl $0, %edi
    PROBE LEA4, 0xFFFFFFFF, %ebp, leal -1(%ebx,%edi,1), %ebp
    movl $0x80000001, %edx
    PROBE LEA4, 0x80000001, %edx, leal 0x7fffffff(%edx,%edx,1), %edx
    movl $0x2000, %esp
    movl $4, %eax
    PROBE LEA4, 0x2000, %esp, leal -8(%esp,%eax,2), %esp
    movl $AB_PRE, %eax
    movl $0x7, %edi
    PROBE LEA4, 0x80000038, %eax, leal 0x80000000(,%edi,8), %eax
    movl $AB_PRE, %ecx
    movl $0xFFFFFFFF, %ebp
    movl $0xFFFFFFFF, %edx
    PROBE LEA4, 0xFFFFFFFE, %ecx, .byte 0x8d,0x4c,0x15,0x00

    movl ab_saved_esp, %esp
    popl %edi
    popl %esi
    popl %ebx
    popl %ebp
    ret
    .size ab_run, . - ab_run

    .section .rodata.ab_table, "a"
    .globl ab_table_end
ab_table_end:
    .long 0

    .section .rodata
    .balign 4
    .globl ab_nslots
ab_nslots:
    .long SLOT
    .if SLOT > AB_MAX_SLOTS
    .error "too many probes for ab_res"
    .endif

    .bss
    .balign 4096
    .globl ab_buf, ab_sbuf
ab_buf:
    .skip AB_BUF_SIZE
ab_sbuf:
    .skip AB_BUF_SIZE
    .balign 16
    .globl ab_res
ab_res:
    .skip 16 * AB_MAX_SLOTS
ab_saved_esp:
    .skip 4
ab_tmp:
    .skip 4

    .section .note.GNU-stack, "", @progbits
