# Training targets (spec pipelines.md §3.2, §7, §10; issue 5): per-domain LoRA adapters and the
# monolithic baseline. Values come from the active config when the recipe runs: samples, the first
# value_add rank and scheme (dry: r=1, attention, 32 samples; full: r=4, all, 1000 samples), domains.
# With base_model `embedded`, training uses the committed small GPT-2 in assets/models/ (loaded in
# well under a second; PLORA_EMBEDDED_MODEL=tiny for the old fast model, pretrained once into
# $PLORA_CACHE_DIR). bench-poison measures the backdoor attack over seeds (issue 20 item 2).

.PHONY: train-legal train-all monolithic-r4 bench-poison

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

bench-poison: build ## backdoor at poison rate 0.1 over 10 seeds: trigger/clean hit rates, payload ceiling (POISON_OUT=results/bench_poison.json)
	cd packages/trainer && POISON_OUT="$(abspath $(or $(POISON_OUT),results/bench_poison.json))" ../../node_modules/.bin/tsx --conditions=@plora/source bench/poison-rates.ts
