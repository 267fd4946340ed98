#!/bin/sh
# Print the package's example station (/etc/loa/station.toml) from the
# repository's config/station.toml: same station, but with the paths of an
# installed station and the sound card as output. `make deb` writes it to
# debian/station.toml; tests/package.sh fails when the two drift apart.
set -eu
cd "$(dirname "$0")/.."
sed \
  -e 's|loa check --config config/station.toml|loa check|' \
  -e 's|loa schedule --config config/station.toml|loa schedule|' \
  -e 's|^# Paths are relative to this file.*|# Installed by the loa package; edit it, then: sudo systemctl reload loa. See /usr/share/doc/loa/README.md.|' \
  -e 's|^audio_dir = .*|audio_dir = "/var/lib/loa/audio"|' \
  -e 's|^data_dir = .*|data_dir = "/var/lib/loa"|' \
  -e '/^\[output\]/,/^$/c\
[output]\
# The sound card, through ALSA (list names with `aplay -L`). A USB card that\
# is not up yet is retried at every play. To record what airs instead:\
#   kind = "wav"  and  path = "/var/lib/loa/aired.wav"\
kind = "device"\
device = "default"\
volume = 1.0\
' \
  config/station.toml
