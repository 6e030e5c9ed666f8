/*
 * guest-tests/ata_pio.c — PCI configuration mechanism #1 and an ATA disk
 * driven by PIO, as a driver sees them on a PC with an i440FX/PIIX3
 * chipset.
 *
 * PCI: bus 0 is scanned through 0xCF8/0xCFC (function 0 of every device,
 * functions 1-7 of multifunction devices); each function found is printed
 * as vendor:device and class; byte and word accesses to CONFIG_DATA are
 * compared with dword ones; a write to the read-only vendor ID is ignored;
 * the IDE function's BAR0 sizes to nothing (compatibility mode) and both
 * channels decode (IDETIM bit 15).
 *
 * ATA: the harness gives the primary master a 2048-sector raw image whose
 * byte i of sector s is disk_byte(s, i) (ata_pio.run makes it, fresh for
 * each runner). The kernel resets the channel (SRST) and checks the
 * signature, runs IDENTIFY DEVICE and prints the capacity, default CHS
 * geometry and LBA bit (not the model or serial strings, which differ
 * from QEMU's), reads sectors with READ SECTORS (polled, 16-bit, 32-bit and
 * rep insw transfers, and with IRQ 14 through the 8259A), prints a checksum,
 * writes patterns with WRITE SECTORS (polled and by interrupt) and WRITE
 * MULTIPLE, reads them back, and probes an address past the end, the
 * absent slave and the empty secondary channel. After the run the harness
 * checks the image on the host: the sectors written hold written_byte(s, i)
 * and every other sector is unchanged.
 *
 * What is printed is the same under QEMU and popek; where the two may
 * legitimately differ it is reduced to what both must do (an error for an
 * address past the end: QEMU says ABRT, popek IDNF).
 */
#include "rt.h"

/* ---- PCI ---- */

#define PCI_ADDRESS 0xCF8
#define PCI_DATA    0xCFC

static uint32_t pci_address(unsigned dev, unsigned fn, unsigned reg)
{
    return 0x80000000u | dev << 11 | fn << 8 | (reg & 0xFC);
}

static uint32_t pci_read32(unsigned dev, unsigned fn, unsigned reg)
{
    outl(PCI_ADDRESS, pci_address(dev, fn, reg));
    return inl(PCI_DATA);
}

static uint16_t pci_read16(unsigned dev, unsigned fn, unsigned reg)
{
    outl(PCI_ADDRESS, pci_address(dev, fn, reg));
    return inw((uint16_t)(PCI_DATA + (reg & 2)));
}

static uint8_t pci_read8(unsigned dev, unsigned fn, unsigned reg)
{
    outl(PCI_ADDRESS, pci_address(dev, fn, reg));
    return inb((uint16_t)(PCI_DATA + (reg & 3)));
}

static void pci_write32(unsigned dev, unsigned fn, unsigned reg, uint32_t v)
{
    outl(PCI_ADDRESS, pci_address(dev, fn, reg));
    outl(PCI_DATA, v);
}

static void pci_print_function(unsigned dev, unsigned fn)
{
    uint32_t id = pci_read32(dev, fn, 0x00);
    uint32_t class = pci_read32(dev, fn, 0x08) >> 8;

    rt_printf("pci %02x.%x %04x:%04x class %02x.%02x.%02x header %02x\n", dev, fn, id & 0xFFFF,
              id >> 16, class >> 16, (class >> 8) & 0xFF, class & 0xFF, pci_read8(dev, fn, 0x0E));
}

