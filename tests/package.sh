#!/usr/bin/env bash
# The Debian package, end to end without installing it on this machine:
# build it from the release binary the whole-binary tests just ran
# (`make test` runs `cargo test --release` first, so this is the tested
# binary, not a rebuild), list it, check its maintainer scripts, unpack it
# into a scratch root, create its user there with systemd-sysusers, and run
# `loa check` on the installed example station. `make deb` is the real
# build of the same package.
set -euo pipefail
cd "$(dirname "$0")/.."

passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else fail "$what"; fi; }

cargo deb --version >/dev/null 2>&1 || { echo "tests/package.sh: cargo-deb is missing; run 'make test' (it installs it)"; exit 1; }
for tool in dpkg-deb systemd-sysusers; do
  command -v "$tool" >/dev/null || { echo "tests/package.sh: $tool is missing; run 'make test' (it installs it)"; exit 1; }
done

work=target/package-test
rm -rf "$work"
mkdir -p "$work/target/release" "$work/root"
# The binary the whole-binary tests ran (`make test` names it in LOA_BIN);
# by hand, the release build.
bin=${LOA_BIN:-target/release/loa}
[ -n "${LOA_BIN:-}" ] || cargo build --quiet --release --bin loa
cp "$bin" "$work/target/release/loa"

# The shipped binary carries no test hook: they are compiled only into a
# build with the `test-hooks` feature, which only the tests use.
check "the packed binary holds no LOA_TEST_ hook" \
  bash -c '[ "$(grep -a -c LOA_TEST_ "$1")" = 0 ]' _ "$work/target/release/loa"

check "debian/station.toml is debian/make-station.sh's output (run it after editing config/station.toml)" \
  diff -u <(debian/make-station.sh) debian/station.toml

# cargo-deb maps target/release/ in the assets to $CARGO_TARGET_DIR/release.
CARGO_TARGET_DIR="$work/target" cargo deb --quiet --no-build --no-strip --fast -o "$work/" >/dev/null
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
deb="$work/loa_${version}-1_$(dpkg --print-architecture).deb"
check "package named loa_VERSION-1_ARCH.deb ($deb)" test -f "$deb"
check "cargo deb made exactly one package" test "$(find "$work" -maxdepth 1 -name '*.deb' | wc -l)" = 1

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/loa ./usr/lib/systemd/system/loa.service ./usr/lib/sysusers.d/loa.conf \
         ./etc/loa/station.toml ./var/lib/loa/audio/cds/thong-diep.mp3 \
         ./var/lib/loa/audio/khan-cap/canh-bao-bao.mp3 ./usr/share/doc/loa/README.md; do
  check "package holds $f" grep -qxF "$f" <<<"$contents"
done
check "no ledger or recording in the package" bash -c '! grep -qE "\.(sqlite|db|wav)$" <<<"$1"' _ "$contents"

ctl="$work/control"
dpkg-deb -e "$deb" "$ctl"
check "/etc/loa/station.toml is a conffile" grep -qxF /etc/loa/station.toml "$ctl/conffiles"
check "depends on ALSA, libopus and systemd" bash -c 'dpkg-deb -f "$1" Depends | grep -q libasound2 && dpkg-deb -f "$1" Depends | grep -q libopus0 && dpkg-deb -f "$1" Depends | grep -q systemd' _ "$deb"
check "recommends espeak-ng (typed notices)" bash -c 'dpkg-deb -f "$1" Recommends | grep -q espeak-ng' _ "$deb"
for s in postinst prerm postrm; do
  check "$s is valid sh" sh -n "$ctl/$s"
  check "$s had its debhelper snippets inserted" bash -c '! grep -q "#DEBHELPER#" "$1"' _ "$ctl/$s"
done
check "postinst creates the user, enables and starts the service" \
  bash -c 'grep -q "systemd-sysusers.*loa.conf" "$1" && grep -q "deb-systemd-helper enable loa.service" "$1" && grep -q "_dh_action=start" "$1"' _ "$ctl/postinst"
check "prerm stops the service" grep -q "deb-systemd-invoke stop loa.service" "$ctl/prerm"
check "postrm deletes /var/lib/loa on purge only" \
  bash -c 'awk "/\"purge\"/,/^fi/" "$1" | grep -q "rm -rf /var/lib/loa" && [ "$(grep -c "rm -rf /var/lib/loa" "$1")" = 1 ]' _ "$ctl/postrm"

root="$work/root"
dpkg-deb -x "$deb" "$root"
check "the installed unit is systemd/loa.service" cmp -s systemd/loa.service "$root/usr/lib/systemd/system/loa.service"

# The user, as postinst makes it, in the scratch root.
mkdir -p "$root/etc"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\naudio:x:29:\n' >"$root/etc/group"
systemd-sysusers --root="$root" loa.conf >/dev/null 2>&1 || true   # as postinst runs it
check "sysusers makes a system user loa with home /var/lib/loa" \
  bash -c 'awk -F: "\$1==\"loa\" && \$3<1000 && \$6==\"/var/lib/loa\"" "$1/etc/passwd" | grep -q loa' _ "$root"
check "loa is in the audio group" bash -c 'grep -qE "^audio:x:29:(.*,)?loa(,|$)" "$1/etc/group"' _ "$root"

# The installed example, with its absolute paths moved into the scratch root.
abs=$(cd "$root" && pwd)
sed -e "s|\"/var/lib/loa|\"$abs/var/lib/loa|" "$root/etc/loa/station.toml" >"$work/station.toml"
check "the installed example points at /var/lib/loa" grep -qx 'audio_dir = "/var/lib/loa/audio"' "$root/etc/loa/station.toml"
check "the installed example airs on the sound card" grep -qx 'kind = "device"' "$root/etc/loa/station.toml"
if out=$(LOA_CONFIG="$work/station.toml" "$root/usr/bin/loa" check 2>&1) && grep -q "Hợp lệ" <<<"$out"; then
  ok "loa check accepts the installed example"
else
  fail "loa check accepts the installed example"; echo "$out"
fi

echo "tests/package.sh: $passed passed, $failed failed"
[ "$failed" = 0 ]
