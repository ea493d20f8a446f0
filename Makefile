# Template development. `make test` is what CI runs.
.DEFAULT_GOAL := help
UV ?= uv
DEST ?= ../my-server

.PHONY: help setup test test-fast demo lint

help: ## List targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

setup: ## Install the template's own tooling (copier, pytest, ruff)
	$(UV) sync

test: lint ## Render every answer set in tests/answers and run each rendered project's checks and tests
	$(UV) run pytest

test-fast: setup ## Everything except the slow per-project toolchain runs
	$(UV) run pytest -m "not slow"

lint: setup ## Lint the template's own tests
	$(UV) run ruff format --check tests
	$(UV) run ruff check tests

demo: ## Render a project with default answers into $(DEST), then set it up and start it
	$(UV) run copier copy --defaults --vcs-ref HEAD . $(DEST)
	$(MAKE) -C $(DEST) setup run
