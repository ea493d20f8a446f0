# Template development. `make test` is what CI runs.
.DEFAULT_GOAL := help
UV ?= uv
DEST ?= ../my-server

.PHONY: help setup test test-fast demo lint release

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

release: ## Tag VERSION=X.Y.Z on HEAD (its CHANGELOG section must exist) and record it in tests/releases.txt
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z" >&2; exit 2; }
	@grep -q '^## \[$(VERSION)\]' CHANGELOG.md || { echo "CHANGELOG.md has no '## [$(VERSION)]' section" >&2; exit 2; }
	@test -z "$$(git status --porcelain)" || { echo "commit or stash your changes first" >&2; exit 2; }
	git tag -a v$(VERSION) -m "v$(VERSION)"
	echo "v$(VERSION) $$(git rev-parse HEAD)" >> tests/releases.txt
	git commit --quiet -m "chore: record v$(VERSION) in tests/releases.txt" tests/releases.txt
