#!/data/data/com.termux/files/usr/bin/sh
# rpi/termux/install.sh — install echorelay as a termux-services service in Termux.
# Safe to run again: it changes only what differs and never touches an
# existing peers file or the cache.
#
# Usage: sh rpi/termux/install.sh [--binary PATH] [--dry-run]
#
#   --binary PATH  the android-arm64 echorelay binary or its release archive
#                  (default: ../../echorelay of the release archive this came in)
#   --dry-run      print every action and change nothing
#
# Installs, under Termux's $PREFIX and $HOME:
#   $PREFIX/bin/echorelay
#   $PREFIX/var/service/echorelay/run, log/run   (runit service, logs via svlogger)
#   $HOME/.echorelay/peers                       (from peers.example when missing)
# It does not enable or start the service; it prints the commands for that.
# Needs: pkg install termux-services (then restart Termux once).

set -eu

prog=termux/install.sh
dry=0
binary=

say() { printf '%s: %s\n' "$prog" "$*"; }
die() {
	printf '%s: %s\n' "$prog" "$1" >&2
	[ -z "${2:-}" ] || printf 'hint: %s\n' "$2" >&2
	exit 1
}
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
	--dry-run | -n) dry=1; shift ;;
	-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument '$1'" "$prog --help" ;;
	esac
done

if [ -z "${PREFIX:-}" ] || [ ! -d "$PREFIX" ]; then
	die "\$PREFIX is not set: this is for Termux" "on Raspberry Pi OS use rpi/install.sh"
fi
[ -n "${HOME:-}" ] || die "\$HOME is not set"
here=$(CDPATH='' cd -- "$(dirname -- "$0")" && pwd)

tmp=$(mktemp -d "${TMPDIR:-$PREFIX/tmp}/echorelay-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

if [ -z "$binary" ]; then
	binary=$here/../../echorelay
	[ -f "$binary" ] || die "no echorelay binary next to this script" "pass --binary PATH (the android-arm64 build)"
fi
[ -f "$binary" ] || die "no such file: $binary"
case $binary in
*.tar.gz | *.tgz)
	case $(basename -- "$binary") in
	*-android-arm64.tar.gz | *-linux-arm64.tar.gz) ;;
	echorelay-*) die "$(basename -- "$binary") is not an arm64 build" "use echorelay-*-android-arm64.tar.gz" ;;
	esac
	tar -xzf "$binary" -C "$tmp" || die "failed to extract $binary"
	found=
	for f in "$tmp"/*/echorelay; do
		[ ! -f "$f" ] || found=$f
	done
	[ -n "$found" ] || die "no echorelay binary in the archive"
	binary=$found
	;;
esac
# ELF, 64-bit, AArch64 (machine 183): the phone's CPU.
elf=$(od -An -tu1 -N20 "$binary")
# shellcheck disable=SC2086 # split the byte list on purpose
set -- $elf
if ! { [ $# -ge 20 ] && [ "$1" = 127 ] && [ "$5" = 2 ] && [ "${19}" = 183 ] && [ "${20}" = 0 ]; }; then
	die "$binary is not an arm64 ELF binary" "use the android-arm64 build"
fi

changed=0
install_file() { # SRC DST MODE
	if [ -f "$2" ] && cmp -s "$1" "$2"; then
		say "unchanged: $2"
		return 0
	fi
	changed=1
	run mkdir -p "$(dirname -- "$2")"
	run cp "$1" "$2.new"
	run chmod "$3" "$2.new"
	run mv -f "$2.new" "$2"
}

svc=$PREFIX/var/service/echorelay
install_file "$binary" "$PREFIX/bin/echorelay" 0755
bin_changed=$changed
install_file "$here/service/echorelay/run" "$svc/run" 0755
install_file "$here/service/echorelay/log/run" "$svc/log/run" 0755

data=$HOME/.echorelay
if [ -d "$data" ]; then
	say "exists: $data"
else
	run mkdir -p "$data"
	run chmod 0700 "$data"
fi
if [ -f "$data/peers" ]; then
	say "kept: $data/peers (yours)"
else
	run cp "$here/../peers.example" "$data/peers"
	run chmod 0600 "$data/peers"
fi

if [ "$dry" = 1 ]; then
	say "dry run: nothing was changed"
	exit 0
fi
restart=
[ "$bin_changed" = 0 ] || restart="
  after an upgrade: sv restart echorelay"
cat <<EOF

echorelay is installed for Termux.
  neighbours:  edit ~/.echorelay/peers, then: sv hup echorelay
  start now:   sv up echorelay        at every Termux start: sv-enable echorelay$restart
  keep awake:  termux-wake-lock       (else Android stops it when the screen is off)
  log:         tail -f \$PREFIX/var/log/sv/echorelay/current
  status page: curl http://127.0.0.1:7789/status
EOF
