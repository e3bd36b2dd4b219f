# Two commands a user needs: `make demo` (the main job) and `make test`.
# Every target creates .venv and installs requirements.txt into it when missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lut bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python tools/train.py --config configs/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lut: $(STAMP)
	$(BIN)/python tools/build_lut.py --space pfld_fbnet --backend ort --threads 1 \
		--runs 300 --warmup 30 --calib_archs 7 --out lut/pfld_fbnet_112_ort_t1.json

bench: $(STAMP)
	$(BIN)/python bench/search_throughput.py

clean:
	rm -rf ckpt_save output
