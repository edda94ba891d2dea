#!/usr/bin/env bash
# Builds ovs-vswitchd from Debian's openvswitch-source with the patches of
# ovs-patches/ applied, into a build folder, once per source version and
# patch set.  Prints nothing when that build is already there.  Only
# ovs-vswitchd is patched; ovsdb-server, ovs-vsctl, ovs-ofctl and
# ovs-appctl stay the system's (same version, same schema).
#
# Usage: build-ovs-patched.sh BUILD_DIR [PATCH_DIR]
#
# On success BUILD_DIR holds:
#   src/                  the unpacked, patched and configured OVS source
#   bin/ovs-vswitchd      the patched daemon
#   stamp                 the source version and the patches' checksum
set -euo pipefail

out=${1:?usage: $0 BUILD_DIR [PATCH_DIR]}
mkdir -p "$out"
out=$(cd "$out" && pwd)
patches=${2:-$(cd "$(dirname "$0")/.." && pwd)/ovs-patches}
tarball=/usr/src/openvswitch/openvswitch.tar.gz

if [ ! -f "$tarball" ]; then
    echo "$0: $tarball not found; run 'make deps' first" >&2
    exit 1
fi
shopt -s nullglob
list=("$patches"/*.patch)
if [ ${#list[@]} = 0 ]; then
    echo "$0: no patches in $patches" >&2
    exit 1
fi

version=$(dpkg-query -W -f='${Version}' openvswitch-source 2>/dev/null || echo unknown)
sum=$(sha256sum "$tarball" | cut -c1-16)
psum=$(cat "${list[@]}" | sha256sum | cut -c1-16)
want="$version $sum patches $psum"

if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$want" ] \
   && [ -x "$out/bin/ovs-vswitchd" ]; then
    exit 0
fi

echo "building a patched ovs-vswitchd from openvswitch-source $version" \
     "(${#list[@]} patches; a few minutes)"
rm -rf "$out"
mkdir -p "$out/bin"
tar -xzf "$tarball" -C "$out"
mv "$out/openvswitch" "$out/src"
cd "$out/src"
for p in "${list[@]}"; do
    patch -p1 --batch --forward --quiet < "$p" \
        || { echo "$0: $(basename "$p") does not apply to openvswitch-source $version" >&2; exit 1; }
done

./configure --quiet --disable-ssl --disable-libcapng --enable-silent-rules \
    CFLAGS="-O2 -g -Wno-error" > ../configure.log 2>&1 \
    || { tail -30 ../configure.log >&2; exit 1; }
built=$(make -s -f Makefile -f - print-built-sources \
        <<< 'print-built-sources: ; @echo $(BUILT_SOURCES)')
{ make -s -j"$(nproc)" $built && make -s -j"$(nproc)" vswitchd/ovs-vswitchd; } \
    > ../make.log 2>&1 || { tail -30 ../make.log >&2; exit 1; }
cp vswitchd/ovs-vswitchd "$out/bin/ovs-vswitchd"
echo "$want" > ../stamp
echo "patched ovs-vswitchd built in $out/bin"
