/*
 * tests/test_ata.c — ATA PIO disks on raw image files (devices/ata.c),
 * through the channel registers a guest uses, against temporary images.
 *
 * The rig's primary master is a 2048-sector image whose sector s holds
 * pattern_byte(s, i) at byte i; the primary slave and the secondary
 * channel are empty unless a test adds drives. Interrupt lines are
 * recorded: their level and the number of rising edges (what an
 * edge-triggered 8259A input latches).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "devices/ata.h"
#include "devices/ioport.h"
#include "tests/snapshot_rig.h"

#define SECTORS 2048

/* Primary channel registers. */
#define DATA     0x1F0
#define ERROR    0x1F1
#define FEATURES 0x1F1
#define COUNT    0x1F2
#define LBA_LOW  0x1F3
#define LBA_MID  0x1F4
#define LBA_HIGH 0x1F5
#define DEVICE   0x1F6
#define STATUS   0x1F7
#define COMMAND  0x1F7
#define CONTROL  0x3F6

#define ST_BSY  0x80
#define ST_DRDY 0x40
#define ST_DSC  0x10
#define ST_DRQ  0x08
#define ST_ERR  0x01
#define ST_IDLE (ST_DRDY | ST_DSC)

#define ERR_IDNF 0x10
#define ERR_ABRT 0x04

#define DEV_LBA   0xE0 /* obsolete bits 7 and 5 set, as drivers write */
#define DEV_CHS   0xA0
#define DEV_SLAVE 0x10

#define NIEN 0x02
#define SRST 0x04

struct rig {
    char dir[64];
    char image[96];
    struct ioport_bus *io;
    struct ata_host *ata;
    bool line[16];
    unsigned edges[16];
};

static uint8_t pattern_byte(uint32_t sector, unsigned i)
{
    return (uint8_t)(sector * 7 + i * 13 + (sector >> 8));
}

static void record_irq(void *ctx, unsigned irq, bool level)
{
    struct rig *rig = ctx;

    if (level && !rig->line[irq])
        rig->edges[irq]++;
    rig->line[irq] = level;
}

static void make_image(const char *path, uint32_t sectors)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    for (uint32_t s = 0; s < sectors; s++) {
        for (unsigned i = 0; i < 512; i++)
            fputc(pattern_byte(s, i), f);
    }
    assert_int_equal(fclose(f), 0);
}

static struct ata_host *rig_attach(struct rig *rig, const struct ata_drive_config *drives)
{
    struct popek_error e;
    struct ata_host *ata;

    rig->io = ioport_bus_create();
    ata = ata_create(rig->io, drives, record_irq, rig, &e);
    if (!ata)
        fail_msg("ata_create: %s", e.message);
    return ata;
}

static int rig_setup(void **state)
{
    static struct rig rig;
    struct ata_drive_config drives[ATA_MAX_DRIVES] = {{0}};

    rig = (struct rig){0};
    strcpy(rig.dir, "/tmp/popek-test-ata-XXXXXX");
    assert_non_null(mkdtemp(rig.dir));
    snprintf(rig.image, sizeof(rig.image), "%s/disk.img", rig.dir);
    make_image(rig.image, SECTORS);
    drives[0].path = rig.image;
    rig.ata = rig_attach(&rig, drives);
    *state = &rig;
    return 0;
}

static int rig_teardown(void **state)
{
    struct rig *rig = *state;
    char path[128];

    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    unlink(rig->image);
    snprintf(path, sizeof(path), "%s/second.img", rig->dir);
    unlink(path);
    rmdir(rig->dir);
    return 0;
}

static void out8(struct rig *rig, io_port_t port, uint8_t value)
{
    ioport_write(rig->io, port, 1, value);
}

static uint8_t in8(struct rig *rig, io_port_t port)
{
    return (uint8_t)ioport_read(rig->io, port, 1);
}

/* Task file for an LBA28 command, then the command. */
static void issue_lba(struct rig *rig, uint8_t command, uint32_t lba, uint8_t count)
{
    out8(rig, COUNT, count);
    out8(rig, LBA_LOW, (uint8_t)lba);
    out8(rig, LBA_MID, (uint8_t)(lba >> 8));
    out8(rig, LBA_HIGH, (uint8_t)(lba >> 16));
    out8(rig, DEVICE, (uint8_t)(DEV_LBA | ((lba >> 24) & 0x0F)));
    out8(rig, COMMAND, command);
}

static void read_words(struct rig *rig, uint16_t *words, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        words[i] = (uint16_t)ioport_read(rig->io, DATA, 2);
}