static void test_pci(void)
{
    unsigned found = 0;

    outl(PCI_ADDRESS, 0x80000000u);
    CHECK_EQ(inl(PCI_ADDRESS), 0x80000000u, "CONFIG_ADDRESS reads back");
    for (unsigned dev = 0; dev < 32; dev++) {
        if (pci_read32(dev, 0, 0x00) == 0xFFFFFFFFu)
            continue;
        unsigned nfn = (pci_read8(dev, 0, 0x0E) & 0x80) ? 8 : 1;
        for (unsigned fn = 0; fn < nfn; fn++) {
            if (pci_read32(dev, fn, 0x00) == 0xFFFFFFFFu)
                continue;
            pci_print_function(dev, fn);
            found++;
        }
    }
    CHECK_EQ(found, 3, "functions on bus 0");

    /* Byte and word lanes of CONFIG_DATA against the dword. */
    uint32_t id = pci_read32(1, 1, 0x00);
    uint32_t bytes = pci_read8(1, 1, 0) | pci_read8(1, 1, 1) << 8 | pci_read8(1, 1, 2) << 16 |
                     (uint32_t)pci_read8(1, 1, 3) << 24;
    CHECK_EQ(bytes, id, "01.1 identity read byte by byte");
    CHECK_EQ(pci_read16(1, 1, 0) | (uint32_t)pci_read16(1, 1, 2) << 16, id,
             "01.1 identity read word by word");
    pci_write32(1, 1, 0x00, 0);
    CHECK_EQ(pci_read32(1, 1, 0x00), id, "vendor/device ID after a write");

    /* Compatibility mode: BAR0 is no BAR; both channels decode. */
    pci_write32(1, 1, 0x10, 0xFFFFFFFFu);
    CHECK_EQ(pci_read32(1, 1, 0x10), 0, "IDE BAR0 after writing all ones");
    uint32_t idetim = pci_read32(1, 1, 0x40);
    CHECK(idetim & 0x8000, "IDE primary channel decode enabled (IDETIM bit 15)");
    CHECK(idetim & 0x80000000u, "IDE secondary channel decode enabled");
    CHECK_EQ(pci_read32(5, 0, 0x00), 0xFFFFFFFFu, "an absent device reads all ones");
    outl(PCI_ADDRESS, 0x00000800u); /* enable bit clear */
    CHECK_EQ(inl(PCI_DATA), 0xFFFFFFFFu, "CONFIG_DATA with the enable bit clear");
}

/* ---- ATA ---- */

#define ATA_DATA    0x1F0
#define ATA_ERROR   0x1F1
#define ATA_FEATURE 0x1F1
#define ATA_COUNT   0x1F2
#define ATA_LBA0    0x1F3
#define ATA_LBA1    0x1F4
#define ATA_LBA2    0x1F5
#define ATA_DEVICE  0x1F6
#define ATA_STATUS  0x1F7
#define ATA_COMMAND 0x1F7
#define ATA_CONTROL 0x3F6

#define ST_BSY  0x80
#define ST_DRDY 0x40
#define ST_DRQ  0x08
#define ST_ERR  0x01

#define CTL_NIEN 0x02
#define CTL_SRST 0x04

#define DISK_SECTORS 2048
#define POLL_LIMIT   2000000u

static uint8_t disk_byte(uint32_t s, unsigned i)
{
    return (uint8_t)(s * 7 + i * 13 + (s >> 8));
}

static uint8_t written_byte(uint32_t s, unsigned i)
{
    return (uint8_t)((s * 11 + i * 3) ^ 0xA5);
}

static uint16_t sector_buf[16 * 256];
static volatile unsigned irq_count;
static volatile uint8_t irq_status;

static void ide_irq_handler(struct rt_frame *f)
{
    (void)f;
    irq_status = inb(ATA_STATUS); /* acknowledges INTRQ */
    irq_count++;
    outb(0xA0, 0x20);
    outb(0x20, 0x20);
}

/* Alternate status until BSY clears (QEMU may still be busy right after
 * a command); the status, or 0xFF after the limit. */
static uint8_t wait_not_busy(uint16_t control)
{
    for (uint32_t i = 0; i < POLL_LIMIT; i++) {
        uint8_t st = inb(control);
        if (!(st & ST_BSY))
            return st;
    }
    return 0xFF;
}

static bool wait_irq(unsigned count)
{
    for (uint32_t i = 0; i < POLL_LIMIT && irq_count < count; i++)
        __asm__ volatile("pause");
    return irq_count >= count;
}

static void issue(uint8_t command, uint32_t lba, uint8_t count)
{
    outb(ATA_COUNT, count);
    outb(ATA_LBA0, (uint8_t)lba);
    outb(ATA_LBA1, (uint8_t)(lba >> 8));
    outb(ATA_LBA2, (uint8_t)(lba >> 16));
    outb(ATA_DEVICE, (uint8_t)(0xE0 | ((lba >> 24) & 0x0F)));
    outb(ATA_COMMAND, command);
}

static void read_block(uint16_t *dst, unsigned words)
{
    __asm__ volatile("cld; rep insw" : "+D"(dst), "+c"(words) : "d"((uint16_t)ATA_DATA) : "memory");
}

static void write_block(const uint16_t *src, unsigned words)
{
    __asm__ volatile("cld; rep outsw"
                     : "+S"(src), "+c"(words)
                     : "d"((uint16_t)ATA_DATA)
                     : "memory");
}

