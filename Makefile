# The two commands: `make run` starts the whole local system, `make test` runs every check.
.PHONY: run test

run:
	bash scripts/run.sh

test:
	bash scripts/test.sh
