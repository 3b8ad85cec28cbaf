# Model engine targets (issue 4, @plora/model): the embedded default base model, the model
# benchmarks and the golden logits (the goldens need Debian's python3-numpy and python3-torch).

SEED ?= 0
GOLDEN_MODELS ?= /tmp/plora-golden-models

.PHONY: base-model model-info bench-model golden-model

base-model: build ## write and pretrain the embedded base model into the plora cache (SEED=0; STEPS=250; OUT=dir to choose the folder)
	$(PLORA) base-model init --seed $(SEED) $(if $(STEPS),--steps $(STEPS)) $(if $(OUT),--out $(OUT)) --force

model-info: build ## architecture, parameters, vocabulary and LoRA targets of the base model (MODEL=id|dir)
	$(PLORA) model info $(MODEL)

bench-model: ## benchmarks (a) training steps and (d) token-NLL tokens/s (BENCH_BACKEND=wasm|cpu BENCH_STEPS=20)
	cd packages/model && npx vitest run -c bench/vitest.config.ts bench/model.bench.ts

golden-model: ## regenerate packages/model/test/golden/model-logits.json with the NumPy/PyTorch reference
	npx tsc -b packages/model
	node packages/model/scripts/golden/write-golden-models.mjs $(GOLDEN_MODELS)
	/usr/bin/python3 packages/model/scripts/golden/make-model-goldens.py $(GOLDEN_MODELS) > packages/model/test/golden/model-logits.json
