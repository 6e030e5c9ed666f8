/*
 * guest-tests/hello.c — the default guest (`make run`) and the boot smoke
 * test: greets, checks the machine state a multiboot loader must hand over
 * (Multiboot 0.6.96 §3.2) and that the runtime works (printf, an exception
 * round trip), then prints PASS.
 *
 * Memory sizes and the command line differ between loaders (QEMU puts the
 * kernel's path in the command line), so they are printed only when the
 * command line contains "verbose": the golden output must not depend on them.
 */
#include "rt.h"

static void print_boot_info(const struct multiboot_info *mbi)
{
    rt_printf("multiboot flags 0x%x\n", mbi->flags);
    if (mbi->flags & MULTIBOOT_INFO_MEMORY)
        rt_printf("memory: lower %u KiB, upper %u KiB\n", mbi->mem_lower, mbi->mem_upper);
    rt_printf("command line: \"%s\"\n", rt_cmdline());
    if (mbi->flags & MULTIBOOT_INFO_MMAP) {
        uint32_t p = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
        while (p < end) {
            const struct multiboot_mmap_entry *e = (const void *)p;
            rt_printf("mmap: 0x%016llx +0x%llx type %u\n", (unsigned long long)e->addr,
                      (unsigned long long)e->len, e->type);
            p += e->size + 4;
        }
    }
}

static volatile uint32_t int_seen;

static void on_int_0x40(struct rt_frame *f)
{
    int_seen = f->vector;
    f->eax = 0x1234; /* visible to the interrupted code after iret */
}

/* With A20 masked, address bit 20 is forced to 0 and a location above 1 MiB
 * aliases one below it. Reading only the low alias keeps loader data safe. */
static bool a20_enabled(void)
{
    static volatile uint32_t probe;
    volatile uint32_t *low = (volatile uint32_t *)((uint32_t)&probe & ~(1u << 20));
    probe = 0x5A5A5A5A;
    if (*low != probe)
        return true;
    probe = 0xA5A5A5A5;
    return *low != probe;
}

int main(const struct multiboot_info *mbi)
{
    rt_puts("hello from a popek guest-test kernel");

    CHECK(mbi != NULL, "loader passed magic 0x2badb002 in eax (got 0x%x)", rt_boot.eax);
    CHECK((rt_boot.cr0 & CR0_PE) && !(rt_boot.cr0 & CR0_PG), "boot CR0: PE=1 PG=0");
    CHECK(!(rt_boot.eflags & (EFLAGS_VM | EFLAGS_IF)), "boot EFLAGS: VM=0 IF=0");
    CHECK(a20_enabled(), "A20 enabled");
    if (mbi && rt_verbose)
        print_boot_info(mbi);

    /* The runtime itself: formatting and one exception round trip. */
    char buf[96];
    rt_snprintf(buf, sizeof(buf), "%d %u %x %X %08x %-4s| %c %lld %llx %%", -42, 42u, 0xabcu,
                0xabcu, 0x1fu, "ab", 'z', -1234567890123ll, 0x123456789abcdefull);
    CHECK(strcmp(buf, "-42 42 abc ABC 0000001f ab  | z -1234567890123 123456789abcdef %") == 0,
          "printf: %s", buf);

    uint32_t eax;
    rt_set_handler(0x40, on_int_0x40);
    __asm__ volatile("movl $0, %%eax; int $0x40" : "=a"(eax) : : "memory");
    rt_set_handler(0x40, NULL);
    CHECK(int_seen == 0x40 && eax == 0x1234, "int $0x40 reached its handler, eax=0x%x", eax);

    rt_finish();
}
