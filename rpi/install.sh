#!/bin/sh
# rpi/install.sh — install echorelay as a systemd service on Raspberry Pi OS
# (or any systemd Debian). Safe to run again: it changes only what differs,
# never touches an existing peers file or the cache, and restarts the relay
# only when the binary or the unit changed.
#
# Usage: sudo rpi/install.sh [--binary PATH] [--arch ARCH] [--root DIR] [--dry-run] [--no-start]
#
#   --binary PATH  the echorelay binary, or a release archive echorelay-*-linux-*.tar.gz.
#                  Default: the binary of the release archive this script came in
#                  (../echorelay), else dist/ of a source tree after scripts/build.
#   --arch ARCH    amd64, arm64, arm6 or arm7 instead of asking uname -m:
#                  armv6l -> arm6, armv7l/armv8l -> arm7, aarch64 -> arm64, x86_64 -> amd64
#   --root DIR     install under DIR instead of / (for tests and images): no user is
#                  created, nothing is chowned, systemctl is not called
#   --dry-run      print every action and change nothing
#   --no-start     install and enable, but do not start or restart the service
#
# What it does:
#   /usr/local/bin/echorelay                     the binary (0755)
#   system user and group echorelay              no login, home /var/lib/echorelay
#   /var/lib/echorelay                           cache + node key (0750 echorelay)
#   /etc/echorelay/peers                         neighbours, from peers.example if missing
#   /etc/systemd/system/echorelay.service        hardened unit; enabled and started
#
# rpi/uninstall.sh reverses it.

set -eu

prog=install.sh
dry=0
root=
binary=
arch=
start=1

say() { printf '%s: %s\n' "$prog" "$*"; }
die() {
	printf '%s: %s\n' "$prog" "$1" >&2
	[ -z "${2:-}" ] || printf 'hint: %s\n' "$2" >&2
	exit 1
}
# run CMD...: print it, and run it unless --dry-run.
run() {
	if [ "$dry" = 1 ]; then
		printf '%s: would run: %s\n' "$prog" "$*"
	else
		printf '%s: + %s\n' "$prog" "$*"
		"$@"
	fi
}

while [ $# -gt 0 ]; do
	case $1 in
	--binary) [ $# -ge 2 ] || die "--binary needs a path"; binary=$2; shift 2 ;;
	--binary=*) binary=${1#*=}; shift ;;
	--arch) [ $# -ge 2 ] || die "--arch needs a value"; arch=$2; shift 2 ;;
	--arch=*) arch=${1#*=}; shift ;;
	--root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift 2 ;;
	--root=*) root=${1#*=}; shift ;;
	--dry-run | -n) dry=1; shift ;;
	--no-start) start=0; shift ;;
	-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument '$1'" "$prog --help" ;;
	esac
done

here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

if [ -n "$root" ]; then
	case $root in /*) ;; *) root=$(pwd)/$root ;; esac
	root=${root%/}
	[ -n "$root" ] || die "--root / is the default; leave it out"
fi
if [ -z "$root" ] && [ "$dry" = 0 ] && [ "$(id -u)" != 0 ]; then
	die "must run as root to install into /" "sudo $0 $*, or --dry-run to see what it would do"
fi

# --- which build this machine needs
if [ -z "$arch" ]; then
	m=${UNAME_M:-$(uname -m)} # UNAME_M: for tests only
	case $m in
	armv6l | armv6*) arch=arm6 ;;
	armv7l | armv7* | armv8l) arch=arm7 ;;
	aarch64 | arm64) arch=arm64 ;;
	x86_64 | amd64) arch=amd64 ;;
	*) die "no echorelay build for this CPU ($m)" "build one with GOARCH=... scripts/build, then --binary PATH --arch ..." ;;
	esac
fi
case $arch in
amd64 | arm64 | arm6 | arm7) ;;
*) die "unknown --arch '$arch'" "use amd64, arm64, arm6 or arm7" ;;
esac
target=linux-$arch
say "this machine needs the $target build"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/echorelay-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# from_archive FILE: extract the binary of a release archive into $tmp.
from_archive() {
	case $(basename -- "$1") in
	*-"$target".tar.gz) ;;
	echorelay-*-*.tar.gz)
		die "$(basename -- "$1") is not the $target build" "use echorelay-*-$target.tar.gz, or --arch if the guess is wrong" ;;
	esac
	tar -xzf "$1" -C "$tmp" || die "failed to extract $1"
	found=
	for f in "$tmp"/*/echorelay "$tmp"/echorelay; do
		[ -f "$f" ] && found=$f && break
	done
	[ -n "$found" ] || die "no echorelay binary in $1"
	binary=$found
}

if [ -n "$binary" ]; then
	[ -f "$binary" ] || die "no such file: $binary"
	case $binary in *.tar.gz | *.tgz) from_archive "$binary" ;; esac
elif [ ! -f "$here/../go.mod" ] && [ -f "$here/../echorelay" ]; then
	# Running from an extracted release archive: echorelay-VERSION-TARGET/rpi/install.sh
	case $(basename -- "$(dirname -- "$here")") in
	*-"$target") ;;
	echorelay-*-linux-*)
		die "this archive is $(basename -- "$(dirname -- "$here")"), this machine needs $target" "download echorelay-*-$target.tar.gz, or --arch if the guess is wrong" ;;
	esac
	binary=$here/../echorelay
elif [ -f "$here/../dist/bin/echorelay-$target" ]; then
	binary=$here/../dist/bin/echorelay-$target # a source tree after scripts/build
