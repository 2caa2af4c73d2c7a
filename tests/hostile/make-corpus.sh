#!/bin/sh
# Regenerates the hostile-input corpus in this folder. Each file is an
# input that a scanner, a share or an attacker could hand to ingest; its
# expected reject reason is in EXPECTED (file, then a phrase the reason
# must contain). Needs ImageMagick (Debian's imagemagick) and python3.
# Cases that cannot live in git (a symlink out of the batch, an
# unreadable file) are made by the tests at run time.
set -eu
cd "$(dirname "$0")"
CONVERT=/usr/bin/convert

: > zero-bytes.tif
printf 'Patient: not an image at all\nMRN: 00000000\n' > notes.tif
printf '%%PDF-1.4\n%%\342\343\317\323\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%%%EOF\n' > renamed-pdf.tif

# A real two-page G4 TIFF, cut off before its page directory.
$CONVERT -size 850x1100 xc:white -fill black -draw 'rectangle 100,100 700,140' \
	-size 850x1100 xc:white -compress Group4 -type bilevel /tmp/cv-corpus-full.tif
size=$(wc -c < /tmp/cv-corpus-full.tif)
head -c $((size / 2)) /tmp/cv-corpus-full.tif > truncated.tif
rm -f /tmp/cv-corpus-full.tif

# A PNG whose image data fails its CRC.
$CONVERT -size 200x100 xc:white -fill black -draw 'rectangle 20,20 180,80' /tmp/cv-corpus.png
python3 - /tmp/cv-corpus.png bad-crc.png <<'PY'
import sys
data = bytearray(open(sys.argv[1], 'rb').read())
i = data.index(b'IDAT')
crc_at = i + 4 + int.from_bytes(data[i-4:i], 'big')
data[crc_at] ^= 0xff          # break the IDAT chunk's CRC
data[i + 6] ^= 0x55           # and a byte of the compressed data
open(sys.argv[2], 'wb').write(bytes(data))
PY
rm -f /tmp/cv-corpus.png

# A decompression bomb: a valid little-endian TIFF header claiming
# 100000 x 100000 pixels, with a few bytes of data.
python3 - bomb.tif <<'PY'
import struct, sys
entries = [(256, 4, 1, 100000), (257, 4, 1, 100000), (258, 3, 1, 1),
           (259, 3, 1, 1), (262, 3, 1, 0), (273, 4, 1, 8 + 2 + 10*12 + 4),
           (277, 3, 1, 1), (278, 4, 1, 100000), (279, 4, 1, 16),
           (284, 3, 1, 1)]
ifd = struct.pack('<H', len(entries))
for tag, typ, count, value in entries:
    if typ == 3:
        ifd += struct.pack('<HHIHH', tag, typ, count, value, 0)
    else:
        ifd += struct.pack('<HHII', tag, typ, count, value)
ifd += struct.pack('<I', 0)
open(sys.argv[1], 'wb').write(b'II*\x00' + struct.pack('<I', 8) + ifd + b'\x00' * 16)
PY
echo "corpus written to $(pwd)"