/* Reads one 512-byte DRQ block and checks it against the pattern. */
static void expect_sector(struct rig *rig, uint32_t sector)
{
    uint16_t w[256];

    read_words(rig, w, 256);
    for (unsigned i = 0; i < 256; i++) {
        uint16_t want =
            (uint16_t)(pattern_byte(sector, 2 * i) | pattern_byte(sector, 2 * i + 1) << 8);
        if (w[i] != want)
            fail_msg("sector %u word %u: 0x%04x, want 0x%04x", sector, i, w[i], want);
    }
}

static void identify(struct rig *rig, uint16_t *w)
{
    out8(rig, COMMAND, 0xEC);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    read_words(rig, w, 256);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
}

static void test_reset_signature(void **state)
{
    struct rig *rig = *state;

    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    assert_int_equal(in8(rig, ERROR), 0x01);
    assert_int_equal(in8(rig, COUNT), 0x01);
    assert_int_equal(in8(rig, LBA_LOW), 0x01);
    assert_int_equal(in8(rig, LBA_MID), 0x00);
    assert_int_equal(in8(rig, LBA_HIGH), 0x00);
    assert_int_equal(in8(rig, DEVICE), 0x00);
    assert_false(rig->line[14]);

    /* SRST: both devices busy while it is held, then the signature. */
    issue_lba(rig, 0x20, 5, 1);
    assert_int_equal(rig->edges[14], 1);
    out8(rig, CONTROL, SRST);
    assert_false(rig->line[14]); /* the reset dropped the request */
    assert_int_equal(in8(rig, CONTROL), ST_BSY);
    out8(rig, COMMAND, 0xEC); /* ignored while in reset */
    out8(rig, CONTROL, 0);
    assert_int_equal(in8(rig, CONTROL), ST_IDLE);
    assert_int_equal(in8(rig, ERROR), 0x01);
    assert_int_equal(in8(rig, COUNT), 0x01);
    assert_int_equal(in8(rig, LBA_LOW), 0x01);
    assert_int_equal(in8(rig, LBA_MID), 0x00);
    assert_int_equal(in8(rig, LBA_HIGH), 0x00);
    assert_int_equal(in8(rig, DEVICE), 0x00);
    assert_int_equal(in8(rig, STATUS), ST_IDLE); /* the read was abandoned */
    assert_int_equal(ioport_read(rig->io, DATA, 2), 0);
    assert_int_equal(rig->edges[14], 1); /* no interrupt after SRST */

    /* EXECUTE DEVICE DIAGNOSTIC: the same signature, and an interrupt. */
    out8(rig, LBA_MID, 0x55);
    out8(rig, COMMAND, 0x90);
    assert_int_equal(rig->edges[14], 2);
    assert_int_equal(in8(rig, ERROR), 0x01);
    assert_int_equal(in8(rig, LBA_MID), 0x00);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    assert_false(rig->line[14]);
}

static void test_identify(void **state)
{
    struct rig *rig = *state;
    uint16_t w[256];
    char model[41];

    out8(rig, DEVICE, DEV_CHS);
    identify(rig, w);
    assert_int_equal(w[0], 0x0040);
    assert_int_equal(w[1], 2); /* 2048 / (16 * 63) cylinders */
    assert_int_equal(w[3], 16);
    assert_int_equal(w[6], 63);
    assert_int_equal(w[60] | (uint32_t)w[61] << 16, SECTORS);
    assert_true(w[49] & 0x0200);     /* LBA */
    assert_false(w[49] & 0x0100);    /* no DMA */
    assert_int_equal(w[47], 0x8010); /* up to 16 sectors per block */
    assert_int_equal(w[59], 0x0110); /* multiple mode on, 16 */
    assert_int_equal(w[53] & 0x0003, 0x0003);
    assert_int_equal(w[54], 2);
    assert_int_equal(w[57] | (uint32_t)w[58] << 16, 2 * 16 * 63);
    assert_int_equal(w[64], 0x0003); /* PIO 3 and 4 */
    assert_true(w[83] & 0x1000);     /* FLUSH CACHE */
    assert_false(w[83] & 0x0400);    /* no 48-bit addresses */
    /* Strings: first character in the high byte of each word. */
    assert_int_equal(w[27], 'p' << 8 | 'o');
    for (unsigned i = 0; i < 20; i++) {
        model[2 * i] = (char)(w[27 + i] >> 8);
        model[2 * i + 1] = (char)w[27 + i];
    }
    model[40] = '\0';
    assert_string_equal(model, "popek HARDDISK                          ");
    assert_int_equal(w[10], 'P' << 8 | 'K');

    /* The page moves once; the command raised one interrupt. */
    assert_int_equal(rig->edges[14], 1);
    assert_int_equal(ioport_read(rig->io, DATA, 2), 0);

    /* A disk is no packet device. */
    out8(rig, COMMAND, 0xA1);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    assert_int_equal(in8(rig, ERROR), ERR_ABRT);
}

