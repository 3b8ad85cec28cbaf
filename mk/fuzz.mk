# Mutation run (issue 15 "Done when"): seeded mutants of manifests, safetensors files, plora configs,
# adapter configs and env values through the real validators, and kill-mid-write checks of the atomic
# writers. Prints counts per outcome and error code and the slowest case; writes results/fuzz/summary.json.

FUZZ_SEED ?= 1
FUZZ_MANIFESTS ?= 10000
FUZZ_SAFETENSORS ?= 10000
FUZZ_CONFIGS ?= 1000
FUZZ_KILLS ?= 150

.PHONY: fuzz

fuzz: $(SETUP_STAMP) ## seeded mutation run (FUZZ_SEED, FUZZ_MANIFESTS, FUZZ_SAFETENSORS, FUZZ_CONFIGS, FUZZ_KILLS)
	node --conditions=@plora/source --import tsx bench/fuzz/run.ts --seed $(FUZZ_SEED) \
	  --manifests $(FUZZ_MANIFESTS) --safetensors $(FUZZ_SAFETENSORS) --configs $(FUZZ_CONFIGS) --kills $(FUZZ_KILLS)
