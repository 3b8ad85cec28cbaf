# The research pipelines (spec pipelines.md §3.3; issue 19): 19 steps each, resumable, failing loudly.
# `plora pipeline run dry|full` does the work: it passes config/plora.{dry,full}.yml to every step
# explicitly (PLORA_CONFIG), so running a pipeline never rewrites config/plora.override.yml; the
# state (per step: a hash of the config fields, input files and commands) is in
# results/.dryrun_state.json / results/.experiment_state.json; logs go to logs/. PIPELINE_FLAGS
# passes e.g. --skip 1 (leave the test suite out) or --only 6,7.

PIPELINE_FLAGS ?=

.PHONY: dry-run-lite full-experiment dry-run-status dry-run-reset full-experiment-status full-experiment-reset artefacts-check full-artefacts-check

dry-run-lite: build ## the 19-step pipeline on config/plora.dry.yml (resumes; log in logs/dry-run-lite-*.log)
	@$(PLORA) pipeline run dry $(PIPELINE_FLAGS)

full-experiment: build ## the 19-step pipeline on config/plora.full.yml (resumes; log in logs/full-experiment-*.log)
	@$(PLORA) pipeline run full $(PIPELINE_FLAGS)

dry-run-status: build ## completed dry-run steps and the next one
	@$(PLORA) pipeline status dry

dry-run-reset: build ## forget the dry-run state (next run starts from step 1)
	@$(PLORA) pipeline reset dry

full-experiment-status: build ## completed full-experiment steps and the next one
	@$(PLORA) pipeline status full

full-experiment-reset: build ## forget the full-experiment state
	@$(PLORA) pipeline reset full

artefacts-check: build ## check the dry run's artefacts: exist, parse, JSONL counts, manifests, signatures, report.html
	@$(PLORA) pipeline check dry

full-artefacts-check: build ## the same for the full experiment
	@$(PLORA) pipeline check full