static void test_read_sectors(void **state)
{
    struct rig *rig = *state;

    /* Three sectors, one DRQ block and one interrupt each. */
    issue_lba(rig, 0x20, 100, 3);
    for (uint32_t s = 100; s < 103; s++) {
        assert_true(rig->line[14]);
        assert_int_equal(rig->edges[14], s - 99);
        assert_int_equal(in8(rig, CONTROL), ST_IDLE | ST_DRQ);
        assert_true(rig->line[14]); /* Alternate Status leaves INTRQ alone */
        assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
        assert_false(rig->line[14]);
        expect_sector(rig, s);
    }
    /* After the last block: no DRQ, no interrupt; the task file names the
     * last sector and the count ran out. */
    assert_int_equal(rig->edges[14], 3);
    assert_false(rig->line[14]);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    assert_int_equal(in8(rig, COUNT), 0);
    assert_int_equal(in8(rig, LBA_LOW), 102);

    /* The last sector, with LBA bits 27-24 and 32-bit data accesses. */
    issue_lba(rig, 0x21, SECTORS - 1, 1);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    for (unsigned i = 0; i < 128; i++) {
        uint32_t want = 0;

        for (unsigned b = 0; b < 4; b++)
            want |= (uint32_t)pattern_byte(SECTORS - 1, 4 * i + b) << (8 * b);
        assert_int_equal(ioport_read(rig->io, DATA, 4), want);
    }
    assert_int_equal(in8(rig, STATUS), ST_IDLE);

    /* Sector count 0 means 256. */
    issue_lba(rig, 0x20, 0, 0);
    for (uint32_t s = 0; s < 256; s++)
        expect_sector(rig, s);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
}

static void test_chs_addressing(void **state)
{
    struct rig *rig = *state;

    /* Default geometry 16 heads x 63 sectors: C/H/S 1/2/5 is LBA
     * (1 * 16 + 2) * 63 + 4 = 1138. */
    out8(rig, COUNT, 1);
    out8(rig, LBA_LOW, 5);
    out8(rig, LBA_MID, 1);
    out8(rig, LBA_HIGH, 0);
    out8(rig, DEVICE, DEV_CHS | 2);
    out8(rig, COMMAND, 0x20);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    expect_sector(rig, 1138);

    /* Sector 0 and cylinders past the geometry do not exist. */
    out8(rig, LBA_LOW, 0);
    out8(rig, COMMAND, 0x20);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    assert_int_equal(in8(rig, ERROR), ERR_IDNF);
    out8(rig, LBA_LOW, 1);
    out8(rig, LBA_MID, 2);
    out8(rig, COMMAND, 0x20);
    assert_int_equal(in8(rig, ERROR), ERR_IDNF);

    /* INITIALIZE DEVICE PARAMETERS: 4 heads of 32 sectors; C/H/S 3/1/2 is
     * (3 * 4 + 1) * 32 + 1 = 417. */
    out8(rig, COUNT, 32);
    out8(rig, DEVICE, DEV_CHS | 3);
    out8(rig, COMMAND, 0x91);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    out8(rig, COUNT, 1);
    out8(rig, LBA_LOW, 2);
    out8(rig, LBA_MID, 3);
    out8(rig, DEVICE, DEV_CHS | 1);
    out8(rig, COMMAND, 0x20);
    expect_sector(rig, 417);
    /* The task file holds the last sector in CHS form. */
    assert_int_equal(in8(rig, LBA_LOW), 2);
    assert_int_equal(in8(rig, LBA_MID), 3);
    assert_int_equal(in8(rig, DEVICE) & 0x0F, 1);

    uint16_t w[256];
    identify(rig, w);
    assert_int_equal(w[54], SECTORS / (4 * 32));
    assert_int_equal(w[55], 4);
    assert_int_equal(w[56], 32);
    assert_int_equal(w[1], 2); /* the default translation is unchanged */
}

static void test_out_of_range(void **state)
{
    struct rig *rig = *state;
    unsigned edges = rig->edges[14];

    issue_lba(rig, 0x20, SECTORS, 1);
    assert_int_equal(rig->edges[14], edges + 1);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    assert_int_equal(in8(rig, ERROR), ERR_IDNF);
    assert_int_equal(ioport_read(rig->io, DATA, 2), 0);
    /* A range that starts inside and ends outside fails before any data. */
    issue_lba(rig, 0x20, SECTORS - 1, 2);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    assert_int_equal(in8(rig, ERROR), ERR_IDNF);
    issue_lba(rig, 0x30, 0x0FFFFFFF, 1);
    assert_int_equal(in8(rig, ERROR), ERR_IDNF);
    issue_lba(rig, 0x40, SECTORS - 4, 5);
    assert_int_equal(in8(rig, ERROR), ERR_IDNF);
    /* The next good command clears the error. */
    issue_lba(rig, 0x40, SECTORS - 4, 4);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    assert_int_equal(in8(rig, ERROR), 0);
}

