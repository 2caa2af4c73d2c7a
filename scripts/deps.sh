#!/bin/sh
# Install what chartvault needs to build, test and run on Debian 12, and
# create the unprivileged system user that runs the private PostgreSQL
# cluster when chartvault itself runs as root (PostgreSQL refuses root).
#
# As root: installs the missing packages with apt-get. Otherwise: prints
# the apt-get line to run and exits 1 if anything is missing.
#
# usage: scripts/deps.sh [build|test|bench]   (each level includes the one before)
set -eu

level=${1:-build}

pkgs="build-essential pkg-config
 libleptonica-dev libtesseract-dev tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd
 libtiff-dev libpng-dev libjpeg-dev libpq-dev libgcrypt20-dev libjansson-dev libinih-dev
 libzbar-dev libqrencode-dev libcsv-dev libmicrohttpd-dev libunistring-dev
 postgresql postgresql-contrib postgresql-15-rum"
case $level in
test|bench)
	pkgs="$pkgs check libsubunit-dev procps poppler-utils chromium openssl"
	# The viewer's browser tests run on Node.js (playwright-core): Debian's,
	# unless the machine already has one of its own.
	if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
		pkgs="$pkgs nodejs npm"
	fi ;;
esac
case $level in
bench)
	pkgs="$pkgs groff ghostscript poppler-utils imagemagick python3 restic ocrmypdf unpaper libtiff-tools" ;;
esac

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "deps: installing:$missing"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	else
		echo "deps: missing packages; as root run:" >&2
		echo "  apt-get install -y$missing" >&2
		exit 1
	fi
fi

# The private cluster's server runs as this user when we are root.
if [ "$(id -u)" -eq 0 ] && ! id chartvault >/dev/null 2>&1; then
	echo "deps: creating system user 'chartvault'"
	useradd --system --no-create-home --home-dir /nonexistent \
		--shell /usr/sbin/nologin chartvault
fi
exit 0