else
	archive=
	for f in "$here"/../dist/echorelay-*-"$target".tar.gz; do
		[ -f "$f" ] && archive=$f
	done
	[ -n "$archive" ] || die "no $target binary found next to this script" "run scripts/build $target first, or pass --binary PATH"
	from_archive "$archive"
fi

# The ELF header must match: byte 4 is the class (1: 32-bit, 2: 64-bit),
# bytes 18-19 the machine (little-endian: 62 x86-64, 183 AArch64, 40 ARM).
elf=$(od -An -tu1 -j0 -N20 "$binary" | tr -s ' \n' '  ')
set -f
# shellcheck disable=SC2086 # split the byte list on purpose
set -- $elf
set +f
if ! { [ $# -ge 20 ] && [ "$1" = 127 ] && [ "$2" = 69 ] && [ "$3" = 76 ] && [ "$4" = 70 ]; }; then
	die "$binary is not an ELF executable"
fi
class=$5
machine=$((${19} + 256 * ${20}))
case $arch:$class:$machine in
amd64:2:62 | arm64:2:183 | arm6:1:40 | arm7:1:40) ;;
*) die "$binary is not a $target binary (ELF class $class, machine $machine)" "pass the $target build with --binary" ;;
esac
say "binary: $binary"

# --- install_file SRC DST MODE: copy when missing or different; sets $changed.
changed=0
install_file() {
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		say "unchanged: $2"
		# Still fix a mode someone changed by hand.
		if [ "$(stat -c %a "$2")" != "${3#0}" ]; then
			run chmod "$3" "$2"
		fi
		return 0
	fi
	changed=1
	run mkdir -p "$(dirname -- "$2")"
	# Copy beside, then rename: replaces a running binary without "text file busy".
	run cp "$1" "$2.new"
	run chmod "$3" "$2.new"
	run mv -f "$2.new" "$2"
}

bin_dst=$root/usr/local/bin/echorelay
unit_dst=$root/etc/systemd/system/echorelay.service
etc_dir=$root/etc/echorelay
state_dir=$root/var/lib/echorelay
peers_dst=$etc_dir/peers

[ -f "$here/echorelay.service" ] || die "missing $here/echorelay.service" "run the install.sh that came with the unit file"
[ -f "$here/peers.example" ] || die "missing $here/peers.example"

# 1. binary
install_file "$binary" "$bin_dst" 0755
bin_changed=$changed

# 2. user and group
if [ -n "$root" ]; then
	say "skipped with --root: system user echorelay"
elif id -u echorelay >/dev/null 2>&1; then
	say "unchanged: user echorelay"
else
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/bin/false
	run useradd --system --user-group --home-dir /var/lib/echorelay --no-create-home \
		--shell "$nologin" --comment "echorelay relay" echorelay
fi

# 3. directories. systemd also creates the state dir (StateDirectory=); doing
# it here lets `sudo -u echorelay echorelay serve` work before the first start.
ensure_dir() { # DIR MODE OWNER
	if [ -d "$1" ]; then
		say "exists: $1"
	else
		run mkdir -p "$1"
	fi
	if [ ! -d "$1" ] || [ "$(stat -c %a "$1")" != "${2#0}" ]; then
		run chmod "$2" "$1"
	fi
	if [ -z "$root" ] && { [ ! -d "$1" ] || [ "$(stat -c %U:%G "$1")" != "$3" ]; }; then
		run chown "$3" "$1"
	fi
}
ensure_dir "$state_dir" 0750 echorelay:echorelay
ensure_dir "$etc_dir" 0755 root:root

# 4. peers file: only when missing; it is the user's from then on.
if [ -f "$peers_dst" ]; then
	say "kept: $peers_dst (yours; compare with $here/peers.example)"
else
	run cp "$here/peers.example" "$peers_dst"
	run chmod 0640 "$peers_dst"
	if [ -z "$root" ]; then
		run chown root:echorelay "$peers_dst"
	fi
fi

# 5. unit
changed=0
install_file "$here/echorelay.service" "$unit_dst" 0644
unit_changed=$changed

# 6. systemd
if [ -n "$root" ]; then
	say "skipped with --root: systemctl daemon-reload, enable, start"
elif [ ! -d /run/systemd/system ]; then
	say "systemd is not running here: files installed, service not enabled"
	say "start by hand: sudo -u echorelay $bin_dst serve --data /var/lib/echorelay --peers /etc/echorelay/peers"
else
	[ "$unit_changed" = 0 ] || run systemctl daemon-reload
	if systemctl is-enabled --quiet echorelay.service 2>/dev/null; then
		say "unchanged: echorelay.service enabled"
	else
		run systemctl enable echorelay.service
	fi
	if [ "$start" = 0 ]; then
		say "not started (--no-start)"
	elif systemctl is-active --quiet echorelay.service; then
		if [ "$bin_changed" = 1 ] || [ "$unit_changed" = 1 ]; then
			run systemctl restart echorelay.service
		else
			say "unchanged: echorelay.service running"
		fi
	else
		run systemctl start echorelay.service
	fi
fi

if [ "$dry" = 1 ]; then
	say "dry run: nothing was changed"
	exit 0
fi
cat <<EOF

echorelay is installed${root:+ under $root}.
  neighbours:  sudoedit /etc/echorelay/peers, then: sudo systemctl reload echorelay
  is it up:    systemctl status echorelay
  log:         journalctl -u echorelay -f
  status:      echorelay status   (or http://127.0.0.1:7789/ in a browser on this machine)
  ports:       7788/udp (QUIC) and 7788/tcp (TLS) must be reachable from your neighbours
  remove:      sudo $here/uninstall.sh   (keeps the cache and peers unless --purge)
EOF
