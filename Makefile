.PHONY: test quickstart control-plane crds

# Everything CI runs: installs what the tests need, then fmt, clippy and all tests.
test:
	./scripts/test.sh

# The main job: backtest the quickstart bot (no cluster needed).
quickstart:
	cargo run --release -p botfleet-bot -- backtest -f manifests/examples/quickstart.yaml

control-plane:
	./scripts/install-control-plane.sh

# Regenerate the CRD YAML committed under charts/botfleet/crds/.
crds:
	cargo run -q -p botfleet-crds --bin crdgen -- --out-dir charts/botfleet/crds
