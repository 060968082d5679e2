# The README's two commands. Both do their own set-up first (idempotent; seconds when warm).
UV := .tools/uv/bin/uv

.PHONY: setup up down test test-quick lint

setup:
	@scripts/setup.sh

up: setup
	$(UV) run --frozen tether up $(UP_ARGS)

down:
	$(UV) run --frozen tether up --down

test: setup lint
	$(UV) run --frozen pytest

test-quick: setup
	$(UV) run --frozen pytest -m "not slow"

lint:
	$(UV) run --frozen ruff check src tests
	$(UV) run --frozen ruff format --check src tests
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
