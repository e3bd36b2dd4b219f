# Two commands a user needs: `make demo` (the main job) and `make test`.
# Every target creates .venv and installs requirements.txt into it when missing or stale.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo compare datatang mbv2 hourglass spaces_real vs_random vs_random_datatang \
	vs_random_hourglass vs_archai vs_archai_hourglass input_pipeline groundtruth groundtruth_curves \
	groundtruth_report gpu_check test lut lut_mnn lut_mbv2 lut_hourglass bench fidelity clean

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -r requirements.txt
	touch $(STAMP)

SUPERNET := ckpt_save/supernet/checkpoint_last.pth
RUN      := $(BIN)/python tools

# The whole pipeline on the embedded synthetic faces: search -> sample -> retrain ->
# export (ONNX + MNN, parity-checked) -> evaluate -> summary table -> a picture of the
# exported model's landmarks on eight test faces (its path printed last).
demo: $(STAMP)
	$(RUN)/train.py --config configs/demo.yaml
	$(RUN)/sample.py --supernet $(SUPERNET) --num 8
	$(RUN)/retrain.py --supernet $(SUPERNET) --config configs/demo_retrain.yaml
	$(RUN)/export.py --ckpt ckpt_save/subnet/checkpoint_best.pth
	$(RUN)/evaluate.py --ckpt ckpt_save/subnet/checkpoint_best.pth --out output/evaluate_subnet.json
	$(RUN)/report.py --eval output/evaluate_subnet.json --export output/export.json \
		--pareto output/pareto.csv
	$(RUN)/predict.py --ckpt output/subnet.onnx --whole --out output/predict \
		--input data/synthetic/test_data/imgs/00000[0-7].png --sheet output/predict_demo.png

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
DT_PREP := $(RUN)/prepare_data.py --dataset datatang --data_root ../shared/data/datatang106 \
	--out data/datatang106
datatang: $(STAMP)
	$(DT_PREP)
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

# One search-space run: search -> sample -> retrain the searched subnet (inherited) and a
# baseline (scratch) at the same budget -> export (ONNX + MNN) -> evaluate both -> table.
# $(1) snapshot, $(2) output folder, $(3) search flags, $(4) retrain flags (both models),
# $(5) baseline architecture file, $(6) its run name, $(7) its extra flags, $(8) data flags.
define space_run
	$(RUN)/train.py $(3) $(8) --snapshot $(1)
	$(RUN)/sample.py --supernet $(1)/supernet/checkpoint_last.pth --num 8 --out $(2)
	$(RUN)/retrain.py --supernet $(1)/supernet/checkpoint_last.pth $(4) $(8) --snapshot $(1)
	$(RUN)/retrain.py --arch $(5) --from_scratch --name $(6) $(7) $(4) $(8) --snapshot $(1)
	$(RUN)/export.py --ckpt $(1)/subnet/checkpoint_best.pth --out_dir $(2)
	for name in subnet $(6); do $(RUN)/evaluate.py --ckpt $(1)/$$name/checkpoint_best.pth $(8) \
		--out $(2)/evaluate_$$name.json || exit 1; done
	$(RUN)/report.py --eval $(2)/evaluate_subnet.json $(2)/evaluate_$(6).json \
		--export $(2)/export.json --pareto $(2)/pareto.csv
endef

# The two other spaces on the synthetic faces, each next to its baseline.
MB_BASE := lib/spaces/archs/mbv2_landmark_1.0.json
MB_KW   := --space_kwargs '{"num_points": 106, "img_size": 64}' \
		--lut lut/mbv2_landmark_64_n106_ort_t1.json
mbv2: $(STAMP)
	$(call space_run,ckpt_save/mbv2,output/mbv2,--config configs/mbv2_search.yaml,\
		--config configs/mbv2_retrain.yaml,$(MB_BASE),mbv2_1.0,$(MB_KW),)

