# Entry points: `make demo` (the incident lab, remediated through the CLI) and `make test` (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
YBA_LAB_DIR ?= /tmp/yba-lab
# make test uses its own lab directory so it never tears down a demo lab left up by `make demo`
TEST_LAB_DIR ?= /tmp/yba-lab-test
# the job `make demo` runs: the remediate runbook, given the lab's live S3 endpoint and keys as the desired storage
# settings (`ybalab storage-vars`, as an operator's vars file from a vault)
DEMO_PLAYBOOK ?= remediate
DEMO_SUMMARY ?= $(CURDIR)/run-records/demo-$(DEMO_PLAYBOOK).json
SCENARIO ?= incident

export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
LAB = YBA_LAB_DIR=$(YBA_LAB_DIR) PYTHONPATH=$(CURDIR)/tests/lab $(VENV)/bin/python -m ybalab
STAGE = YBA_LAB_DIR=$(TEST_LAB_DIR) scripts/test.sh

.PHONY: help bootstrap demo test sanity units lint build docs changelog lab-tests integration bench \
        lab-up lab-reset lab-status lab-down constraints clean

help:
	@echo "make demo     bootstrap, start the incident lab ($(YBA_LAB_DIR)), run '$(DEMO_PLAYBOOK)' through the CLI"
	@echo "make test     bootstrap + sanity, units, lint, build, docs, changelog, lab up, lab tests, integration, lab down"
	@echo "make sanity|units|lint|build|docs|changelog|bench        one stage (integration/lab-tests need a lab up)"
	@echo "make lab-up | lab-reset SCENARIO=healthy | lab-status | lab-down     (YBA_LAB_DIR=$(YBA_LAB_DIR))"

bootstrap:
	@scripts/bootstrap.sh

demo: bootstrap
	@if $(LAB) status >/dev/null 2>&1; then $(LAB) reset $(SCENARIO); else $(LAB) up --scenario $(SCENARIO); fi
	@$(LAB) storage-vars --out $(YBA_LAB_DIR)/storage-vars.json >/dev/null
	@rc=0; YBA_LAB_DIR=$(YBA_LAB_DIR) yba-remediation run $(DEMO_PLAYBOOK) --summary $(DEMO_SUMMARY) \
	  -e @$(YBA_LAB_DIR)/storage-vars.json || rc=$$?; \
	echo; echo "JSON run summary: $(DEMO_SUMMARY)"; \
	echo "The lab is still up in $(YBA_LAB_DIR): inspect it with 'make lab-status', stop it with 'make lab-down'."; \
	exit $$rc

test: bootstrap
	@$(STAGE) all

sanity units lint build docs changelog bench: bootstrap
	@$(STAGE) $@

# these two need a lab already up in $(TEST_LAB_DIR) (or pass TEST_LAB_DIR=$(YBA_LAB_DIR))
lab-tests integration: bootstrap
	@$(STAGE) $@

lab-up: bootstrap
	$(LAB) up

lab-reset: bootstrap
	$(LAB) reset $(SCENARIO)

lab-status:
	$(LAB) status

lab-down:
	$(LAB) down

# regenerate requirements/constraints.txt from a clean venv built from requirements/test.txt
constraints:
	rm -rf .build/constraints-venv && python3 -m venv .build/constraints-venv
	.build/constraints-venv/bin/pip install -q -r requirements/test.txt
	{ echo "# Full pin set: pip freeze of a clean venv built from requirements/test.txt (regenerate: make constraints)."; \
	  .build/constraints-venv/bin/pip freeze; } > requirements/constraints.txt
	rm -rf .build/constraints-venv

clean:
	rm -rf .build/dist tests/output .pytest_cache
