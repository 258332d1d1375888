#!/bin/sh
# rpi/uninstall.sh — remove what rpi/install.sh installed. Safe to run again.
#
# Usage: sudo rpi/uninstall.sh [--purge] [--root DIR] [--dry-run]
#
#   (default)   stop and disable the service, remove the unit and the binary;
#               keep /var/lib/echorelay (cache, node key: the relay's identity),
#               /etc/echorelay (your peers file) and the echorelay user, so a
#               later install.sh picks up where this one left off
#   --purge     also delete /var/lib/echorelay, /etc/echorelay and the user
#   --root DIR  act under DIR instead of / (for tests): no systemctl, no userdel
#   --dry-run   print every action and change nothing

set -eu

prog=uninstall.sh
dry=0
root=
purge=0

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
	--purge) purge=1; shift ;;
	--root) [ $# -ge 2 ] || die "--root needs a directory"; root=$2; shift 2 ;;
	--root=*) root=${1#*=}; shift ;;
	--dry-run | -n) dry=1; shift ;;
	-h | --help) sed -n '2,/^$/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) die "unknown argument '$1'" "$prog --help" ;;
	esac
done

if [ -n "$root" ]; then
	case $root in /*) ;; *) root=$(pwd)/$root ;; esac
	root=${root%/}
	[ -n "$root" ] || die "--root / is the default; leave it out"
fi
if [ -z "$root" ] && [ "$dry" = 0 ] && [ "$(id -u)" != 0 ]; then
	die "must run as root to uninstall from /" "sudo $0 $*, or --dry-run to see what it would do"
fi

unit=$root/etc/systemd/system/echorelay.service
bin=$root/usr/local/bin/echorelay
state_dir=$root/var/lib/echorelay
etc_dir=$root/etc/echorelay

# remove PATH...: delete what exists, say so for what does not.
remove() {
	for p in "$@"; do
		if [ -e "$p" ] || [ -L "$p" ]; then
			run rm -rf -- "$p"
		else
			say "already absent: $p"
		fi
	done
}

# 1. service
if [ -n "$root" ]; then
	say "skipped with --root: systemctl disable --now"
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	if systemctl is-active --quiet echorelay.service || systemctl is-enabled --quiet echorelay.service 2>/dev/null; then
		run systemctl disable --now echorelay.service
	else
		say "already stopped and disabled: echorelay.service"
	fi
fi

# 2. unit and binary
had_unit=0
[ ! -e "$unit" ] || had_unit=1
remove "$unit" "$unit.new" "$bin" "$bin.new"
if [ -z "$root" ] && [ "$had_unit" = 1 ] && [ -d /run/systemd/system ]; then
	run systemctl daemon-reload
fi

# 3. data, configuration, user
if [ "$purge" = 1 ]; then
	remove "$state_dir" "$etc_dir"
	if [ -n "$root" ]; then
		say "skipped with --root: userdel echorelay"
	elif id -u echorelay >/dev/null 2>&1; then
		run userdel echorelay
	else
		say "already absent: user echorelay"
	fi
else
	for p in "$state_dir" "$etc_dir"; do
		[ ! -e "$p" ] || say "kept: $p (--purge deletes it)"
	done
	if [ -z "$root" ] && id -u echorelay >/dev/null 2>&1; then
		say "kept: user echorelay (--purge deletes it)"
	fi
fi

if [ "$dry" = 1 ]; then
	say "dry run: nothing was changed"
else
	say "done"
fi
