#!/usr/bin/env bash
# scripts/fetch-linux-guest.sh — the Linux guest: Debian's i386 kernel and a
# busybox initramfs for it.
#
#   scripts/fetch-linux-guest.sh [OUTDIR]      (default: <repo>/build/linux)
#
# Downloads with `apt-get download` the newest linux-image-<abi>-686-unsigned
# that apt knows of (the non-PAE i386 flavour: CMOV needed, no PAE) and
# busybox-static:i386, adding the i386 architecture to dpkg first when it is
# missing, and builds in OUTDIR:
#
#   vmlinuz              the kernel (a bzImage)
#   initramfs.cpio.gz    /bin/busybox and its applet links, /init
#                        (scripts/linux-guest/init), and the kernel modules of
#                        the IDE disk (PIIX3, ata_piix) and of ext2/ext4 with
#                        their dependencies, listed in load order in
#                        /lib/modules/load-order
#   config               the kernel's configuration
#   debs/                the two packages, kept for rebuilding offline
#   guest.txt            what was built from which packages
#
# and prints the paths of vmlinuz and initramfs.cpio.gz on standard output,
# one a line (progress goes to standard error). A second run whose packages
# have the same versions (as apt's local lists say: no network) and the same
# recipe (this script and the init) only prints them.
#
# Boot it with the console on the serial port; the recommended command line
# (-append) is
#
#   console=ttyS0 panic=-1
#
# (panic=-1: a kernel panic reboots at once, and with -no-reboot the VMM
# exits instead of hanging). scripts/run-linux-guest.sh boots it under popek
# or QEMU. The initramfs runs /run.sh when one is appended to it as a second
# cpio archive (the kernel unpacks concatenated archives), else a shell;
# either way it powers the machine off at the end.
#
# Needs apt-get, dpkg-deb, cpio, depmod (kmod) and gzip (scripts/setup-deps.sh
# installs them; xz or zstd too for a kernel whose modules are compressed,
# as newer Debian's are); adding the i386 architecture and updating apt's lists need
# root, through sudo when not root. Concurrent runs on one OUTDIR wait for
# each other (flock).
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$here")
init_script=$here/linux-guest/init

# The modules the guest loads, by name; their dependencies come from
# modules.dep. ata_piix drives the PIIX3 IDE function (PCI 8086:7010) of the
# PC; sd_mod gives the disk its block device; ext4 also mounts ext2, and
# asks the crypto API for "crc32c" at every mount (by name, not by symbol,
# so modules.dep does not list crc32c_generic).
wanted_modules=(ata_piix sd_mod ext4 crc32c_generic)
# Applets /init and the test and benchmark scripts use: the applet list read
# from the busybox binary must hold them all.
required_applets=(sh mount insmod echo cat mkdir hostname dmesg setsid cttyhack
    sync poweroff halt sleep printf dd uname seq head sha256sum mke2fs umount cmp true)

log() { echo "fetch-linux-guest: $*" >&2; }
die() {
    log "$*"
    exit 1
}

outdir=${1:-$repo/build/linux}
[[ $# -le 1 ]] || die "usage: $0 [OUTDIR]"
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)

for tool in apt-get apt-cache dpkg dpkg-deb cpio depmod gzip flock; do
    command -v "$tool" >/dev/null 2>&1 ||
        die "$tool not found (run scripts/setup-deps.sh, or 'make setup', to install it)"
done

# Runs a command as root: itself when root, else through sudo.
as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "'$*' needs root: run it as root (no sudo here), then run this again"
    fi
}

exec 9>"$outdir/.lock"
flock 9

# ---- which packages ---------------------------------------------------------

# Sets kernel_pkg, kernel_version, busybox_version from apt's local lists;
# returns 1 when apt knows of none of the kernels or not of busybox.
find_packages() {
    kernel_pkg=$(apt-cache pkgnames linux-image- 2>/dev/null |
        grep -E '^linux-image-[0-9.]+-[0-9]+-686-unsigned$' | sort -V | tail -n 1)
    [[ -n $kernel_pkg ]] || return 1
    local versions
    versions=$(apt-cache policy "$kernel_pkg:i386" busybox-static:i386 2>/dev/null |
        awk '/Candidate:/ {print $2}')
    kernel_version=$(sed -n 1p <<<"$versions")
    busybox_version=$(sed -n 2p <<<"$versions")
    [[ -n $kernel_version && $kernel_version != "(none)" &&
        -n $busybox_version && $busybox_version != "(none)" ]]
}

