.PHONY: test quickstart startup-symbols control-plane crds cluster-up cluster-images cluster-smoke cluster-down fleet-up e2e

# Everything CI runs: installs what the tests need, then fmt, clippy and all tests.
test:
	./scripts/test.sh

# The main job: backtest the quickstart bot (no cluster needed).
quickstart:
	cargo run --release -p botfleet-bot -- backtest -f manifests/examples/quickstart.yaml

# The functions an idle bot runs, laid out first by the release build (bot/build.rs),
# recorded for the images' build, the engine's own release build and `cargo bench`;
# re-run after a toolchain, Cargo.lock, feature or release-profile change, or a
# change to code an idle bot runs (new functions land outside the laid-out block),
# then commit the list (needs valgrind).
startup-symbols:
	cargo build --release --locked -p botfleet-bot -p botfleet-operator -p botfleet-tests --bins
	./scripts/startup-symbols.sh record images "$${CARGO_TARGET_DIR:-target}/release/botfleet-bot"
	cargo build --release --locked -p botfleet-bot
	./scripts/startup-symbols.sh record release "$${CARGO_TARGET_DIR:-target}/release/botfleet-bot"
	cargo bench --locked -p botfleet-bot --bench engine --no-run
	./scripts/startup-symbols.sh record bench "$${CARGO_TARGET_DIR:-target}/release/botfleet-bot"

control-plane:
	./scripts/install-control-plane.sh

# Regenerate the CRD YAML committed under charts/botfleet/crds/.
crds:
	cargo run -q -p botfleet-crds --bin crdgen -- --out-dir charts/botfleet/crds

# A real single-node cluster on this machine (kubelet, containerd, CNI bridge,
# kube-proxy): see docs/local-cluster.md. Needs root.
cluster-up:
	./scripts/cluster/up.sh

cluster-images:
	./scripts/cluster/build-images.sh

cluster-smoke:
	./scripts/cluster/smoke.sh

cluster-down:
	./scripts/cluster/down.sh

# The fleet on that cluster: images, the exchange simulator, Prometheus and
# Alertmanager, helm install, the quickstart; it stays up (make cluster-down ends it).
fleet-up:
	./scripts/e2e/run.sh --up-only

# The end-to-end scenarios on a fresh local cluster (torn down at the end).
e2e:
	./scripts/e2e/run.sh
