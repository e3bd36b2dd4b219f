# Two commands a user needs: `make demo` (the main job) and `make test`.
# Every target creates .venv and installs requirements.txt into it when missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo compare datatang mbv2 hourglass spaces_real test lut lut_mbv2 lut_hourglass bench clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $(STAMP)

SUPERNET := ckpt_save/supernet/checkpoint_last.pth
RUN      := $(BIN)/python tools

# The whole pipeline on the embedded synthetic faces: search -> sample -> retrain ->
# export (ONNX + MNN, parity-checked) -> evaluate -> summary table.
demo: $(STAMP)
	$(RUN)/train.py --config configs/demo.yaml
	$(RUN)/sample.py --supernet $(SUPERNET) --num 8
	$(RUN)/retrain.py --supernet $(SUPERNET) --config configs/demo_retrain.yaml
	$(RUN)/export.py --resume ckpt_save/subnet/checkpoint_best.pth
	$(RUN)/evaluate.py --ckpt ckpt_save/subnet/checkpoint_best.pth --out output/evaluate_subnet.json
	$(RUN)/report.py --eval output/evaluate_subnet.json --export output/export.json \
		--pareto output/pareto.csv

# After `make demo`: the same architecture from scratch and both hand-designed baselines,
# each at the demo's retraining budget, evaluated on the test split.
compare: $(STAMP)
	$(RUN)/retrain.py --supernet $(SUPERNET) --from_scratch --name subnet_scratch \
		--config configs/demo_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/pfld_mbv2.json --from_scratch --name pfld_mbv2 \
		--config configs/demo_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/pfld_mbv3_small.json --from_scratch \
		--name pfld_mbv3_small --config configs/demo_retrain.yaml
	for name in subnet_scratch pfld_mbv2 pfld_mbv3_small; do \
		$(RUN)/evaluate.py --ckpt ckpt_save/$$name/checkpoint_best.pth \
			--out output/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval output/evaluate_subnet.json output/evaluate_subnet_scratch.json \
		output/evaluate_pfld_mbv2.json output/evaluate_pfld_mbv3_small.json

# Real data: prepare ../shared/data/datatang106 (Datatang JSON), search, retrain the searched
# subnet and the hand-designed PFLD baseline at the same budget, evaluate both on test.
DT := ckpt_save/datatang
datatang: $(STAMP)
	$(RUN)/prepare_data.py --dataset datatang --data_root ../shared/data/datatang106 \
		--out data/datatang106
	$(RUN)/train.py --config configs/datatang_search.yaml
	$(RUN)/retrain.py --supernet $(DT)/supernet/checkpoint_last.pth \
		--config configs/datatang_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/pfld_mbv2.json --from_scratch --name pfld_mbv2 \
		--config configs/datatang_retrain.yaml
	for name in subnet pfld_mbv2; do \
		$(RUN)/evaluate.py --ckpt $(DT)/$$name/checkpoint_best.pth --dataset jd106 \
			--data_root data/datatang106 --out output/datatang/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval output/datatang/evaluate_subnet.json \
		output/datatang/evaluate_pfld_mbv2.json

# The two other spaces on the synthetic faces: search -> sample -> retrain (searched subnet
# and the space's baseline at the same budget) -> export (ONNX + MNN) -> evaluate -> table.
MB := ckpt_save/mbv2
mbv2: $(STAMP)
	$(RUN)/train.py --config configs/mbv2_search.yaml
	$(RUN)/sample.py --supernet $(MB)/supernet/checkpoint_last.pth --num 8 --out output/mbv2
	$(RUN)/retrain.py --supernet $(MB)/supernet/checkpoint_last.pth --config configs/mbv2_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/mbv2_landmark_1.0.json --from_scratch \
		--name mbv2_1.0 --space_kwargs '{"num_points": 106, "img_size": 64}' \
		--config configs/mbv2_retrain.yaml
	$(RUN)/export.py --resume $(MB)/subnet/checkpoint_best.pth --out_dir output/mbv2
	for name in subnet mbv2_1.0; do $(RUN)/evaluate.py --ckpt $(MB)/$$name/checkpoint_best.pth \
		--out output/mbv2/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval output/mbv2/evaluate_subnet.json output/mbv2/evaluate_mbv2_1.0.json \
		--export output/mbv2/export.json --pareto output/mbv2/pareto.csv