/* Counts the bytes of n sectors from first that differ from the image. */
static unsigned mismatches(const uint16_t *buf, uint32_t first, unsigned n, bool written)
{
    const uint8_t *b = (const uint8_t *)buf;
    unsigned bad = 0;

    for (unsigned s = 0; s < n; s++) {
        for (unsigned i = 0; i < 512; i++) {
            uint8_t want = written ? written_byte(first + s, i) : disk_byte(first + s, i);
            if (b[s * 512 + i] != want)
                bad++;
        }
    }
    return bad;
}

static void fill_written(uint16_t *buf, uint32_t first, unsigned n)
{
    uint8_t *b = (uint8_t *)buf;

    for (unsigned s = 0; s < n; s++)
        for (unsigned i = 0; i < 512; i++)
            b[s * 512 + i] = written_byte(first + s, i);
}

/* Polled READ SECTORS (nIEN set) of n <= 16 sectors into sector_buf. */
static bool read_polled(uint32_t lba, unsigned n)
{
    issue(0x20, lba, (uint8_t)n);
    for (unsigned s = 0; s < n; s++) {
        uint8_t st = wait_not_busy(ATA_CONTROL);
        if ((st & (ST_DRQ | ST_ERR)) != ST_DRQ)
            return false;
        read_block(sector_buf + s * 256, 256);
    }
    return (inb(ATA_STATUS) & (ST_BSY | ST_DRQ | ST_ERR)) == 0;
}

static void test_reset_and_identify(void)
{
    /* The master is selected around the reset: a BIOS may leave the slave
     * selected, and QEMU keeps the selection across SRST. */
    outb(ATA_DEVICE, 0xA0);
    outb(ATA_CONTROL, CTL_NIEN | CTL_SRST);
    for (volatile int i = 0; i < 100; i++)
        ;
    outb(ATA_CONTROL, CTL_NIEN);
    outb(ATA_DEVICE, 0xA0);
    uint8_t st = wait_not_busy(ATA_CONTROL);
    CHECK_EQ(st, 0x50, "status after SRST (DRDY, DSC)");
    CHECK_EQ(inb(ATA_ERROR), 0x01, "error register after SRST (diagnostic code: passed)");
    CHECK_EQ(inb(ATA_COUNT) << 8 | inb(ATA_LBA0), 0x0101, "signature: sector count, LBA low");
    CHECK_EQ(inb(ATA_LBA1) << 8 | inb(ATA_LBA2), 0x0000, "signature: LBA mid, high (ATA device)");

    outb(ATA_DEVICE, 0xA0);
    outb(ATA_COMMAND, 0xEC);
    st = wait_not_busy(ATA_CONTROL);
    CHECK_EQ(st, 0x58, "status after IDENTIFY DEVICE (DRQ)");
    uint16_t id[256];
    for (unsigned i = 0; i < 256; i++)
        id[i] = inw(ATA_DATA);
    CHECK_EQ(inb(ATA_STATUS), 0x50, "status after the IDENTIFY data");
    rt_printf("identify: %u sectors, CHS %u/%u/%u, LBA %s, multiple up to %u\n",
              id[60] | (unsigned)id[61] << 16, id[1], id[3], id[6],
              (id[49] & 0x0200) ? "yes" : "no", id[47] & 0xFF);
    CHECK_EQ(id[60] | (uint32_t)id[61] << 16, DISK_SECTORS, "capacity (IDENTIFY words 60-61)");
    CHECK(id[49] & 0x0200, "LBA supported (word 49 bit 9)");
    CHECK_EQ(id[0] & 0x8000, 0, "an ATA device (word 0 bit 15 clear)");
}

