# Figures and the HTML report (issue 18; spec pipelines.md §16). Thin wrappers over `plora`.
# RESULTS is the results folder read; figures go to $(RESULTS)/figures, the page to $(RESULTS)/report.html.

RESULTS ?= results

.PHONY: figures report

figures: build ## every figure of $(RESULTS) as SVG + PNG → results/figures/ (placeholders where data is missing)
	$(PLORA) figures --results $(RESULTS)

report: build ## figures + one self-contained page → results/report.html (config, tables, figures, raw-file links)
	$(PLORA) report --results $(RESULTS)
