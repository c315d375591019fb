# The two commands of the README, and helpers for developers.
.PHONY: demo test bench bench-all up down image release release-check

# The main job: the local test bed, the launcher against it (tests/demo.sh).
demo:
	bash tests/demo.sh

# Every test: lints, the test bed up, all Rust and Python tests, the test bed down.
test:
	bash tests/run-all.sh

# kubepool against the real Nodepool 11.0.0 launcher, side by side (tests/bench/compare_launchers.py;
# results in target/bench/launchers.{json,md}), and Ansible over kubepool's connection against
# the local floor, the stock kubectl plugin and an SSH node, with ansible-core 2.18 and 2.19
# (tests/bench/ansible_connection.py; table in target/bench/ansible_connection.md).
bench:
	bash tests/bench.sh launchers ansible_connection

# Every benchmark (each prints a ratio against a baseline measured in the same run).
bench-all:
	bash tests/bench.sh

# Keep a test bed running for development (source ~/.cache/kubepool/testbed.env afterwards).
up:
	bash tests/cluster/build.sh && bash tests/cluster/up.sh

down:
	bash tests/cluster/down.sh

# The kubepool container image from a release build: an OCI archive in ~/.cache/kubepool/images,
# imported into the test bed's containerd when it runs (tests/cluster/build-kubepool-image.sh).
image: release
	bash tests/cluster/build-kubepool-image.sh target/release/kubepool

# The release binary, target/release/kubepool: reproducible, the same bytes from any checkout of
# a commit (tests/release-build.sh says how).
release:
	bash tests/release-build.sh

# Builds HEAD from two clones in different directories and compares (two release builds).
release-check:
	bash tests/release-reproducible.sh
