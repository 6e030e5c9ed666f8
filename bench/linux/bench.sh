# bench/linux/bench.sh — the Linux guest benchmark's work, run by busybox sh
# inside the guest as /run.sh (bench/run-linux-bench.sh appends it to the
# initramfs, with /bench.env giving the sizes).
#
# The host times each part from the arrival of its "POPEK-BENCH: <part>
# begin" and "... end" lines on the console; the time /init printed
# "POPEK-INIT: run /run.sh" is the boot's. The end lines carry the result
# (a checksum, a count), which the host checks.
# shellcheck source=/dev/null # written by the host
. /bench.env # CHUNK_LINES CHUNK_BYTES CHUNKS FORKS

# The data: CHUNKS copies of the first CHUNK_BYTES bytes of `seq
# CHUNK_LINES` (made before the timing starts).
seq "$CHUNK_LINES" | head -c "$CHUNK_BYTES" >/tmp/chunk
i=0
while [ $i -lt "$CHUNKS" ]; do
    cat /tmp/chunk
    i=$((i + 1))
done >/tmp/data
rm /tmp/chunk

# CPU: SHA-256 over data in the page cache.
echo "POPEK-BENCH: sha256 begin"
sum=$(sha256sum /tmp/data)
echo "POPEK-BENCH: sha256 end ${sum%% *}"

# Processes: a fork (the subshell), an exec of busybox as /bin/true, an
# exit and a wait, FORKS times.
echo "POPEK-BENCH: fork-exec begin"
i=0
ran=0
while [ $i -lt "$FORKS" ]; do
    (/bin/true) && ran=$((ran + 1))
    i=$((i + 1))
done
echo "POPEK-BENCH: fork-exec end $ran"