static void test_reads(void)
{
    /* Sectors 0-15, sector by sector, checksummed. */
    uint32_t a = 1, b = 0;
    bool ok = true;

    for (uint32_t s = 0; s < 16; s++) {
        ok &= read_polled(s, 1);
        const uint8_t *p = (const uint8_t *)sector_buf;
        for (unsigned i = 0; i < 512; i++) {
            a = (a + p[i]) % 65521;
            b = (b + a) % 65521;
        }
        ok &= mismatches(sector_buf, s, 1, false) == 0;
    }
    CHECK(ok, "sectors 0-15 read one at a time hold the image");
    rt_printf("adler32 of sectors 0-15: %08x\n", b << 16 | a);

    /* One command, 16 sectors, then the last sector of the disk. */
    CHECK(read_polled(1000, 16), "READ SECTORS of 16 at LBA 1000 ends cleanly");
    CHECK_EQ(mismatches(sector_buf, 1000, 16, false), 0, "bytes differing in sectors 1000-1015");
    CHECK(read_polled(DISK_SECTORS - 1, 1), "READ SECTORS of the last sector");
    CHECK_EQ(mismatches(sector_buf, DISK_SECTORS - 1, 1, false), 0,
             "bytes differing in the last sector");

    /* 32-bit data transfers (the PIIX3 runs two 16-bit cycles). */
    issue(0x20, 77, 1);
    wait_not_busy(ATA_CONTROL);
    uint32_t *dw = (uint32_t *)sector_buf;
    for (unsigned i = 0; i < 128; i++)
        dw[i] = inl(ATA_DATA);
    CHECK_EQ(mismatches(sector_buf, 77, 1, false), 0, "sector 77 read with inl");
    CHECK_EQ(inb(ATA_STATUS) & (ST_DRQ | ST_ERR), 0, "no DRQ after the 32-bit transfer");

    /* Past the end: an error, no data. */
    issue(0x20, DISK_SECTORS, 1);
    uint8_t st = wait_not_busy(ATA_CONTROL);
    uint8_t err = inb(ATA_ERROR);
    CHECK_EQ(st & (ST_DRDY | ST_DRQ | ST_ERR), ST_DRDY | ST_ERR,
             "status for READ SECTORS at LBA 2048 (ERR, no DRQ)");
    CHECK((err & 0x14) != 0, "error register says ABRT or IDNF");
    inb(ATA_STATUS);
}

static bool write_polled(uint32_t lba, unsigned n)
{
    fill_written(sector_buf, lba, n);
    issue(0x30, lba, (uint8_t)n);
    for (unsigned s = 0; s < n; s++) {
        uint8_t st = wait_not_busy(ATA_CONTROL);
        if ((st & (ST_DRQ | ST_ERR)) != ST_DRQ)
            return false;
        write_block(sector_buf + s * 256, 256);
    }
    return (wait_not_busy(ATA_CONTROL) & (ST_DRQ | ST_ERR)) == 0 &&
           (inb(ATA_STATUS) & (ST_DRQ | ST_ERR)) == 0;
}

static void test_polled_writes(void)
{
    CHECK(write_polled(100, 4), "WRITE SECTORS of 4 at LBA 100 (polled)");
    CHECK(read_polled(99, 6), "read back sectors 99-104");
    CHECK_EQ(mismatches(sector_buf + 256, 100, 4, true), 0, "written bytes wrong in 100-103");
    CHECK_EQ(mismatches(sector_buf, 99, 1, false), 0, "sector 99 unchanged");
    CHECK_EQ(mismatches(sector_buf + 5 * 256, 104, 1, false), 0, "sector 104 unchanged");
}