# apt-get update, as root; a failure to fetch some index files (a mirror
# being synced) is only a warning: what counts is whether the packages are
# found afterwards.
apt_update() {
    log "updating apt's package lists"
    if ! as_root apt-get update -q >&2; then
        log "warning: apt-get update reported errors (going on: the packages may still be found)"
    fi
}

recipe=$(cat "$0" "$init_script" | sha256sum | cut -c1-16)
outputs_exist() { [[ -f $outdir/vmlinuz && -f $outdir/initramfs.cpio.gz && -f $outdir/stamp ]]; }

if ! find_packages; then
    if ! grep -qx i386 <<<"$(dpkg --print-foreign-architectures)" &&
        [[ $(dpkg --print-architecture) != i386 ]]; then
        log "adding the i386 architecture to dpkg"
        as_root dpkg --add-architecture i386
    fi
    apt_update
    if ! find_packages; then
        if outputs_exist; then
            log "warning: apt knows of no linux-image-*-686-unsigned or busybox-static:i386;" \
                "keeping the guest built before ($(head -n 1 "$outdir/stamp"))"
            echo "$outdir/vmlinuz"
            echo "$outdir/initramfs.cpio.gz"
            exit 0
        fi
        die "apt knows of no linux-image-*-686-unsigned:i386 or busybox-static:i386" \
            "(is a Debian mirror reachable? see apt-get update's messages above)"
    fi
fi

stamp="$kernel_pkg $kernel_version busybox-static $busybox_version recipe $recipe"
if outputs_exist && [[ $(cat "$outdir/stamp") == "$stamp" ]]; then
    log "up to date: $kernel_pkg $kernel_version, busybox-static $busybox_version"
    echo "$outdir/vmlinuz"
    echo "$outdir/initramfs.cpio.gz"
    exit 0
fi

# ---- download -----------------------------------------------------------------