static void write_pattern_words(struct rig *rig, uint8_t seed, unsigned nwords)
{
    for (unsigned i = 0; i < nwords; i++)
        ioport_write(rig->io, DATA, 2, (uint16_t)(seed * 0x0101u + i));
}

static void expect_file_words(struct rig *rig, uint32_t sector, uint8_t seed, unsigned nwords)
{
    FILE *f = fopen(rig->image, "rb");
    uint16_t w;

    assert_non_null(f);
    assert_int_equal(fseek(f, (long)sector * 512, SEEK_SET), 0);
    for (unsigned i = 0; i < nwords; i++) {
        assert_int_equal(fread(&w, 2, 1, f), 1);
        if (w != (uint16_t)(seed * 0x0101u + i))
            fail_msg("sector %u word %u: 0x%04x in the file", sector + i / 256, i, w);
    }
    fclose(f);
}

static void test_write_sectors(void **state)
{
    struct rig *rig = *state;

    /* The first block is asked for without an interrupt. */
    issue_lba(rig, 0x30, 200, 2);
    assert_int_equal(rig->edges[14], 0);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    write_pattern_words(rig, 0x11, 256);
    /* Written at once; the next block asked for with an interrupt. */
    expect_file_words(rig, 200, 0x11, 256);
    assert_int_equal(rig->edges[14], 1);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    write_pattern_words(rig, 0x22, 256);
    /* Completion interrupts too. */
    assert_int_equal(rig->edges[14], 2);
    assert_true(rig->line[14]);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    assert_false(rig->line[14]);
    expect_file_words(rig, 201, 0x22, 256);
    assert_int_equal(in8(rig, COUNT), 0);
    assert_int_equal(in8(rig, LBA_LOW), 201);

    /* 32-bit data writes, then read back through the device. */
    issue_lba(rig, 0x31, 210, 1);
    for (unsigned i = 0; i < 128; i++)
        ioport_write(rig->io, DATA, 4, 0xA5000000u | i);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    issue_lba(rig, 0x20, 210, 1);
    for (unsigned i = 0; i < 128; i++)
        assert_int_equal(ioport_read(rig->io, DATA, 4), 0xA5000000u | i);

    /* Neighbours are untouched. */
    issue_lba(rig, 0x20, 199, 1);
    expect_sector(rig, 199);
    issue_lba(rig, 0x20, 202, 1);
    expect_sector(rig, 202);

    /* FLUSH CACHE completes with an interrupt. */
    unsigned edges = rig->edges[14];
    out8(rig, COMMAND, 0xE7);
    assert_int_equal(rig->edges[14], edges + 1);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
}

static void test_multiple(void **state)
{
    struct rig *rig = *state;
    uint16_t w[256];

    /* SET MULTIPLE MODE: powers of two up to 16. */
    out8(rig, COUNT, 3);
    out8(rig, COMMAND, 0xC6);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    out8(rig, COUNT, 32);
    out8(rig, COMMAND, 0xC6);
    assert_int_equal(in8(rig, ERROR), ERR_ABRT);
    out8(rig, COUNT, 4);
    out8(rig, COMMAND, 0xC6);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    identify(rig, w);
    assert_int_equal(w[59], 0x0104);

    /* READ MULTIPLE of 10 sectors: blocks of 4, 4 and 2, one interrupt
     * and one DRQ phase each. */
    unsigned edges = rig->edges[14];
    issue_lba(rig, 0xC4, 300, 10);
    for (uint32_t s = 300; s < 310; s++) {
        if ((s - 300) % 4 == 0) {
            assert_int_equal(rig->edges[14], edges + 1 + (s - 300) / 4);
            assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
        }
        expect_sector(rig, s);
    }
    assert_int_equal(rig->edges[14], edges + 3);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);

    /* WRITE MULTIPLE of 6: blocks of 4 and 2. */
    edges = rig->edges[14];
    issue_lba(rig, 0xC5, 400, 6);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    write_pattern_words(rig, 0x33, 4 * 256);
    assert_int_equal(rig->edges[14], edges + 1);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    write_pattern_words(rig, 0x44, 2 * 256);
    assert_int_equal(rig->edges[14], edges + 2);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    expect_file_words(rig, 400, 0x33, 4 * 256);
    expect_file_words(rig, 404, 0x44, 2 * 256);

    /* Multiple mode off: READ/WRITE MULTIPLE abort. */
    out8(rig, COUNT, 0);
    out8(rig, COMMAND, 0xC6);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    issue_lba(rig, 0xC4, 0, 1);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    assert_int_equal(in8(rig, ERROR), ERR_ABRT);

    /* A software reset brings back the default of 16. */
    out8(rig, CONTROL, SRST);
    out8(rig, CONTROL, 0);
    identify(rig, w);
    assert_int_equal(w[59], 0x0110);
}

