# Value-add experiment (spec pipelines.md §3.2, §9; issue 16). Every option not given here comes
# from the active config (`plora value-add run --help` shows which field). None of these targets
# swallows a failure (the original's `|| true`), and the latency budget is the config's
# `latency_budget_ms` / $PLORA_LATENCY_BUDGET_MS unless LAT_BUDGET_MS is set (the original forced
# 250 ms everywhere). Outputs: results/value_add/{value_add.jsonl,value_add.md,value_add_summary.json,
# nll_cache.json,rank_r*/…}.

VALUE_ADD_DIR ?= results/value_add
# Domains as a comma list, read when the recipe runs.
VA_DOMAINS = "$$($(PLORA) config get domains --csv)"
VA_BUDGET = $${LAT_BUDGET_MS:+--latency-budget-ms "$$LAT_BUDGET_MS"}

.PHONY: value-add-smoke value-add-full value-add-rank-sweep value-add-build-full value-add-build-lowmem

value-add-smoke: build ## value-add run from scratch on the config's cells (latency only flagged)
	$(PLORA) value-add run --domains $(VA_DOMAINS) $(VA_BUDGET) --ignore-latency-guard --no-resume --output $(VALUE_ADD_DIR)

value-add-full: build ## value-add run from scratch with the config's seeds passed explicitly (fixes the original's JSON-list bug)
	$(PLORA) value-add run --domains $(VA_DOMAINS) --seeds "$$($(PLORA) config get value_add.seeds --csv)" $(VA_BUDGET) --ignore-latency-guard --no-resume --output $(VALUE_ADD_DIR)

value-add-rank-sweep: build ## value-add run over the config's ranks, resuming finished cells (pipeline step 11)
	$(PLORA) value-add run --domains $(VA_DOMAINS) --ranks "$$($(PLORA) config get value_add.ranks --csv)" $(VA_BUDGET) --ignore-latency-guard --output $(VALUE_ADD_DIR)

# The builder re-evaluates results/value_add's adapters on the config's held-out split (eval_split)
# and rewrites value_add.jsonl (builder record format, spec §9.9). CPU=1 forces the CPU backend.
CPU ?= 0
VA_BUILD = $(PLORA) value-add build --artifacts-dir $(VALUE_ADD_DIR) --output $(VALUE_ADD_DIR)/value_add.jsonl \
	--domains $(VA_DOMAINS) --dev-size "$$($(PLORA) config get value_add.dev_size)" \
	--base-model "$$($(PLORA) config get base_model)" --seeds "$$($(PLORA) config get value_add.seeds --csv)" --overwrite

value-add-build-full: build ## re-evaluate results/value_add's adapters (placebos, cross-domain) into value_add.jsonl
	PLORA_FORCE_CPU=$(CPU) $(VA_BUILD)

value-add-build-lowmem: build ## the same with max length 256, no placebos and no cross-domain deltas
	$(VA_BUILD) --max-length 256 --skip-placebos --skip-cross