HG_BASE := lib/spaces/archs/hourglass_seg_mid.json
HG_KW   := --space_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'
hourglass: $(STAMP)
	$(call space_run,ckpt_save/hourglass,output/hourglass,--config configs/hourglass_search.yaml,\
		--config configs/hourglass_retrain.yaml,$(HG_BASE),hourglass_mid,$(HG_KW),)

# Both spaces once on real files: hourglass_seg on CelebAMask-style and Face Synthetics masks,
# mbv2_landmark on Face Synthetics landmarks (70 points); each next to its baseline.
REAL := ../shared/data
HG_REAL := --config configs/hourglass_real_search.yaml
HG_REAL_RT := --config configs/hourglass_real_retrain.yaml
spaces_real: $(STAMP)
	$(call space_run,ckpt_save/hg_celebamask,output/hg_celebamask,$(HG_REAL),$(HG_REAL_RT),\
		$(HG_BASE),hourglass_mid,$(HG_KW),--dataset celebamask --data_root $(REAL)/celebamask_parsing)
	$(call space_run,ckpt_save/hg_facesynthetics,output/hg_facesynthetics,$(HG_REAL),$(HG_REAL_RT),\
		$(HG_BASE),hourglass_mid,$(HG_KW),\
		--dataset facesynthetics --data_root $(REAL)/facesynthetics_100)
	$(RUN)/prepare_data.py --dataset facesynthetics --data_root $(REAL)/facesynthetics_100 \
		--out data/facesynthetics70 --img_size 128 --margin 2.0
	test -f lut/mbv2_landmark_128_ort_t1.json || $(BIN)/python tools/build_lut.py \
		--space mbv2_landmark --runs 30 --warmup 5
	$(call space_run,ckpt_save/mbv2_fs,output/mbv2_fs,--config configs/mbv2_real_search.yaml,\
		--config configs/mbv2_real_retrain.yaml,$(MB_BASE),mbv2_1.0,,\
		--dataset jd106 --data_root data/facesynthetics70)

# Searched vs random architectures of the same LUT latency, all trained from scratch with one
# recipe, plus one-shot ranking and the hand-designed baselines (bench/search_vs_random.py;
# sizes are recorded in the JSON). Each writes output/bench/search_vs_random_<space>_<data>.*
VSR := $(BIN)/python bench/search_vs_random.py
vs_random: $(STAMP)
	$(VSR) --search_config configs/demo.yaml --retrain_config configs/vs_random_retrain.yaml

vs_random_datatang: $(STAMP)
	$(DT_PREP)
	$(VSR) --search_config configs/datatang_search.yaml \
		--retrain_config configs/vs_random_datatang_retrain.yaml

vs_random_hourglass: $(STAMP)
	$(VSR) --search_config configs/vs_random_hourglass_search.yaml \
		--retrain_config configs/vs_random_hourglass_retrain.yaml --target 1.384 \
		--baseline_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'

# Each space's own NAS-Bench (bench/groundtruth.py, docs/GROUNDTRUTH.md): architectures trained
# on their own, several seeds, one row per (architecture, seed) appended to
# bench/groundtruth/<space>_synthetic.json and committed as it grows; rerun to continue.
GT := $(BIN)/python bench/groundtruth.py
groundtruth_curves: $(STAMP)
	$(GT) --space pfld_fbnet --curves 10 20 40 --commit
	$(GT) --space hourglass_seg --curves 8 16 32 --commit

groundtruth: $(STAMP)
	$(GT) --space pfld_fbnet --commit
	$(GT) --space hourglass_seg --commit

groundtruth_report: $(STAMP)
	$(GT) --space pfld_fbnet --report
	$(GT) --space hourglass_seg --report

