#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Guest half of tests/vm/powercut (run through tests/vm/run-in-vm with the
# test disk attached as /dev/vda): load the block and ext4 modules of the
# guest kernel from tests/vm/cache, check the file system with e2fsck,
# mount it, and run powercut_client.py, which starts the emulator on the
# state directory there and prints every acknowledged NV write.
#
#   powercut-guest.sh IMPL (ours|upstream) [write|check] [dir|blk]
#
# blk: the state lives on /dev/vda itself (file:// on the raw device): no
# file system to check or mount.
set -u
impl=$1
mode=${2:-write}
backend=${3:-dir}
here=$(cd "$(dirname "$0")" && pwd)
kdir=$(ls -d "$here"/cache/linux-image-*-amd64 | head -n 1)
mdir=$(ls -d "$kdir"/lib/modules/* | head -n 1)

# insmod NAME after its dependencies (modinfo reads them from the file).
load() {
    local f d
    grep -q "^$1 " /proc/modules && return 0
    f=$(find "$mdir" -name "$1.ko*" | head -n 1)
    [ -n "$f" ] || { echo "PC: no module $1"; exit 3; }
    for d in $(modinfo -F depends "$f" | tr , ' '); do
        load "$d"
    done
    case $f in
    *.xz) xz -dc "$f" > "/tmp/$1.ko" ;;
    *.zst) zstd -qdc "$f" > "/tmp/$1.ko" ;;
    *) cp "$f" "/tmp/$1.ko" ;;
    esac
    insmod "/tmp/$1.ko" || { echo "PC: cannot load $1"; exit 3; }
}

load virtio_blk
for i in 1 2 3 4 5 6 7 8 9 10; do
    [ -b /dev/vda ] && break
    sleep 0.2
done
if [ "$backend" = blk ]; then
    echo "PC: fsck 0"
    exec python3 "$here/powercut_client.py" "$impl" file:///dev/vda "$mode"
fi
for m in crc32c_generic ext4; do
    load "$m"
done
e2fsck -fy /dev/vda > /tmp/fsck.log 2>&1
echo "PC: fsck $?"
mkdir -p /tmp/pc
mount -t ext4 /dev/vda /tmp/pc || { echo "PC: mount failed"; exit 3; }
mkdir -p /tmp/pc/state
python3 "$here/powercut_client.py" "$impl" /tmp/pc/state "$mode"
rc=$?
umount /tmp/pc
exit $rc
