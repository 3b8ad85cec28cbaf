# Training targets (spec pipelines.md §3.2, §7, §10; issue 5): per-domain LoRA adapters and the
# monolithic baseline. Values come from the active config when the recipe runs: samples, the first
# value_add rank and scheme (dry: r=1, attention, 32 samples; full: r=4, all, 1000 samples), domains.
# With base_model `embedded`, the first training run pretrains the embedded GPT-2 on the general
# corpus (a fixed budget) and caches it in $PLORA_CACHE_DIR; later runs reuse it.

.PHONY: train-legal train-all monolithic-r4

train-legal: build ## train out/legal (config samples, rank 4, scheme all)
	$(PLORA) train --domain legal --epochs 1 --samples "$$($(PLORA) config get samples)" --output out/legal

train-all: build ## train out/<domain> for every configured domain (rank/scheme = value_add.ranks[0]/schemes[0])
	@set -e; \
	samples="$$($(PLORA) config get samples)"; \
	rank="$$($(PLORA) config get 'value_add.ranks[0]' | tr -d "\"'")"; \
	scheme="$$($(PLORA) config get 'value_add.schemes[0]' | tr -d "\"'")"; \
	domains="$$($(PLORA) config get domains --csv | tr ',' ' ')"; \
	if [ -z "$$domains" ]; then echo "[train-all] no domains configured (plora config get domains)"; exit 1; fi; \
	for d in $$domains; do \
	  echo "[train-all] $$d: samples=$$samples rank=$$rank scheme=$$scheme"; \
	  $(PLORA) train --domain "$$d" --epochs 1 --samples "$$samples" --rank "$$rank" --scheme "$$scheme" --output "out/$$d"; \
	done

monolithic-r4: build ## train the monolithic baseline on all configured domains into out/monolithic_r4
	$(PLORA) monolithic-train --domains "$$($(PLORA) config get domains --csv)" --epochs 1 --samples "$$($(PLORA) config get samples)" --rank 4 --output out/monolithic_r4