# Archai's EvolutionParetoSearch against ours at the same search wall-clock; both sides'
# picks trained with one recipe (bench/vs_archai.py). Archai lives in its own venv.
ARCHAI := .venv-archai
$(ARCHAI)/.installed: requirements-archai.txt requirements.txt
	test -x $(ARCHAI)/bin/python || $(PYTHON) -m venv $(ARCHAI)
	$(ARCHAI)/bin/python -m pip install -q -r requirements-archai.txt
	touch $@

VSA := $(ARCHAI)/bin/python bench/vs_archai.py
vs_archai: $(ARCHAI)/.installed
	$(VSA) --search_config configs/vs_archai_pfld_search.yaml \
		--retrain_config configs/vs_archai_retrain.yaml

vs_archai_hourglass: $(ARCHAI)/.installed
	$(VSA) --search_config configs/vs_archai_hourglass_search.yaml \
		--retrain_config configs/vs_archai_hourglass_retrain.yaml

# The input pipeline alone, the PFLD search step alone, and the step fed by the loader, with
# 0, 1, 2 loader workers, on 20,000 generated faces (bench/input_pipeline.py).
input_pipeline: $(STAMP)
	$(BIN)/python bench/input_pipeline.py

# The CUDA paths on a GPU machine, about 8 minutes (docs/GPU.md); without CUDA: a message, exit 0.
gpu_check: $(STAMP)
	$(BIN)/python bench/gpu_check.py

test: $(STAMP)
	$(BIN)/python -m pytest -q tests

# Drift-proof timing (README: Latency LUTs); the two width spaces have thousands of entries,
# so they take --quick's settings.
lut: $(STAMP)
	$(BIN)/python tools/build_lut.py --space pfld_fbnet --backend ort --threads 1 \
		--calib_archs 12 --out lut/pfld_fbnet_112_ort_t1.json

lut_mnn: $(STAMP)
	$(BIN)/python tools/build_lut.py --space pfld_fbnet --backend mnn --threads 1 \
		--calib_archs 12 --out lut/pfld_fbnet_112_mnn_t1.json

lut_mbv2: $(STAMP)
	$(BIN)/python tools/build_lut.py --space mbv2_landmark --num_points 106 --img_size 64 \
		--quick --calib_archs 12 --out lut/mbv2_landmark_64_n106_ort_t1.json

lut_hourglass: $(STAMP)
	$(BIN)/python tools/build_lut.py --space hourglass_seg --img_size 64 \
		--space_kwargs '{"cap": 32, "kernels": [3, 5]}' --quick --calib_archs 12 \
		--out lut/hourglass_seg_64_c32_ort_t1.json

bench: $(STAMP)
	$(BIN)/python bench/search_throughput.py
	$(BIN)/python bench/search_throughput.py --space mbv2_landmark --space_kwargs '{"num_points": 106}' \
		--batch 32 --steps 5
	$(BIN)/python bench/search_throughput.py --space hourglass_seg --batch 32 --steps 5 \
		--space_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}'

# LUT fidelity on this machine; a search's argmax joins when its run folder exists. mbv2 and
# hourglass models take 1-8 ms: 50 runs a burst keep each pass at a few minutes.
argmax = $(if $(wildcard $(1)),--arch $(1))
fidelity: $(STAMP)
	$(BIN)/python bench/lut_fidelity.py --space pfld_fbnet $(call argmax,ckpt_save/supernet/arch.json)
	$(BIN)/python bench/lut_fidelity.py --space pfld_fbnet --backend mnn \
		$(call argmax,ckpt_save/supernet/arch.json)
	$(BIN)/python bench/lut_fidelity.py --space mbv2_landmark --runs 50 \
		--space_kwargs '{"num_points": 106, "img_size": 64}' $(call argmax,ckpt_save/mbv2/supernet/arch.json)
	$(BIN)/python bench/lut_fidelity.py --space hourglass_seg --runs 50 \
		--space_kwargs '{"img_size": 64, "cap": 32, "kernels": [3, 5]}' \
		$(call argmax,ckpt_save/hourglass/supernet/arch.json)

clean:
	rm -rf ckpt_save output
