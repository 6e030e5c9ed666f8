/*
 * guest-tests/triple_fault.c — a kernel that shuts the processor down.
 *
 * It prints one line, loads an IDT with limit 0 and executes int3: #BP
 * cannot be delivered (#GP), neither can the #GP (#DF), nor the #DF — a
 * triple fault (SDM vol. 3, §6.15, interrupt 8). A PC then resets; with
 * -no-reboot the VMM stops. run-reset-test.sh checks both under popek.
 */
#include "rt.h"

int main(const struct multiboot_info *mbi)
{
    static const struct rt_dtr empty_idt = {0, 0};

    (void)mbi;
    rt_printf("triple_fault: booted\n");
    __asm__ volatile("lidt %0\n\tint3" : : "m"(empty_idt));
    rt_printf("triple_fault: still running?\n");
    rt_finish();
}
