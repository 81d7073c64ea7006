# Two commands do everything: `make run` (the product with demo data) and `make test`.
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
PY := .venv/bin/python
export UV_PYTHON_DOWNLOADS := never
I18N_IGNORE := --ignore .venv --ignore .tools --ignore var --ignore tests --ignore bench

.PHONY: install run test lint format bench bench-quick messages db-env

$(UV):
	python3 -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

# Installs exactly what uv.lock pins into .venv.
install: $(UV)
	$(UV) sync --frozen

run: install
	$(PY) scripts/stack.py run

test: install
	$(PY) scripts/stack.py test $(ARGS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

format: install
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .

# Benchmarks that print figures against a baseline (bench/README.md); not part of `make test`.
bench: install
	$(PY) scripts/stack.py bench $(ARGS)

bench-quick: install
	$(PY) scripts/stack.py bench --quick $(ARGS)

# Extract and compile translations (needs GNU gettext).
messages: install
	$(PY) manage.py makemessages -l zh_Hans $(I18N_IGNORE)
	$(PY) manage.py compilemessages $(I18N_IGNORE)

# Prints the DATABASE_URL of the embedded database (starting it if needed).
db-env: install
	@$(PY) scripts/stack.py env
