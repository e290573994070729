# The two commands a user needs: `make run` and `make test`. Both install into .venv first and
# start private PostgreSQL, Redis and an MQTT broker under ./var/ unless DATABASE_URL / REDIS_URL /
# MQTT_URL are set. The broker (amqtt) has a virtualenv of its own, .venv-broker: its pins clash
# with the system's (core/broker-requirements.txt).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
BROKER_VENV := .venv-broker
BROKER_INSTALLED := $(BROKER_VENV)/.installed

.PHONY: run test install migrate clean bench chaos screenshots proto

$(INSTALLED): pyproject.toml $(BROKER_INSTALLED)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(INSTALLED)

$(BROKER_INSTALLED): core/broker-requirements.txt
	test -x $(BROKER_VENV)/bin/python || $(PYTHON) -m venv $(BROKER_VENV)
	$(BROKER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BROKER_VENV)/bin/python -m pip install --quiet -r core/broker-requirements.txt
	touch $(BROKER_INSTALLED)

install: $(INSTALLED)

# SERVER=uvicorn serves with uvicorn instead of daphne; WEB_PROCESSES=N runs N server processes (ADR 0010).
run: $(INSTALLED)
	$(BIN)/python -m core.stack

# Tests get their own private services under var/test, so they never touch `make run`'s data.
TEST_VAR ?= var/test
test: $(INSTALLED)
	$(BIN)/python -m core.localservices --var $(TEST_VAR) -- $(BIN)/python -m pytest $(PYTEST_ARGS)

# Benchmarks on a system the bench starts under var/bench; results in bench/results/.
# Knobs (see bench/run.py): BENCH_QUICK=1 for a smoke run, BENCH_SCALE, BENCH_REPEATS, BENCH_ONLY.
export BENCH_QUICK BENCH_SCALE BENCH_REPEATS BENCH_ONLY BENCH_BASELINE BENCH_BROKER BENCH_SIM_NICE BENCH_SIM_PROCESSES BENCH_SERVER BENCH_SETTINGS BENCH_DB_SET BENCH_VAR BENCH_RESULTS
bench: $(INSTALLED)
	$(BIN)/python -m bench.run

# Faults on purpose under load (faults/run.py): web and worker killed, Redis and PostgreSQL
# restarted; prints sent/acknowledged/stored/lost/duplicated and recovery per fault; exits 1 on a loss.
chaos: $(INSTALLED)
	$(BIN)/python -m faults.run

# Rewrites docs/screenshots/*.png (the README's pictures) from the browser tests.
screenshots: $(INSTALLED)
	UPDATE_SCREENSHOTS=1 $(BIN)/python -m core.localservices --var $(TEST_VAR) -- $(BIN)/python -m pytest tests/ui -q

# Regenerates kotodian/proto/*_pb2.py from the .proto files with the protoc of the pinned grpcio-tools.
proto: $(INSTALLED)
	$(BIN)/python -m kotodian.proto.generate

clean:
	rm -rf var
