#!/usr/bin/env bash
# Builds the real Linux guests pcvm is tested against, from Debian's own packages:
#
#   guests/<arch>/vmlinuz         Debian's stock kernel (bzImage): linux-image-686 or linux-image-amd64
#   guests/<arch>/initrd.img      a busybox (static) initramfs with the kernel's virtio, ext4 and kvm modules
#                                 and /bin/kvm-hello (needs gcc; gcc-multilib for i386)
#   guests/<arch>/disk.ext4       a 64 MiB ext4 data disk holding marker.txt (and disk.qcow2 if qemu-img exists)
#   guests/<arch>/KERNEL_VERSION
#   guests/<arch>/System.map      the kernel's symbol table, from linux-image-<kver>-dbg (for gdb:
#                                 `break *ADDR` on a kernel function; boot with nokaslr)
#
# Usage: npm run guests [-- i386|amd64|all [OUT_DIR]]      (defaults: all, ./guests)
#
# The guest's contract, which test/guests relies on:
#   - prints "GUEST-READY <uname -m> <uname -r>" on the console once booted;
#   - runs the commands in `autorun=` on the kernel command line (';' separates commands, '+' is
#     a space), in the background, and keeps a shell on the console;
#   - `guest-bench` prints "BENCH <name> <ms>" lines timed by the guest's own clock, then
#     "BENCH-DONE"; `guest-net` leases eth0 by DHCP and prints "NET-UP <ip>" (or "NET-FAIL …");
#   - `kvm-hello` runs a nested guest through /dev/kvm and prints "KVM-HELLO OK …" (or "… FAIL …");
#   - shuts down cleanly on `poweroff` or on the ACPI power button (busybox acpid).
#
# Needs a Debian system with apt-get, dpkg-deb, cpio, gzip and mke2fs (installed here when missing
# and we are root). Nothing is downloaded but Debian packages.
set -euo pipefail

arches=${1:-all}
out=$(realpath -m "${2:-$(dirname "$0")/../guests}")
[ "$arches" = all ] && arches="i386 amd64"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_tools() {
  local missing=()
  command -v cpio >/dev/null || missing+=(cpio)
  command -v mke2fs >/dev/null || missing+=(e2fsprogs)
  command -v gzip >/dev/null || missing+=(gzip)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "guests: installing ${missing[*]}" >&2
    as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

# Writes the initramfs's files under $1 (the root directory).
write_userland() {
  local root=$1
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,mnt,root,etc/init.d,var/run,var/log,lib/modules}
  mkdir -p "$root/etc/acpi/PWRF" "$root/usr/share/udhcpc" "$root/etc/udhcpc"

  cat > "$root/etc/inittab" <<'EOF'
::sysinit:/etc/init.d/boot
::once:/etc/init.d/autorun
::respawn:/bin/cttyhack /bin/sh -l
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/sync
EOF

  cat > "$root/etc/init.d/boot" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
while read -r module; do insmod "/lib/modules/$module" 2>/dev/null; done < /lib/modules/load-order
hostname guest
acpid 2>/dev/null
echo "GUEST-READY $(uname -m) $(uname -r)"
EOF

  cat > "$root/etc/init.d/autorun" <<'EOF'
#!/bin/sh
# autorun=cmd1;cmd2+arg  ->  one command per line, '+' standing for a space
commands=$(tr ' ' '\n' < /proc/cmdline | sed -n 's/^autorun=//p')
[ -n "$commands" ] || exit 0
printf '%s\n' "$commands" | tr ';+' '\n ' > /tmp/autorun.sh
exec sh /tmp/autorun.sh
EOF

  # The ACPI power button event (busybox acpid's PWRF/00000080) shuts the guest down.
  printf '#!/bin/sh\nexec poweroff\n' > "$root/etc/acpi/PWRF/00000080"
  echo "export PS1='guest:\\w# '" > "$root/etc/profile"

  cat > "$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc hook: apply the lease to the interface
case "$1" in
  deconfig) ifconfig "$interface" 0.0.0.0 ;;
  bound|renew)
    ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}"
    if [ -n "$router" ]; then
      route del default 2>/dev/null
      route add default gw "${router%% *}"
    fi
    : > /etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done ;;
esac
EOF
  ln -sf /usr/share/udhcpc/default.script "$root/etc/udhcpc/default.script"

  cat > "$root/bin/guest-net" <<'EOF'
#!/bin/sh
ifconfig lo 127.0.0.1 up
ifconfig eth0 up 2>/dev/null || { echo "NET-FAIL no eth0"; exit 1; }
udhcpc -i eth0 -q -n -t 5 -s /usr/share/udhcpc/default.script >/dev/null 2>&1 || { echo "NET-FAIL no lease"; exit 1; }
echo "NET-UP $(ifconfig eth0 | sed -n 's/.*inet addr:\([0-9.]*\).*/\1/p')"
EOF

  cat > "$root/bin/guest-bench" <<'EOF'