# The packages are kept in OUTDIR/debs (the last versions only), so a change
# of the recipe rebuilds without the network.
work=$(mktemp -d "${TMPDIR:-/tmp}/fetch-linux-guest.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$outdir/debs" "$work/debs"
# As root, apt downloads as the unprivileged user _apt, which must be able
# to write the directory (else it warns and downloads unsandboxed).
if [[ $(id -u) -eq 0 ]] && id _apt >/dev/null 2>&1; then
    chmod 755 "$work"
    chown _apt "$work/debs"
fi

# The .deb files of the chosen versions (apt writes an epoch's ':' as %3a).
deb_paths() {
    kernel_deb=$outdir/debs/${kernel_pkg}_${kernel_version//:/%3a}_i386.deb
    busybox_deb=$outdir/debs/busybox-static_${busybox_version//:/%3a}_i386.deb
}
download() {
    deb_paths
    [[ -f $kernel_deb && -f $busybox_deb ]] && return 0
    log "downloading $kernel_pkg $kernel_version and busybox-static $busybox_version"
    (cd "$work/debs" && apt-get download -q "$kernel_pkg:i386=$kernel_version" \
        "busybox-static:i386=$busybox_version" >&2) || return 1
    rm -f "$outdir"/debs/*.deb
    mv "$work"/debs/*.deb "$outdir/debs/"
    [[ -f $kernel_deb && -f $busybox_deb ]] ||
        die "apt-get download did not write $(basename "$kernel_deb") and $(basename "$busybox_deb")"
}
if ! download; then
    # The lists may name a version the mirror no longer has.
    apt_update
    find_packages || die "after apt-get update apt knows of no $kernel_pkg or busybox-static:i386"
    stamp="$kernel_pkg $kernel_version busybox-static $busybox_version recipe $recipe"
    download || die "apt-get download failed (is a Debian mirror reachable?)"
fi

# ---- unpack ---------------------------------------------------------------------

log "unpacking"
dpkg-deb -x "$kernel_deb" "$work/kernel"
dpkg-deb -x "$busybox_deb" "$work/busybox"
abi=${kernel_pkg#linux-image-}
abi=${abi%-unsigned}
kernel_file=$work/kernel/boot/vmlinuz-$abi
moddir=$work/kernel/lib/modules/$abi
[[ -f $kernel_file ]] || die "$kernel_pkg holds no boot/vmlinuz-$abi"
[[ -d $moddir ]] || die "$kernel_pkg holds no lib/modules/$abi"
busybox=$work/busybox/bin/busybox
[[ -f $busybox ]] || die "busybox-static holds no bin/busybox"

# ---- modules ----------------------------------------------------------------------

# The package has no modules.dep (its postinst runs depmod): make one.
depmod -b "$work/kernel" "$abi"

# Depth first, dependencies before the module: the load order, as files
# relative to $moddir. modules.dep names files; a module's name is its
# file's without .ko, '-' read as '_'.
mapfile -t load_order < <(awk -v wanted="${wanted_modules[*]}" '
    {
        file = $1; sub(/:$/, "", file)
        name = file; sub(/^.*\//, "", name); sub(/\.ko.*$/, "", name); gsub(/-/, "_", name)
        file_of[name] = file
        deps[file] = ""
        for (i = 2; i <= NF; i++) deps[file] = deps[file] " " $i
    }
    function place(file,    d, n, i) {
        if (file in placed) return
        placed[file] = 1
        n = split(deps[file], d, " ")
        for (i = 1; i <= n; i++) place(d[i])
        print file
    }
    END {
        n = split(wanted, w, " ")
        for (i = 1; i <= n; i++) {
            if (!(w[i] in file_of)) { print "missing " w[i]; exit }
            place(file_of[w[i]])
        }
    }' "$moddir/modules.dep")
for file in "${load_order[@]}"; do
    [[ $file != "missing "* ]] || die "$kernel_pkg has no module ${file#missing } (built in? see config-$abi)"
done

# ---- the initramfs tree -------------------------------------------------------------

root=$work/root
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,mnt,root,etc,lib/modules}
ln -s bin "$root/sbin"
mkdir -p "$root/usr"
ln -s ../bin "$root/usr/bin"
ln -s ../bin "$root/usr/sbin"
install -m 0755 "$busybox" "$root/bin/busybox"
install -m 0755 "$init_script" "$root/init"

# The applet names: busybox keeps them as one sorted run of NUL-terminated
# strings starting "[", "[[" (applet_names[]); the binary is 32-bit and this
# host may not run it, so `busybox --list` is not an option.
mapfile -t applets < <(tr '\0' '\n' <"$busybox" |
    awk 'prev == "[" && $0 == "[[" { on = 1; print "[" } on && $0 == "" { exit } on { print } { prev = $0 }')
((${#applets[@]} > 100)) || die "could not read the applet list from busybox (${#applets[@]} names)"
declare -A have_applet
for a in "${applets[@]}"; do
    have_applet[$a]=1
done
for a in "${required_applets[@]}"; do
    [[ -n ${have_applet[$a]:-} ]] || die "busybox-static has no applet $a"
done
for a in "${applets[@]}"; do
    [[ $a == busybox || $a == */* ]] && continue
    ln -s busybox "$root/bin/$a"
done

# Modules go in as plain .ko files (newer Debian kernels ship them
# compressed; busybox insmod and the kernel's own decompression are not
# relied on).
for file in "${load_order[@]}"; do
    plain=${file%.ko*}.ko
    mkdir -p "$root/lib/modules/$abi/$(dirname "$file")"
    case $file in
    *.ko) cp "$moddir/$file" "$root/lib/modules/$abi/$plain" ;;
    *.ko.xz) xz -dc "$moddir/$file" >"$root/lib/modules/$abi/$plain" ;;
    *.ko.zst) zstd -qdc "$moddir/$file" >"$root/lib/modules/$abi/$plain" ;;
    *.ko.gz) gzip -dc "$moddir/$file" >"$root/lib/modules/$abi/$plain" ;;
    *) die "module $file: unknown compression" ;;
    esac
    echo "/lib/modules/$abi/$plain"
done >"$root/lib/modules/load-order"

cat >"$root/etc/profile" <<'PROFILE'
export PS1='\h:\w\$ '
PROFILE
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"

# ---- archive ------------------------------------------------------------------------

(cd "$root" && find . | sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9n >"$work/initramfs.cpio.gz"

rm -f "$outdir/stamp"
cp "$kernel_file" "$outdir/vmlinuz.new"
cp "$work/kernel/boot/config-$abi" "$outdir/config"
mv "$work/initramfs.cpio.gz" "$outdir/initramfs.cpio.gz"
mv "$outdir/vmlinuz.new" "$outdir/vmlinuz"
{
    echo "kernel:    $kernel_pkg $kernel_version ($abi)"
    echo "busybox:   busybox-static $busybox_version (${#applets[@]} applets)"
    echo "modules:   ${load_order[*]}"
    echo "recipe:    $recipe (scripts/fetch-linux-guest.sh, scripts/linux-guest/init)"
    echo "append:    console=ttyS0 panic=-1"
} >"$outdir/guest.txt"
echo "$stamp" >"$outdir/stamp"
log "built $outdir: $kernel_pkg $kernel_version, busybox-static $busybox_version, ${#load_order[@]} modules"
echo "$outdir/vmlinuz"
echo "$outdir/initramfs.cpio.gz"
