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
