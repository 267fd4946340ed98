#!/usr/bin/env bash
# Regenerate tests/fixtures/audio/: the tiny files the tests in src/probe.rs
# read. The output is committed, so tests need none of these tools; run this
# only to change or re-create a fixture.
#
# Needs: sox, ffmpeg (with libmp3lame, libvorbis, libopus), python3.
# The HE-AAC fixtures need a real HE-AAC encoder. Debian's ffmpeg has none
# (libfdk_aac is not built in), so this script uses `aac-enc`, the example
# encoder shipped with libfdk-aac (Debian package `aac-enc`, component
# non-free). When `aac-enc` is not on PATH and $AAC_ENC is unset, the script
# fetches the two .deb files with apt-get into a temporary directory, using a
# throw-away sources list, and unpacks them there: nothing is installed and
# the system's apt configuration is not touched.
#
# How each HE-AAC fixture is made (nothing is faked in the audio itself; all
# of them carry real SBR/PS data from libfdk-aac):
#   he-aac.aac          aac-enc -t 5 writes ADTS. ADTS cannot signal SBR, so
#                       the header says AAC-LC at 22050 Hz ("implicit" SBR).
#   he-aac-implicit.m4a ffmpeg -c copy of he-aac.aac into MP4. The
#                       AudioSpecificConfig says AAC-LC 22050 Hz while the
#                       track's timescale and sample entry say 44100 Hz, and
#                       each packet lasts 2048 ticks: what phone recorders and
#                       ffmpeg write for implicitly signalled HE-AAC.
#   he-aac-explicit.m4a he-aac-implicit.m4a with its AudioSpecificConfig
#                       rewritten to explicit hierarchical signalling (object
#                       type 5, core 22050 Hz, extension 44100 Hz, then
#                       AAC-LC), as libfdk-aac writes it for MP4 by default.
#                       The moov box is at the end, so growing the esds box
#                       moves no sample data; the box and descriptor sizes on
#                       the path are fixed up (see patch_asc below).
#   he-aac-v2.m4a       the same for aac-enc -t 29: object type 29 (PS), mono
#                       core at 22050 Hz, extension 44100 Hz.
set -euo pipefail

cd "$(dirname "$0")/.."
out=tests/fixtures/audio
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# A 2 s source: a rising tone with some noise, so codecs have something to do.
sox -n -r 44100 -c 2 -b 16 "$tmp/src.wav" synth 2 sine 300-900 synth 2 pinknoise mix vol 0.4
sox -n -r 44100 -c 1 -b 16 "$tmp/src1.wav" synth 2 sine 300-900 vol 0.5
# A 3 s source for the files that get cut.
sox -n -r 44100 -c 1 -b 16 "$tmp/src3.wav" synth 3 sine 200-1200 synth 3 pinknoise mix vol 0.4

# ---- accepted -------------------------------------------------------------
# MP3: CBR with a LAME Info tag, VBR with a Xing tag, CBR with no tag at all
# (duration must then be counted), mono 22.05 kHz, and one with a big cover.
ff -i "$tmp/src.wav" -c:a libmp3lame -b:a 32k "$out/mp3-cbr.mp3"
ff -i "$tmp/src.wav" -c:a libmp3lame -q:a 9 "$out/mp3-vbr.mp3"
ff -i "$tmp/src.wav" -c:a libmp3lame -b:a 32k -write_xing 0 "$out/mp3-no-xing.mp3"
ff -i "$tmp/src1.wav" -ar 22050 -ac 1 -c:a libmp3lame -b:a 24k "$out/mp3-mono-22k.mp3"
# Noise compresses badly, so this JPEG is ~60 KB: a cover far bigger than
# the audio, as phone and DAW exports often carry.
ff -f lavfi -i "nullsrc=s=240x240,geq=random(1)*255:random(2)*255:random(3)*255" \
  -frames:v 1 -q:v 2 "$tmp/cover.jpg"
ff -i "$tmp/src1.wav" -i "$tmp/cover.jpg" -map 0:a -map 1:v -c:a libmp3lame -b:a 24k \
  -ar 22050 -c:v copy -id3v2_version 3 -metadata:s:v title="Album cover" \
  -metadata:s:v comment="Cover (front)" "$out/mp3-big-cover.mp3"