HG := ckpt_save/hourglass
HG_KW := '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'
hourglass: $(STAMP)
	$(RUN)/train.py --config configs/hourglass_search.yaml
	$(RUN)/sample.py --supernet $(HG)/supernet/checkpoint_last.pth --num 8 --out output/hourglass
	$(RUN)/retrain.py --supernet $(HG)/supernet/checkpoint_last.pth \
		--config configs/hourglass_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/hourglass_seg_mid.json --from_scratch \
		--name hourglass_mid --space_kwargs $(HG_KW) --config configs/hourglass_retrain.yaml
	$(RUN)/export.py --resume $(HG)/subnet/checkpoint_best.pth --out_dir output/hourglass
	for name in subnet hourglass_mid; do $(RUN)/evaluate.py --ckpt $(HG)/$$name/checkpoint_best.pth \
		--out output/hourglass/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval output/hourglass/evaluate_subnet.json \
		output/hourglass/evaluate_hourglass_mid.json --export output/hourglass/export.json \
		--pareto output/hourglass/pareto.csv

# Both spaces once on real files: hourglass_seg on CelebAMask-style and Face Synthetics masks,
# mbv2_landmark on Face Synthetics landmarks (70 points); each next to its baseline.
REAL := ../shared/data
define hourglass_real
	$(RUN)/train.py --config configs/hourglass_real_search.yaml --dataset $(1) \
		--data_root $(REAL)/$(2) --snapshot ckpt_save/hg_$(1)
	$(RUN)/retrain.py --supernet ckpt_save/hg_$(1)/supernet/checkpoint_last.pth --dataset $(1) \
		--data_root $(REAL)/$(2) --snapshot ckpt_save/hg_$(1) --config configs/hourglass_real_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/hourglass_seg_mid.json --from_scratch \
		--name hourglass_mid --space_kwargs $(HG_KW) --dataset $(1) --data_root $(REAL)/$(2) \
		--snapshot ckpt_save/hg_$(1) --config configs/hourglass_real_retrain.yaml
	$(RUN)/export.py --resume ckpt_save/hg_$(1)/subnet/checkpoint_best.pth --out_dir output/hg_$(1)
	for name in subnet hourglass_mid; do $(RUN)/evaluate.py --dataset $(1) --data_root $(REAL)/$(2) \
		--ckpt ckpt_save/hg_$(1)/$$name/checkpoint_best.pth \
		--out output/hg_$(1)/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval output/hg_$(1)/evaluate_subnet.json \
		output/hg_$(1)/evaluate_hourglass_mid.json --export output/hg_$(1)/export.json
endef

MF := ckpt_save/mbv2_fs
spaces_real: $(STAMP)
	$(call hourglass_real,celebamask,celebamask_parsing)
	$(call hourglass_real,facesynthetics,facesynthetics_100)
	$(RUN)/prepare_data.py --dataset facesynthetics --data_root $(REAL)/facesynthetics_100 \
		--out data/facesynthetics70 --img_size 128 --margin 2.0
	test -f lut/mbv2_landmark_128_ort_t1.json || $(BIN)/python tools/build_lut.py \
		--space mbv2_landmark --runs 30 --warmup 5
	$(RUN)/train.py --config configs/mbv2_real_search.yaml
	$(RUN)/retrain.py --supernet $(MF)/supernet/checkpoint_last.pth --config configs/mbv2_real_retrain.yaml
	$(RUN)/retrain.py --arch lib/spaces/archs/mbv2_landmark_1.0.json --from_scratch --name mbv2_1.0 \
		--config configs/mbv2_real_retrain.yaml
	$(RUN)/export.py --resume $(MF)/subnet/checkpoint_best.pth --out_dir output/mbv2_fs
	for name in subnet mbv2_1.0; do $(RUN)/evaluate.py --ckpt $(MF)/$$name/checkpoint_best.pth \
		--dataset jd106 --data_root data/facesynthetics70 \
		--out output/mbv2_fs/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval output/mbv2_fs/evaluate_subnet.json output/mbv2_fs/evaluate_mbv2_1.0.json \
		--export output/mbv2_fs/export.json

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

lut: $(STAMP)
	$(BIN)/python tools/build_lut.py --space pfld_fbnet --backend ort --threads 1 \
		--runs 300 --warmup 30 --calib_archs 7 --out lut/pfld_fbnet_112_ort_t1.json

lut_mbv2: $(STAMP)
	$(BIN)/python tools/build_lut.py --space mbv2_landmark --num_points 106 --img_size 64 \
		--runs 30 --warmup 5 --out lut/mbv2_landmark_64_n106_ort_t1.json

lut_hourglass: $(STAMP)
	$(BIN)/python tools/build_lut.py --space hourglass_seg --img_size 64 \
		--space_kwargs '{"cap": 32, "kernels": [3, 5]}' --runs 30 --warmup 5 \
		--out lut/hourglass_seg_64_c32_ort_t1.json

bench: $(STAMP)
	$(BIN)/python bench/search_throughput.py
	$(BIN)/python bench/search_throughput.py --space mbv2_landmark --space_kwargs '{"num_points": 106}' \
		--batch 32 --steps 5
	$(BIN)/python bench/search_throughput.py --space hourglass_seg --batch 32 --steps 5 \
		--space_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'

clean:
	rm -rf ckpt_save output