#!/bin/sh
# CPU-bound work timed by the guest's own clock (/proc/uptime, 10 ms resolution)
uptime_ms() { read -r up _ < /proc/uptime; echo "${up%.*}${up#*.}0"; }
bench() {
  name=$1; shift
  t0=$(uptime_ms); "$@" >/dev/null 2>&1; t1=$(uptime_ms)
  echo "BENCH $name $((t1 - t0))"
}
count_to() { n=0; while [ $n -lt "$1" ]; do n=$((n + 1)); done; }
bench md5-32M sh -c 'dd if=/dev/zero bs=1M count=32 | md5sum'
bench gzip-8M sh -c 'dd if=/dev/urandom bs=1M count=8 | gzip -1 | wc -c'
bench sh-loop-20k count_to 20000
bench fork-200 sh -c 'n=0; while [ $n -lt 200 ]; do /bin/true; n=$((n + 1)); done'
echo BENCH-DONE
EOF
  chmod +x "$root/etc/init.d/boot" "$root/etc/init.d/autorun" "$root/etc/acpi/PWRF/00000080" \
    "$root/usr/share/udhcpc/default.script" "$root/bin/guest-net" "$root/bin/guest-bench"
}

# Kernel modules the guest loads at boot; their dependencies are read from each module's own
# .modinfo section ("depends=a,b"), so no depmod is needed.
MODULES="virtio_pci virtio_blk virtio_net crc32c_generic ext4 kvm_intel button evdev"

