# loa — quick start: `make run` (the daemon on the example station) and
# `make test` (the whole suite). Both install what the machine lacks first.

CARGO  ?= cargo
CONFIG ?= config/station.toml
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Debian packages the build needs: cpal links ALSA through pkg-config.
APT_PACKAGES := libasound2-dev pkg-config

.PHONY: deps run check test bench lint audio clean

deps:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
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

test: deps
	$(CARGO) test --all-targets

bench: deps
	$(CARGO) bench --bench check --bench schedule --bench ledger --bench playout --bench api

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

# Re-make the sample bulletins (needs espeak-ng, sox, ffmpeg); the output is
# committed, so nothing else needs these tools.
audio:
	scripts/make-audio.sh

clean:
	$(CARGO) clean