static void test_interrupt_enable(void **state)
{
    struct rig *rig = *state;

    /* nIEN: the request is pending but the line stays low... */
    out8(rig, CONTROL, NIEN);
    issue_lba(rig, 0x20, 7, 1);
    assert_false(rig->line[14]);
    assert_int_equal(rig->edges[14], 0);
    /* ...until nIEN is cleared while it is still pending. */
    out8(rig, CONTROL, 0);
    assert_true(rig->line[14]);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    assert_false(rig->line[14]);
    expect_sector(rig, 7);

    /* Polling with nIEN: a status read clears the pending request, so
     * clearing nIEN afterwards raises nothing. */
    out8(rig, CONTROL, NIEN);
    out8(rig, COMMAND, 0xE7);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    out8(rig, CONTROL, 0);
    assert_false(rig->line[14]);
    assert_int_equal(rig->edges[14], 1);

    /* A new command clears a request nobody read. */
    out8(rig, COMMAND, 0xE7);
    assert_true(rig->line[14]);
    issue_lba(rig, 0x30, 9, 1);
    assert_false(rig->line[14]);
    write_pattern_words(rig, 0x55, 256);
    assert_true(rig->line[14]);

    /* INTRQ belongs to the selected device: selecting the (absent) slave
     * releases the line. */
    out8(rig, DEVICE, DEV_LBA | DEV_SLAVE);
    assert_false(rig->line[14]);
    out8(rig, DEVICE, DEV_LBA);
    assert_true(rig->line[14]);
    assert_false(rig->line[15]);
}

static void test_absent_devices(void **state)
{
    struct rig *rig = *state;

    /* Absent slave: Status and Error read 0; the task file reads as
     * written (the master latched it), so Linux's device check passes and
     * its classification sees status 0: no device. */
    out8(rig, DEVICE, DEV_CHS | DEV_SLAVE);
    assert_int_equal(in8(rig, STATUS), 0);
    assert_int_equal(in8(rig, CONTROL), 0);
    assert_int_equal(in8(rig, ERROR), 0);
    out8(rig, COUNT, 0x55);
    out8(rig, LBA_LOW, 0xAA);
    assert_int_equal(in8(rig, COUNT), 0x55);
    assert_int_equal(in8(rig, LBA_LOW), 0xAA);
    assert_int_equal(in8(rig, DEVICE), DEV_CHS | DEV_SLAVE);
    out8(rig, COMMAND, 0xEC); /* nobody answers */
    assert_int_equal(in8(rig, STATUS), 0);
    assert_int_equal(rig->edges[14], 0);
    out8(rig, DEVICE, DEV_CHS);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);

    /* Empty secondary channel: every register reads 0. */
    for (io_port_t p = 0x171; p <= 0x177; p++)
        assert_int_equal(in8(rig, p), 0);
    assert_int_equal(in8(rig, 0x376), 0);
    out8(rig, 0x172, 0x55);
    out8(rig, 0x173, 0xAA);
    assert_int_equal(in8(rig, 0x172), 0);
    assert_int_equal(in8(rig, 0x173), 0);
    out8(rig, 0x177, 0xEC);
    assert_int_equal(in8(rig, 0x177), 0);
    assert_int_equal(rig->edges[15], 0);
    assert_int_equal(ata_drive_sectors(rig->ata, 1), 0);
    assert_int_equal(ata_drive_sectors(rig->ata, 0), SECTORS);
}

