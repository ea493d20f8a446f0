# Template development. `make test` is what CI runs.
.DEFAULT_GOAL := help
UV ?= uv
DEST ?= ../my-server
# One pinned copier for every command here and in the READMEs; run by uvx, so `make demo` does not
# install the template's development toolchain.
COPIER ?= uvx copier@9.19.1

.PHONY: help setup test test-fast demo demo-render lint release

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

demo: demo-render ## Render a project with default answers into $(DEST), then set it up and start it
	$(MAKE) -C "$(DEST)" setup run

# The absolute source path is recorded in .copier-answers.yml, so a later `copier update` in the
# project finds this clone; the first commit gives the update the clean tree it requires.
demo-render: ## Render a project with default answers into $(DEST), in git with a first commit
	@test ! -e "$(DEST)" || { echo "$(DEST) already exists: remove it, or choose another with make demo DEST=../other-server" >&2; exit 2; }
	@test -n "$(ALLOW_DIRTY)" || test -z "$$(git status --porcelain)" || { echo "this template clone has uncommitted changes: copier would record a revision that no later update can find. Commit them, or render anyway with ALLOW_DIRTY=1" >&2; exit 2; }
	$(COPIER) copy --quiet --defaults --vcs-ref HEAD "$(CURDIR)" "$(DEST)"
	git -C "$(DEST)" init --quiet -b main
	git -C "$(DEST)" add -A
	git -C "$(DEST)" -c user.name="$$(git config user.name || echo 'MCP developer')" \
		-c user.email="$$(git config user.email || echo 'dev@localhost')" \
		commit --quiet -m "chore: scaffold from copier-mcp-server"
	@echo "Rendered $(DEST). Later, pull template fixes with:"
	@echo "  cd $(DEST) && $(COPIER) update --defaults"

release: ## Tag VERSION=X.Y.Z on HEAD (its CHANGELOG section must exist) and record it in tests/releases.txt
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z" >&2; exit 2; }
	@grep -q '^## \[$(VERSION)\]' CHANGELOG.md || { echo "CHANGELOG.md has no '## [$(VERSION)]' section" >&2; exit 2; }
	@test -z "$$(git status --porcelain)" || { echo "commit or stash your changes first" >&2; exit 2; }
	git tag -a v$(VERSION) -m "v$(VERSION)"
	echo "v$(VERSION) $$(git rev-parse HEAD)" >> tests/releases.txt
	git commit --quiet -m "chore: record v$(VERSION) in tests/releases.txt" tests/releases.txt