# Prints the paths (under $1) of the modules named in $2.. and of everything they need,
# dependencies first.
module_closure() {
  local moddir=$1; shift
  declare -A path=() seen=()
  local file name
  while IFS= read -r file; do
    name=$(basename "$file"); name=${name%.ko}; path[${name//-/_}]=$file
  done < <(find "$moddir" -name '*.ko')
  visit() {
    local m=${1//-/_} dep
    [ -n "${seen[$m]:-}" ] && return
    seen[$m]=1
    [ -n "${path[$m]:-}" ] || { echo "guests: module $m not found in the kernel package" >&2; return; }
    for dep in $(tr '\0' '\n' < "${path[$m]}" | sed -n 's/^depends=//p' | tr ',' ' '); do visit "$dep"; done
    echo "${path[$m]}"
  }
  local want
  for want in "$@"; do visit "$want"; done
}

# /bin/kvm-hello (scripts/guest-kvm-hello.c): a nested guest run through the guest kernel's KVM.
# Static, so the busybox initramfs needs no C library; -m32 for the i386 guest.
build_kvm_hello() {
  local arch=$1 dst=$2 m32=
  [ "$arch" = i386 ] && m32=-m32
  if ! command -v gcc >/dev/null; then
    echo "guests: gcc missing, the $arch guest has no kvm-hello (apt-get install gcc${m32:+ gcc-multilib})" >&2
    return
  fi
  gcc $m32 -O2 -static -o "$dst" "$(dirname "$0")/guest-kvm-hello.c" \
    || echo "guests: kvm-hello not built for $arch (gcc${m32:+ with gcc-multilib} needed)" >&2
}

# Guests built before kvm-hello existed get it added to their initramfs (same kernel, same files).
add_kvm_hello() {
  local arch=$1 initrd=$2 tmp
  zcat "$initrd" | cpio -t --quiet 2>/dev/null | grep -qx bin/kvm-hello && return
  command -v gcc >/dev/null || return 0
  tmp=$(mktemp -d)
  (cd "$tmp" && zcat "$initrd" | cpio -id --quiet)
  build_kvm_hello "$arch" "$tmp/bin/kvm-hello"
  if [ -x "$tmp/bin/kvm-hello" ]; then
    (cd "$tmp" && find . | cpio -o -H newc --quiet | gzip -9) > "$initrd.new" && mv "$initrd.new" "$initrd"
    echo "guests: added /bin/kvm-hello to $initrd"
  fi
  rm -rf "$tmp"
}

# The Debian package version a bzImage was built as ("6.1.192-2"), from the kernel version string
# its setup header points to (boot protocol: kernel_version at 0x20E, offset from 0x200).
kernel_debian_version() {
  local image=$1 off
  off=$(od -An -tu2 -j $((0x20e)) -N2 "$image" | tr -d ' ')
  dd if="$image" bs=1 skip=$((0x200 + off)) count=256 2>/dev/null | tr '\0' '\n' \
    | sed -n '1s/.* Debian \([^ ]*\) .*/\1/p'
}

# Writes $2/System.map for the kernel in $2/vmlinuz. The linux-image package's own
# /boot/System.map is a placeholder ("The real System.map is in the linux-image-<version>-dbg
# package"), so the map comes from that -dbg package (~800 MB to download, of which only the
# 3-4 MB map is kept), pinned to the exact build of vmlinuz.
fetch_system_map() {
  local arch=$1 dst=$2 kver debver tmp
  kver=$(cat "$dst/KERNEL_VERSION")
  debver=$(kernel_debian_version "$dst/vmlinuz")
  [ -n "$debver" ] || { echo "guests: cannot read the Debian version of $dst/vmlinuz; no System.map" >&2; return; }
  tmp=$(mktemp -d)
  echo "guests: fetching System.map from linux-image-$kver-dbg $debver (large download)"
  if (cd "$tmp" && apt-get download -qq "linux-image-$kver-dbg:$arch=$debver" >/dev/null 2>"$tmp/apt.log"); then
    dpkg-deb --fsys-tarfile "$tmp"/linux-image-*-dbg_*.deb | tar -x -C "$tmp" "./usr/lib/debug/boot/System.map-$kver"
    cp "$tmp/usr/lib/debug/boot/System.map-$kver" "$dst/System.map"
  else
    cat "$tmp/apt.log" >&2
    echo "guests: linux-image-$kver-dbg=$debver is not available; no System.map" >&2
  fi
  rm -rf "$tmp"
}

build_arch() {
  local arch=$1 kernel_pkg busybox_pkg
  case $arch in
    i386) kernel_pkg=linux-image-686:i386; busybox_pkg=busybox-static:i386 ;;
    amd64) kernel_pkg=linux-image-amd64:amd64; busybox_pkg=busybox-static:amd64 ;;
    *) echo "guests: unknown architecture '$arch' (i386, amd64 or all)" >&2; exit 2 ;;
  esac
  local dst=$out/$arch
  if [ -s "$dst/vmlinuz" ] && [ -s "$dst/initrd.img" ] && [ -s "$dst/disk.ext4" ]; then
    add_kvm_hello "$arch" "$dst/initrd.img"
    [ -s "$dst/System.map" ] || fetch_system_map "$arch" "$dst"
    echo "guests: $dst is up to date"
    return
  fi
  if [ "$arch" = i386 ] && ! dpkg --print-foreign-architectures | grep -qx i386; then
    as_root dpkg --add-architecture i386
    as_root apt-get update -qq >/dev/null 2>&1 || true
  fi
  local tmp
  tmp=$(mktemp -d)
  # The meta package depends on the current versioned kernel package.
  local versioned
  versioned=$(apt-cache depends "$kernel_pkg" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
  if [ -z "$versioned" ]; then
    as_root apt-get update -qq >/dev/null 2>&1 || true
    versioned=$(apt-cache depends "$kernel_pkg" 2>/dev/null | awk '/Depends: linux-image-/ { print $2; exit }')
  fi
  [ -n "$versioned" ] || { echo "guests: apt cannot resolve $kernel_pkg" >&2; exit 1; }
  case $versioned in *:*) ;; *) versioned=$versioned:$arch ;; esac
  # (apt warns when its sandbox user cannot write to a root-owned temporary folder; harmless)
  (cd "$tmp" && apt-get download -qq "$versioned" "$busybox_pkg" >/dev/null 2>"$tmp/apt.log") \
    || { cat "$tmp/apt.log" >&2; echo "guests: apt-get download $versioned $busybox_pkg failed" >&2; exit 1; }
  mkdir -p "$tmp/kernel" "$tmp/busybox" "$dst"
  dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/kernel"
  dpkg-deb -x "$tmp"/busybox-static*.deb "$tmp/busybox"
  local kver
  kver=$(ls "$tmp/kernel/lib/modules")
  cp "$tmp/kernel/boot/vmlinuz-$kver" "$dst/vmlinuz"

  local root=$tmp/root
  write_userland "$root"
  cp "$tmp/busybox/bin/busybox" "$root/bin/busybox"
  local applet
  for applet in $("$tmp/busybox/bin/busybox" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
  done
  ln -sf ../bin/busybox "$root/sbin/init"
  ln -sf bin/busybox "$root/init"
  build_kvm_hello "$arch" "$root/bin/kvm-hello"
  : > "$root/lib/modules/load-order"
  local module
  for module in $(module_closure "$tmp/kernel/lib/modules/$kver/kernel" $MODULES); do
    cp "$module" "$root/lib/modules/"
    basename "$module" >> "$root/lib/modules/load-order"
  done
  (cd "$root" && find . | cpio -o -H newc --quiet | gzip -9) > "$dst/initrd.img"

  mkdir -p "$tmp/disk"
  echo "hello from the virtio disk" > "$tmp/disk/marker.txt"
  rm -f "$dst/disk.ext4" "$dst/disk.qcow2"
  mke2fs -q -t ext4 -L guestdata -d "$tmp/disk" "$dst/disk.ext4" 64M
  if command -v qemu-img >/dev/null; then qemu-img convert -O qcow2 "$dst/disk.ext4" "$dst/disk.qcow2"; fi
  echo "$kver" > "$dst/KERNEL_VERSION"
  rm -rf "$tmp"
  fetch_system_map "$arch" "$dst"
  echo "guests: $dst: vmlinuz ($kver), initrd.img, disk.ext4"
}

ensure_tools
for arch in $arches; do build_arch "$arch"; done