static void test_commands_accepted_and_aborted(void **state)
{
    struct rig *rig = *state;
    static const uint8_t accepted[] = {0x10, 0x70, 0xE0, 0xE1, 0xE2, 0xE3, 0x94,
                                       0x95, 0x96, 0x97, 0xE6, 0xE7, 0xEA};
    static const uint8_t aborted[] = {0x00, 0x08, 0x24, 0x25, 0x34, 0xA0,
                                      0xA1, 0xC8, 0xCA, 0xF8, 0xB0, 0xFF};

    for (size_t i = 0; i < sizeof(accepted); i++) {
        unsigned edges = rig->edges[14];

        out8(rig, COMMAND, accepted[i]);
        assert_int_equal(rig->edges[14], edges + 1);
        if (in8(rig, STATUS) != ST_IDLE)
            fail_msg("command 0x%02x not accepted", accepted[i]);
    }
    for (size_t i = 0; i < sizeof(aborted); i++) {
        out8(rig, COMMAND, aborted[i]);
        if (in8(rig, STATUS) != (ST_DRDY | ST_ERR) || in8(rig, ERROR) != ERR_ABRT)
            fail_msg("command 0x%02x not aborted", aborted[i]);
    }
    out8(rig, COMMAND, 0xE5); /* CHECK POWER MODE: active or idle */
    assert_int_equal(in8(rig, COUNT), 0xFF);

    /* SET FEATURES: PIO modes up to 4, write cache; DMA modes abort. */
    static const struct {
        uint8_t feature, count, status;
    } features[] = {
        {0x03, 0x0C, ST_IDLE},          {0x03, 0x08, ST_IDLE},
        {0x03, 0x00, ST_IDLE},          {0x03, 0x0D, ST_DRDY | ST_ERR},
        {0x03, 0x22, ST_DRDY | ST_ERR}, {0x03, 0x45, ST_DRDY | ST_ERR},
        {0x82, 0x00, ST_IDLE},          {0x02, 0x00, ST_IDLE},
        {0xAA, 0x00, ST_IDLE},          {0x55, 0x00, ST_IDLE},
        {0x66, 0x00, ST_IDLE},          {0xCC, 0x00, ST_IDLE},
        {0x07, 0x00, ST_DRDY | ST_ERR},
    };
    for (size_t i = 0; i < ARRAY_SIZE(features); i++) {
        out8(rig, FEATURES, features[i].feature);
        out8(rig, COUNT, features[i].count);
        out8(rig, COMMAND, 0xEF);
        if (in8(rig, STATUS) != features[i].status)
            fail_msg("SET FEATURES %02x/%02x", features[i].feature, features[i].count);
    }
    uint16_t w[256];
    out8(rig, FEATURES, 0x82);
    out8(rig, COMMAND, 0xEF);
    identify(rig, w);
    assert_false(w[85] & 0x0020);
    out8(rig, FEATURES, 0x02);
    out8(rig, COMMAND, 0xEF);
    identify(rig, w);
    assert_true(w[85] & 0x0020);
}

static void test_read_only_image(void **state)
{
    struct rig *rig = *state;
    struct ata_drive_config drives[ATA_MAX_DRIVES] = {{0}};
    struct popek_error e;

    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    chmod(rig->image, 0444);
    drives[0].path = rig->image;
    rig->io = ioport_bus_create();
    if (geteuid() != 0) {
        /* Not writable and not asked read-only: refused, with the file's
         * name and what to do. (root may write anyway.) */
        assert_null(ata_create(rig->io, drives, record_irq, rig, &e));
        assert_non_null(strstr(e.message, rig->image));
        assert_non_null(strstr(e.message, "readonly=on"));
    }
    ioport_bus_destroy(rig->io);
    drives[0].read_only = true;
    rig->ata = rig_attach(rig, drives);
    issue_lba(rig, 0x30, 3, 1);
    assert_int_equal(in8(rig, STATUS), ST_DRDY | ST_ERR);
    assert_int_equal(in8(rig, ERROR), ERR_ABRT);
    write_pattern_words(rig, 0x66, 256); /* no transfer: goes nowhere */
    issue_lba(rig, 0x20, 3, 1);
    expect_sector(rig, 3);
    chmod(rig->image, 0644);
}

static void test_open_errors(void **state)
{
    struct rig *rig = *state;
    struct ata_drive_config drives[ATA_MAX_DRIVES] = {{0}};
    struct ioport_bus *io = ioport_bus_create();
    struct popek_error e;
    char path[128];

    snprintf(path, sizeof(path), "%s/missing.img", rig->dir);
    drives[2].path = path;
    assert_null(ata_create(io, drives, record_irq, rig, &e));
    assert_non_null(strstr(e.message, path));

    snprintf(path, sizeof(path), "%s/second.img", rig->dir);
    FILE *f = fopen(path, "wb");
    fputs("short", f);
    fclose(f);
    assert_null(ata_create(io, drives, record_irq, rig, &e));
    assert_non_null(strstr(e.message, "smaller than one sector"));

    /* The image is locked while one machine has it. */
    drives[2].path = rig->image;
    assert_null(ata_create(io, drives, record_irq, rig, &e));
    assert_non_null(strstr(e.message, "in use"));
    ioport_bus_destroy(io);
}

