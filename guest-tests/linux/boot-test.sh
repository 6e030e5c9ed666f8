# guest-tests/linux/boot-test.sh — the commands of the linux.<runner>.boot
# test, run by busybox sh inside the Linux guest as /run.sh (run-linux-test.sh
# appends it to the initramfs, with /test.env giving the sizes and the
# host's checksum).
#
# Each check prints "POPEK-TEST: <check> ok" or "POPEK-TEST: FAIL <check>:
# <why>"; "POPEK-TEST: done" ends the run. The host reads these lines, and
# checks the disk image itself afterwards.
# shellcheck source=/dev/null # written by the host
. /test.env # DATA_LINES DATA_BYTES DATA_SHA256 FORKS

failed=0
fail() {
    echo "POPEK-TEST: FAIL $*"
    failed=1
}

echo "POPEK-TEST: begin"
uname -a
cat /proc/cpuinfo

# Data made the same way on both sides: the first DATA_BYTES bytes of `seq
# DATA_LINES` (decimal numbers, one a line: busybox's seq and GNU's agree).
seq "$DATA_LINES" | head -c "$DATA_BYTES" >/tmp/data
sum=$(sha256sum /tmp/data)
sum=${sum%% *}
echo "POPEK-TEST: sha256 $sum"
if [ "$sum" = "$DATA_SHA256" ]; then
    echo "POPEK-TEST: sha256 ok"
else
    fail "sha256: $sum, the host computed $DATA_SHA256"
fi

# Process creation: the subshell is a fork, in which /bin/true (a path, so
# neither a builtin nor an applet run in place) is an exec of busybox.
i=0
ran=0
while [ $i -lt "$FORKS" ]; do
    (/bin/true) && ran=$((ran + 1))
    i=$((i + 1))
done
if [ $ran -eq "$FORKS" ]; then
    echo "POPEK-TEST: fork-exec ok ($ran)"
else
    fail "fork-exec: $ran of $FORKS ran"
fi

# The IDE disk: an ext2 file system (made here, mounted through the ext4
# driver), the data written, synced, the page cache dropped, read back from
# the disk; unmounted clean so the host can check it with e2fsck and debugfs.
disk_check() {
    [ -b /dev/sda ] || { fail "disk: no /dev/sda"; return; }
    mke2fs -L popek /dev/sda >/tmp/mke2fs.log 2>&1 ||
        { cat /tmp/mke2fs.log; fail "disk: mke2fs /dev/sda"; return; }
    mount -t ext2 /dev/sda /mnt || { fail "disk: mount /dev/sda"; return; }
    cp /tmp/data /mnt/data || fail "disk: writing /mnt/data"
    sync
    echo 3 >/proc/sys/vm/drop_caches
    back=$(sha256sum /mnt/data)
    back=${back%% *}
    umount /mnt || fail "disk: umount /mnt"
    sync
    if [ "$back" = "$DATA_SHA256" ]; then
        echo "POPEK-TEST: disk ok"
    else
        fail "disk: read back $back, wrote $DATA_SHA256"
    fi
}
disk_check

if [ $failed -ne 0 ]; then
    echo "POPEK-TEST: the kernel's last messages:"
    dmesg | tail -n 40
fi
echo "POPEK-TEST: done"
exit $failed