# AAC-LC in MP4, with the moov box at the end (ffmpeg's default) and at the
# start (-movflags +faststart), and as raw ADTS.
ff -i "$tmp/src1.wav" -ac 1 -c:a aac -b:a 32k "$out/aac-lc-moov-end.m4a"
ff -i "$tmp/src1.wav" -ac 1 -c:a aac -b:a 32k -movflags +faststart "$out/aac-lc-moov-start.m4a"
ff -i "$tmp/src1.wav" -ac 1 -c:a aac -b:a 32k "$out/aac-lc.aac"

ff -i "$tmp/src1.wav" -ar 8000 -c:a flac -t 1 "$out/flac.flac"
ff -i "$tmp/src1.wav" -ar 22050 -c:a libvorbis -q:a 0 "$out/vorbis.ogg"

# WAV in every sample format rodio handles; short and 8 kHz to stay small.
sox "$tmp/src1.wav" -r 8000 -b 8 -e unsigned-integer "$out/wav-u8.wav" trim 0 1
sox "$tmp/src1.wav" -r 16000 -b 16 "$out/wav-s16.wav" trim 0 0.5
sox "$tmp/src1.wav" -r 8000 -b 24 "$out/wav-s24.wav" trim 0 0.5
sox "$tmp/src1.wav" -r 8000 -b 32 -e floating-point "$out/wav-f32.wav" trim 0 0.5
sox "$tmp/src1.wav" -r 8000 -b 16 "$out/wav-8k.wav" trim 0 1

# ---- refused --------------------------------------------------------------
: >"$out/empty.mp3"
head -c 8192 /dev/zero >"$out/zeros.mp3"
python3 -c 'import random,sys; random.seed(7); sys.stdout.buffer.write(bytes(random.getrandbits(8) for _ in range(8192)))' >"$out/random.mp3"
printf 'Ban tin chua duoc thu am.\nThis file is text, not audio.\n' >"$out/text.mp3"

# Opus, as WhatsApp/Telegram voice notes and browsers record it, in Ogg and
# in WebM. (Once refused; now accepted: libopus decodes them, see
# src/media.rs. Like the HE-AAC files below, they stay under this heading.)
ff -i "$tmp/src1.wav" -c:a libopus -b:a 16k "$out/opus.ogg"
ff -i "$tmp/src1.wav" -c:a libopus -b:a 16k "$out/opus.webm"

# Truncated files: the header promises 3 s, the bytes hold about half.
ff -i "$tmp/src3.wav" -c:a libmp3lame -q:a 9 "$tmp/long.mp3"
head -c $(($(stat -c %s "$tmp/long.mp3") / 2)) "$tmp/long.mp3" >"$out/truncated.mp3"
ff -i "$tmp/src3.wav" -c:a aac -b:a 32k -movflags +faststart "$tmp/long.m4a"
head -c $(($(stat -c %s "$tmp/long.m4a") / 2)) "$tmp/long.m4a" >"$out/truncated.m4a"
sox "$tmp/src3.wav" -r 8000 -b 8 "$tmp/long.wav"
head -c $(($(stat -c %s "$tmp/long.wav") / 2)) "$tmp/long.wav" >"$out/truncated.wav"

# Files that decode to nothing: a WAV header with no samples.
sox -n -r 8000 -c 1 -b 16 "$out/no-samples.wav" trim 0 0

# Absurd parameters: a WAV whose header claims 1 Hz (a corrupt or hand-made
# header; it would "play" one sample per second).
python3 - "$out/wav-8k.wav" "$out/absurd-rate.wav" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
assert d[12:16] == b'fmt '
struct.pack_into('<II', d, 24, 1, 2)  # sample rate 1 Hz, byte rate 2
open(sys.argv[2], 'wb').write(d)
EOF

