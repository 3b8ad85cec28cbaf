# Model engine targets (issue 4, @plora/model): the embedded default base model, the model
# benchmarks and the golden logits (the goldens need Debian's python3-numpy and python3-torch).

SEED ?= 0
PRESET ?= small
GOLDEN_MODELS ?= /tmp/plora-golden-models
REBUILD_OUT ?= /tmp/plora-base-gpt2-small-rebuild

.PHONY: base-model base-model-rebuild model-info bench-model golden-model

base-model: build ## the embedded base model: the committed small one, or built into the plora cache (PRESET=small|tiny SEED=0 STEPS= OUT=dir)
	$(PLORA) base-model init --preset $(PRESET) --seed $(SEED) $(if $(STEPS),--steps $(STEPS)) $(if $(OUT),--out $(OUT) --force)

base-model-rebuild: build ## rebuild the committed assets/models/plora-base-gpt2-small bit for bit (wasm kernels, ≈30 min on one core) and compare SHA-256s
	PLORA_BACKEND=wasm PLORA_NATIVE_KERNELS=off $(PLORA) base-model init --preset small --seed 0 --out $(REBUILD_OUT) --force
	node scripts/compare-base-model.mjs assets/models/plora-base-gpt2-small $(REBUILD_OUT)

model-info: build ## architecture, parameters, vocabulary and LoRA targets of the base model (MODEL=id|dir)
	$(PLORA) model info $(MODEL)

bench-model: ## benchmarks (a) training steps and (d) token-NLL tokens/s (BENCH_BACKEND=wasm|cpu|tensorflow BENCH_NATIVE=auto|off BENCH_STEPS=20)
	cd packages/model && npx vitest run -c bench/vitest.config.ts bench/model.bench.ts

golden-model: ## regenerate packages/model/test/golden/model-logits.json with the float64 NumPy reference, checked against the PyTorch one (torch-forward.py)
	npx tsc -b packages/model
	node packages/model/scripts/golden/write-golden-models.mjs $(GOLDEN_MODELS)
	/usr/bin/python3 packages/model/scripts/golden/make-model-goldens.py $(GOLDEN_MODELS) > packages/model/test/golden/model-logits.json.tmp
	mv packages/model/test/golden/model-logits.json.tmp packages/model/test/golden/model-logits.json
	/usr/bin/python3 packages/model/scripts/golden/torch-forward.py $(GOLDEN_MODELS) packages/model/test/golden/model-logits.json