static void test_secondary_channel(void **state)
{
    struct rig *rig = *state;
    struct ata_drive_config drives[ATA_MAX_DRIVES] = {{0}};
    char path[128];

    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    snprintf(path, sizeof(path), "%s/second.img", rig->dir);
    make_image(path, 100);       /* smaller than one 16x63 cylinder */
    drives[1].path = rig->image; /* primary slave */
    drives[3].path = path;       /* secondary slave */
    rig->ata = rig_attach(rig, drives);
    assert_int_equal(ata_drive_sectors(rig->ata, 1), SECTORS);
    assert_int_equal(ata_drive_sectors(rig->ata, 3), 100);

    /* The secondary slave answers at 0x170 with IRQ 15. */
    uint16_t w[256];
    out8(rig, 0x176, DEV_LBA | DEV_SLAVE);
    out8(rig, 0x177, 0xEC);
    assert_true(rig->line[15]);
    assert_false(rig->line[14]);
    assert_int_equal(in8(rig, 0x177), ST_IDLE | ST_DRQ);
    for (unsigned i = 0; i < 256; i++)
        w[i] = (uint16_t)ioport_read(rig->io, 0x170, 2);
    assert_int_equal(w[60], 100);
    assert_int_equal(w[1], 1); /* one head of 63 sectors: one cylinder */
    assert_int_equal(w[3], 1);
    assert_int_equal(w[6], 63);
    assert_int_equal(w[93], 0x4B00);
    /* Its master is absent. */
    out8(rig, 0x176, DEV_LBA);
    assert_int_equal(in8(rig, 0x177), 0);
}

/* ---- saved state ---- */

static struct snap_rig save_ata(struct rig *rig)
{
    struct snap_writer *w = rig_snap_begin("ata", ATA_STATE_VERSION);

    ata_save(rig->ata, w);
    return rig_snap_finish(w);
}

/* Save in the middle of a 3-sector READ SECTORS, half of the first
 * sector read → the host closed and another opened on the same image →
 * load: the rest of the transfer (the buffer, the sectors still to come,
 * DRQ and INTRQ) continues as the original would have. */
static void test_save_restore(void **state)
{
    struct rig *rig = *state;
    struct ata_drive_config drives[ATA_MAX_DRIVES] = {{0}};
    uint16_t w[256];

    out8(rig, FEATURES, 0x03);
    out8(rig, COUNT, 0x0B); /* SET FEATURES: PIO mode 3 */
    out8(rig, COMMAND, 0xEF);
    issue_lba(rig, 0x20, 10, 3);
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    read_words(rig, w, 100);
    struct snap_rig snap = save_ata(rig);
    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    drives[0].path = rig->image;
    rig->ata = rig_attach(rig, drives);
    rig->line[14] = false;
    struct snap_section s;
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    assert_true(ata_load(rig->ata, &s));
    rig_snap_close(&snap, &s);
    assert_false(rig->line[14]); /* a load drives no line: the IRQ router has its own */

    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    read_words(rig, w + 100, 156);
    for (unsigned i = 0; i < 256; i++)
        assert_int_equal(w[i], pattern_byte(10, 2 * i) | pattern_byte(10, 2 * i + 1) << 8);
    expect_sector(rig, 11);
    expect_sector(rig, 12);
    assert_int_equal(in8(rig, STATUS), ST_IDLE);
    assert_int_equal(in8(rig, COUNT), 0);
    assert_int_equal(in8(rig, LBA_LOW), 12);
}

/* The disk must be the one saved: another image, an image of another
 * size, no disk, or a corrupt transfer length are refused. */
static void test_load_mismatch_and_corrupt(void **state)
{
    struct rig *rig = *state;
    struct ata_drive_config drives[ATA_MAX_DRIVES] = {{0}};
    char second[128];
    struct snap_section s;

    struct snap_rig snap = save_ata(rig);
    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    snprintf(second, sizeof(second), "%s/second.img", rig->dir);
    make_image(second, SECTORS);
    drives[0].path = second;
    rig->ata = rig_attach(rig, drives);
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ata_load(rig->ata, &s));
    assert_non_null(strstr(snap.err.message, "disk.img"));

    /* The same image, grown by a sector. */
    snap = save_ata(rig);
    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    assert_int_equal(truncate(second, (SECTORS + 1) * 512), 0);
    rig->ata = rig_attach(rig, drives);
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ata_load(rig->ata, &s));
    assert_non_null(strstr(snap.err.message, "bytes"));

    /* No disk at all. */
    snap = save_ata(rig);
    ata_destroy(rig->ata);
    ioport_bus_destroy(rig->io);
    drives[0].path = NULL;
    rig->ata = rig_attach(rig, drives);
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ata_load(rig->ata, &s));
    assert_non_null(strstr(snap.err.message, "-drive"));

    /* Corrupt: a transfer longer than the buffer (no drives anywhere). */
    uint8_t bytes[2 + 23 + 2] = {0}; /* channel 0: no drives, ..., len at 23 */
    bytes[23] = 0xFF;
    bytes[24] = 0xFF;
    snap = rig_snap_raw("ata", ATA_STATE_VERSION, bytes, sizeof(bytes));
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ata_load(rig->ata, &s));
    unlink(second);
}

