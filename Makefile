# The two commands of the README's quick start, and a few more.
.PHONY: demo test setup build release lint clean

# Run the sensor over the shipped sample with the shipped feeds: alerts on screen.
demo: setup
	cargo run --release --quiet -- -r samples/office-day.pcap

# The whole test suite (unit, end-to-end over ../shared/corpus, CLI contract).
test: setup
	cargo test

setup:
	@./scripts/setup.sh

build: setup
	cargo build

release: setup
	cargo build --release

lint: setup
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet

clean:
	cargo clean
