# @plora/loader: LoRA inject/merge benchmarks (issue 4 "Done when" (b) and (c)).
.PHONY: bench-loader

bench-loader: ## loader benchmarks: inject+remove and merge+re-projection (wasm, one thread)
	cd packages/loader && ../../node_modules/.bin/vitest bench --run --config vitest.bench.config.ts