/* A copy of the first section of snap (the whole "ata" payload), for a
 * test to damage; frees snap. */
static uint8_t *copy_section(struct snap_rig *snap, size_t *size)
{
    struct snap_section_info info;

    assert_true(snap_reader_section_info(snap->reader, 0, &info));
    uint8_t *p = malloc(info.size);
    assert_non_null(p);
    memcpy(p, info.data, info.size);
    *size = info.size;
    rig_snap_free(snap);
    return p;
}

/* Loads a damaged copy of a section: refused as a transfer out of range. */
static void expect_transfer_refused(struct rig *rig, const uint8_t *bytes, size_t size)
{
    struct snap_section s;

    struct snap_rig snap = rig_snap_raw("ata", ATA_STATE_VERSION, bytes, size);
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    rig_snap_expect_refused(&snap, &s, ata_load(rig->ata, &s));
    assert_non_null(strstr(snap.err.message, "a transfer out of range"));
}

/* A pending transfer whose block does not agree with its counts is
 * refused: saved in a WRITE SECTORS of the image's last 4 sectors, then
 * the block made 16 sectors (8192 bytes of buffer), which the data port
 * would write past the image's end, wrapping remaining. Likewise a block
 * already all moved, a block of 0, data out from IDENTIFY's page. */
static void test_load_transfer_inconsistent(void **state)
{
    struct rig *rig = *state;
    size_t size;

    issue_lba(rig, 0x30, SECTORS - 4, 4); /* WRITE SECTORS */
    assert_int_equal(in8(rig, STATUS), ST_IDLE | ST_DRQ);
    struct snap_rig snap = save_ata(rig);
    uint8_t *good = copy_section(&snap, &size);
    /* From the end: channel 1 (two absent drives and 23 bytes), channel
     * 0's buffer of one sector, then len, pos, block, remaining, lba,
     * from_media, transfer. */
    size_t len_at = size - 25 - 512 - 2, pos_at = len_at - 2, block_at = pos_at - 1;
    size_t remaining_at = block_at - 4, media_at = remaining_at - 4 - 1;
    assert_int_equal(good[len_at] | good[len_at + 1] << 8, 512);
    assert_int_equal(good[block_at], 1);
    assert_int_equal(good[remaining_at], 4);
    assert_int_equal(good[media_at], 1);
    assert_int_equal(good[media_at - 1], 2); /* ATA_XFER_OUT */

    /* The section as saved loads. */
    struct snap_section s;
    snap = rig_snap_raw("ata", ATA_STATE_VERSION, good, size);
    rig_snap_open(&snap, "ata", ATA_STATE_VERSION, &s);
    assert_true(ata_load(rig->ata, &s));
    rig_snap_close(&snap, &s);

    /* block 16, len 8192 (the buffer grown to match). */
    size_t big = size + 8192 - 512;
    uint8_t *bytes = calloc(1, big);
    assert_non_null(bytes);
    memcpy(bytes, good, len_at);
    bytes[block_at] = 16;
    bytes[len_at] = 0x00;
    bytes[len_at + 1] = 0x20;
    memcpy(bytes + len_at + 2 + 8192, good + size - 25, 25);
    expect_transfer_refused(rig, bytes, big);
    free(bytes);

    bytes = malloc(size);
    assert_non_null(bytes);
    /* block 16 with the one-sector buffer: still min(4, 16) = 4 sectors. */
    memcpy(bytes, good, size);
    bytes[block_at] = 16;
    expect_transfer_refused(rig, bytes, size);
    /* pos at the end of the block (it would have moved on). */
    memcpy(bytes, good, size);
    bytes[pos_at + 1] = 0x02;
    expect_transfer_refused(rig, bytes, size);
    /* block 0. */
    memcpy(bytes, good, size);
    bytes[block_at] = 0;
    expect_transfer_refused(rig, bytes, size);
    /* No sectors remaining. */
    memcpy(bytes, good, size);
    bytes[remaining_at] = 0;
    expect_transfer_refused(rig, bytes, size);
    /* Data out not to the media (it would skip the range check). */
    memcpy(bytes, good, size);
    bytes[media_at] = 0;
    expect_transfer_refused(rig, bytes, size);
    free(bytes);
    free(good);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reset_signature, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_identify, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_read_sectors, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_chs_addressing, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_range, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_write_sectors, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_multiple, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_enable, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_absent_devices, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_commands_accepted_and_aborted, rig_setup,
                                        rig_teardown),
        cmocka_unit_test_setup_teardown(test_read_only_image, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_secondary_channel, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_save_restore, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_mismatch_and_corrupt, rig_setup, rig_teardown),
        cmocka_unit_test_setup_teardown(test_load_transfer_inconsistent, rig_setup, rig_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
