# Start-up and engine benchmarks of issue 21 (each prints its figure against the reference in the same run).
.PHONY: bench-cli

bench-cli: build ## wall time of `plora --help` / `plora config get` against `node -e 0` (BENCH_RUNS=15)
	node bench/cli-startup.mjs --runs $(or $(BENCH_RUNS),15)
