# loa — quick start: `make run` (the daemon on the example station) and
# `make test` (the whole suite). Both install what the machine lacks first.

CARGO  ?= cargo
CONFIG ?= config/station.toml
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build needs: cpal links ALSA through pkg-config;
# Opus voice notes decode with libopus (symphonia-adapter-libopus links it;
# FDK AAC, for HE-AAC, is built from the crate's own source: a C++ compiler).
APT_PACKAGES := libasound2-dev pkg-config libopus-dev g++
# ... and packaging and its tests: systemd-analyze and systemd-sysusers
# (systemd), dpkg-shlibdeps for the package's library dependencies (dpkg-dev).
DEB_APT_PACKAGES := systemd dpkg-dev
# A paced audio output without a sound card (tests/paced.rs, and the
# daemon and api benches): PulseAudio's null sink behind ALSA's pulse
# plugin, captured with arecord (alsa-utils).
PACED_APT_PACKAGES := pulseaudio libasound2-plugins alsa-utils
# Relay tests (tests/relay.rs): a real stream server (Icecast) fed by
# ffmpeg, which also makes the test streams; the line-in test uses the
# paced packages above.
RELAY_APT_PACKAGES := icecast2 ffmpeg
# A real Prometheus and promtool (tests/prometheus.rs: the shipped scrape
# config, alert rules and their unit tests).
PROM_APT_PACKAGES := prometheus
# The real-browser test of the web console (tests/browser/): headless
# Chromium driven over WebDriver by chromedriver; poppler-utils' pdftotext
# and pdftoppm read the printed report back.
BROWSER_APT_PACKAGES := chromium chromium-driver poppler-utils
# make bench: ffmpeg makes the test MP3, mpg123 is the player the CPU
# figures are compared with.
BENCH_APT_PACKAGES := ffmpeg mpg123 $(PACED_APT_PACKAGES) $(TTS_APT_PACKAGES) $(POSTGRES_APT_PACKAGES) $(MQTT_APT_PACKAGES)
# tests/playout.rs makes Opus/WebM voice notes with ffmpeg (libopus) and
# checks HE-AAC with ffprobe.
FORMATS_APT_PACKAGES := ffmpeg
# Typed notices read aloud (src/tts, tests/tts.rs): the default speech
# engine, espeak-ng's Vietnamese voice.
TTS_APT_PACKAGES := espeak-ng
# The province's database (tests/postgres.rs, benches/fleet.rs): a
# throwaway cluster made with initdb and started by the test itself.
POSTGRES_APT_PACKAGES := postgresql
# Province bulletins (tests/province.rs): a real broker on loopback,
# mosquitto_passwd for its password file, openssl for the mqtts test's CA.
MQTT_APT_PACKAGES := mosquitto mosquitto-clients openssl

.PHONY: deps deb-deps test-deps bench-deps run check test bench lint audio deb clean guide-images

deps:
	@missing=""; \
	for p in $(APT_PACKAGES) $(EXTRA_APT); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install Rust with rustup (https://rustup.rs), then run make again"; exit 1; }

# Check the example station, show today's plan, then run the daemon on it
# (Ctrl-C stops it). The example records what airs to var/aired.wav.
run: deps
	$(CARGO) build --release
	./target/release/loa check --config $(CONFIG)
	./target/release/loa schedule --config $(CONFIG)
	./target/release/loa run --config $(CONFIG)

# The whole suite against the binary that ships: `cargo build --release`
# (what `make deb` packs) is copied to target/shipped/loa, the whole-binary
# tests run that file (LOA_BIN), and tests/package.sh packs it into the
# package it checks. The few tests that wedge the engine or jump the wall
# clock run cargo's own test build of the daemon, made with the
# `test-hooks` feature; the shipped file has no hook (package.sh checks).
# Also checks the unit file (tests/unattended.rs) and on-time start through
# a paced output (tests/paced.rs). Benchmarks are not built here: they
# measure, they do not test, and linking nine of them cost a minute of the
# suite's 20; `make lint` type-checks them (clippy --all-targets) and
# `make bench` builds and runs them.
SHIPPED := target/shipped/loa
test: test-deps
	$(CARGO) build --release --bin loa
	mkdir -p $(dir $(SHIPPED)) && cp target/release/loa $(SHIPPED)
	LOA_BIN=$(CURDIR)/$(SHIPPED) $(CARGO) test --release --features test-hooks --no-fail-fast --lib --bins --tests
	LOA_BIN=$(CURDIR)/$(SHIPPED) tests/package.sh
	$(CARGO) test --manifest-path tools/house/Cargo.toml --locked

# What the tests need: the package's tools, the paced output, the relays'
# stream server, Prometheus, PostgreSQL, the formats' and speech tools, the browser.
test-deps:
	@$(MAKE) --no-print-directory deb-deps MORE_APT="$(PACED_APT_PACKAGES) $(RELAY_APT_PACKAGES) $(PROM_APT_PACKAGES) $(FORMATS_APT_PACKAGES) $(TTS_APT_PACKAGES) $(BROWSER_APT_PACKAGES) $(POSTGRES_APT_PACKAGES) $(MQTT_APT_PACKAGES)"

# What building and testing the package needs; cargo-deb is built once
# (about a minute) and kept in ~/.cargo/bin.
deb-deps:
	@$(MAKE) --no-print-directory deps EXTRA_APT="$(DEB_APT_PACKAGES) $(MORE_APT)"
	@$(CARGO) deb --version >/dev/null 2>&1 || { echo "Installing cargo-deb"; $(CARGO) install cargo-deb --locked; }

# The package a station installs: target/debian/loa_VERSION_ARCH.deb
# (release build). Install it with: sudo apt install ./target/debian/loa_*.deb
deb: deb-deps
	debian/make-station.sh > debian/station.toml
	$(CARGO) deb

bench-deps:
	@$(MAKE) --no-print-directory deps EXTRA_APT="$(BENCH_APT_PACKAGES)"

# Several minutes: the CPU comparisons play 60 s of audio 3 times each.
bench: bench-deps
	$(CARGO) bench --bench check --bench schedule --bench ledger --bench playout --bench daemon --bench api --bench tts --bench fleet --bench attack --bench province --bench monitor

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Re-make the sample bulletins (needs espeak-ng, sox, ffmpeg); the output is
# committed, so nothing else needs these tools.
audio:
	scripts/make-audio.sh

# The operator's guide's pictures (docs/anh/) from the browser test's
# latest screenshots (target/screenshots/, written by `make test`).
GUIDE_IMAGES := dang-nhap dang-phat khan-cap-xac-nhan dang-phat-khan-cap thu-am \
	thu-am-ket-qua tam-dung lich nhat-ky bao-cao tai-khoan
guide-images:
	mkdir -p docs/anh
	for n in $(GUIDE_IMAGES); do cp target/screenshots/$$n-360x740.png docs/anh/$$n.png; done

clean:
	$(CARGO) clean