static void test_interrupts(void)
{
    unsigned base;
    bool ok = true;

    rt_pic_init(0xFB, 0xBF); /* only the cascade and IRQ 14 */
    rt_set_handler(0x2E, ide_irq_handler);
    outb(ATA_CONTROL, 0); /* nIEN clear: INTRQ reaches IRQ 14 */
    sti();

    /* WRITE SECTORS of 8: DRQ for the first block without an interrupt,
     * then one interrupt per block written. */
    fill_written(sector_buf, 200, 8);
    base = irq_count;
    issue(0x30, 200, 8);
    for (unsigned s = 0; s < 8; s++) {
        uint8_t st = wait_not_busy(ATA_CONTROL);
        ok &= (st & (ST_DRQ | ST_ERR)) == ST_DRQ;
        write_block(sector_buf + s * 256, 256);
        ok &= wait_irq(base + s + 1);
    }
    CHECK(ok, "WRITE SECTORS of 8 at LBA 200, driven by IRQ 14");
    CHECK_EQ(irq_count - base, 8, "interrupts for 8 sectors written");
    CHECK_EQ(irq_status & (ST_BSY | ST_DRQ | ST_ERR), 0, "status read by the last handler");

    /* READ SECTORS of 8: an interrupt before each block. */
    base = irq_count;
    ok = true;
    issue(0x20, 200, 8);
    for (unsigned s = 0; s < 8; s++) {
        ok &= wait_irq(base + s + 1);
        ok &= (irq_status & (ST_DRQ | ST_ERR)) == ST_DRQ;
        read_block(sector_buf + s * 256, 256);
    }
    for (volatile int i = 0; i < 10000; i++)
        ;
    CHECK(ok, "READ SECTORS of 8 at LBA 200, driven by IRQ 14");
    CHECK_EQ(irq_count - base, 8, "interrupts for 8 sectors read");
    CHECK_EQ(mismatches(sector_buf, 200, 8, true), 0, "bytes differing from what was written");

    /* SET MULTIPLE MODE 4, WRITE MULTIPLE and READ MULTIPLE of 8: one
     * interrupt per 4-sector block. */
    base = irq_count;
    outb(ATA_COUNT, 4);
    outb(ATA_COMMAND, 0xC6);
    ok = wait_irq(base + 1);
    CHECK(ok && (irq_status & (ST_DRDY | ST_ERR)) == ST_DRDY, "SET MULTIPLE MODE 4");
    fill_written(sector_buf, 300, 8);
    base = irq_count;
    issue(0xC5, 300, 8);
    ok = (wait_not_busy(ATA_CONTROL) & (ST_DRQ | ST_ERR)) == ST_DRQ;
    write_block(sector_buf, 4 * 256);
    ok &= wait_irq(base + 1) && (irq_status & ST_DRQ);
    write_block(sector_buf + 4 * 256, 4 * 256);
    ok &= wait_irq(base + 2);
    CHECK(ok, "WRITE MULTIPLE of 8 at LBA 300");
    CHECK_EQ(irq_count - base, 2, "interrupts for WRITE MULTIPLE (blocks of 4)");
    base = irq_count;
    issue(0xC4, 300, 8);
    ok = wait_irq(base + 1);
    read_block(sector_buf, 4 * 256);
    ok &= wait_irq(base + 2);
    read_block(sector_buf + 4 * 256, 4 * 256);
    for (volatile int i = 0; i < 10000; i++)
        ;
    CHECK(ok, "READ MULTIPLE of 8 at LBA 300");
    CHECK_EQ(irq_count - base, 2, "interrupts for READ MULTIPLE");
    CHECK_EQ(mismatches(sector_buf, 300, 8, true), 0, "bytes differing in 300-307");

    /* nIEN: the command completes, no interrupt arrives. */
    outb(ATA_CONTROL, CTL_NIEN);
    base = irq_count;
    outb(ATA_COMMAND, 0xE7); /* FLUSH CACHE */
    wait_not_busy(ATA_CONTROL);
    for (volatile int i = 0; i < 100000; i++)
        ;
    CHECK_EQ(irq_count - base, 0, "interrupts with nIEN set");
    CHECK_EQ(inb(ATA_STATUS) & (ST_DRDY | ST_ERR), ST_DRDY, "FLUSH CACHE completed");
    cli();
    outb(0xA1, 0xFF);
}

static void test_absent_devices(void)
{
    /* The primary slave is absent: status reads 0. */
    outb(ATA_DEVICE, 0xB0);
    CHECK_EQ(inb(ATA_CONTROL), 0, "primary slave: alternate status");
    CHECK_EQ(inb(ATA_STATUS), 0, "primary slave: status");
    outb(ATA_DEVICE, 0xA0);
    CHECK_EQ(inb(ATA_STATUS) & (ST_BSY | ST_DRDY), ST_DRDY, "primary master selected again");

    /* Nothing on the secondary channel: Linux's device check (0x55/0xAA
     * written to count and LBA low, read back) fails for both. */
    for (unsigned dev = 0; dev < 2; dev++) {
        outb(0x176, dev ? 0xB0 : 0xA0);
        outb(0x172, 0x55);
        outb(0x173, 0xAA);
        outb(0x172, 0xAA);
        outb(0x173, 0x55);
        outb(0x172, 0x55);
        outb(0x173, 0xAA);
        uint8_t count = inb(0x172), lba0 = inb(0x173);
        rt_printf("secondary %s: status %02x, count/lba low read back %02x/%02x\n",
                  dev ? "slave" : "master", inb(0x177), count, lba0);
        CHECK(count != 0x55 || lba0 != 0xAA, "secondary %s absent", dev ? "slave" : "master");
    }
}

int main(const struct multiboot_info *mbi)
{
    (void)mbi;
    test_pci();
    test_reset_and_identify();
    test_reads();
    test_polled_writes();
    test_interrupts();
    test_absent_devices();
    rt_finish();
}