# HE-AAC and HE-AACv2 (see the header of this file).
aac_enc=${AAC_ENC:-$(command -v aac-enc || true)}
if [ -z "$aac_enc" ]; then
  fdk="$tmp/fdk"
  mkdir -p "$fdk/lists/partial" "$fdk/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm non-free" >"$fdk/sources.list"
  apt_opts=(-q -o Dir::Etc::SourceList="$fdk/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o Dir::State::Lists="$fdk/lists")
  apt-get "${apt_opts[@]}" update >/dev/null
  (cd "$fdk/debs" && apt-get "${apt_opts[@]}" download aac-enc libfdk-aac2 >/dev/null 2>&1)
  for deb in "$fdk"/debs/*.deb; do dpkg -x "$deb" "$fdk/root"; done
  aac_enc="$fdk/root/usr/bin/aac-enc"
  export LD_LIBRARY_PATH="$fdk/root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
"$aac_enc" -t 5 -r 24000 "$tmp/src.wav" "$out/he-aac.aac" >/dev/null
"$aac_enc" -t 29 -r 16000 "$tmp/src.wav" "$tmp/he-aac-v2.aac" >/dev/null
ff -i "$out/he-aac.aac" -c copy "$out/he-aac-implicit.m4a"
ff -i "$tmp/he-aac-v2.aac" -c copy "$tmp/he-aac-v2-implicit.m4a"

# Rewrite the AudioSpecificConfig of an MP4 whose moov box is last.
patch_asc() {
  python3 - "$@" <<'EOF'
import struct, sys
src, dst, asc_hex = sys.argv[1], sys.argv[2], sys.argv[3]
new_asc = bytes.fromhex(asc_hex)
d = bytearray(open(src, 'rb').read())

# Walk moov/trak/mdia/minf/stbl/stsd/mp4a/esds, remembering each box start.
# The number is where a box's children begin: after the 8-byte header, plus
# version/flags and entry count for stsd, plus the 28-byte audio sample entry
# fields for mp4a.
def child(parent, name, children_at):
    if parent is None:  # top level
        pos, end = 0, len(d)
    else:
        pos, end = parent + children_at, parent + struct.unpack('>I', d[parent:parent + 4])[0]
    while pos + 8 <= end:
        size, kind = struct.unpack('>I4s', d[pos:pos + 8])
        if kind == name:
            return pos
        pos += size
    raise SystemExit(f'box {name} not found')

path = [child(None, b'moov', 0)]
for name, children_at in [(b'trak', 8), (b'mdia', 8), (b'minf', 8), (b'stbl', 8),
                          (b'stsd', 8), (b'mp4a', 16), (b'esds', 36)]:
    path.append(child(path[-1], name, children_at))
assert path[0] + struct.unpack('>I', d[path[0]:path[0] + 4])[0] == len(d), \
    'moov must be the last box (no +faststart)'

esds = path[-1]
# ES_Descriptor (tag 3), DecoderConfigDescriptor (tag 4), DecSpecificInfo
# (tag 5), each with a 4-byte length as ffmpeg writes it (0x80 0x80 0x80 n).
i = esds + 12
assert d[i] == 3 and d[i + 1:i + 4] == b'\x80\x80\x80'
es_len_at = i + 4
i += 5 + 3  # ES_ID, flags
assert d[i] == 4
dc_len_at = i + 4
i += 5 + 13
assert d[i] == 5
dsi_len_at = i + 4
old_len = d[dsi_len_at]
asc_at = i + 5
delta = len(new_asc) - old_len
d[asc_at:asc_at + old_len] = new_asc
for at in (es_len_at, dc_len_at, dsi_len_at):
    d[at] += delta
for box in path:
    size = struct.unpack('>I', d[box:box + 4])[0]
    struct.pack_into('>I', d, box, size + delta)
open(dst, 'wb').write(d)
EOF
}
# 00101 0111 0010 0100 00010 000 (+ zero padding): AOT 5 (SBR), core 22050 Hz,
# stereo, extension 44100 Hz, then AOT 2 (AAC-LC) with an empty GA config.
patch_asc "$out/he-aac-implicit.m4a" "$out/he-aac-explicit.m4a" 2b920800
# 11101 0111 0001 0100 00010 000: AOT 29 (PS), core 22050 Hz, mono core,
# extension 44100 Hz, then AAC-LC.
patch_asc "$tmp/he-aac-v2-implicit.m4a" "$out/he-aac-v2.m4a" eb8a0800

ls -l "$out"
du -sh "$out"
