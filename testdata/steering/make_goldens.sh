#!/bin/sh
# Rewrite the steering fixtures and goldens in this folder: control vectors
# written by interp and by the oracle's GGUF writer, llama.cpp's logits,
# greedy continuations and option log-likelihoods with those vectors, and
# the PyTorch reference's mean-difference, PCA and AUSteer values.
#
# Run from anywhere. Needs Go, /usr/bin/python3 with numpy and torch,
# INTERP_ORACLE (the folder of llamacpp_lib.py, gguf_io.py, ref_tl.py and
# ref_steer.py) and LLAMA_LIB_DIR (the folder of libllama, from the npm
# package @node-llama-cpp/linux-x64@3.21.1). The stories260K files need
# ../shared/models/stories260K.gguf next to the repository and are skipped
# without it.
set -eu
cd "$(dirname "$0")/../.."
: "${INTERP_ORACLE:?set INTERP_ORACLE to the folder of the oracle tools}"
: "${LLAMA_LIB_DIR:?set LLAMA_LIB_DIR to the folder of libllama}"
PY=${PYTHON:-/usr/bin/python3}
S=testdata/steering
REF=testdata/reference/steering.py
LLAMA=testdata/llama-tiny.gguf
STORIES=../shared/models/stories260K.gguf

# Control vectors written by interp: a mean difference on the Llama
# fixture, and a dog-versus-cat story direction on stories260K.
go run ./cmd/interp steer --model $LLAMA --pairs $S/pairs.jsonl --layer 1 \
	--prompt "The weather today is" --max-tokens 8 --save $S/llama-tiny.mean-diff.gguf >/dev/null

# Control vectors written by the oracle's own GGUF writer, with
# controlvector.layer_count as uint32 and int64.
$PY $REF write-vector --n-embd 64 --layers 1 --seed 1 --scale 0.5 --layer-count-type u32 --out $S/llama-tiny.oracle.gguf

# llama.cpp applying those files.
$PY $REF llamacpp $LLAMA --prompt "Once upon a time there was" \
	--control-vector $S/llama-tiny.mean-diff.gguf:1.5 --out $S/llama-tiny.mean-diff.llamacpp.npz
$PY $REF llamacpp $LLAMA --prompt "Once upon a time there was" \
	--control-vector $S/llama-tiny.oracle.gguf:0.75 --control-vector $S/llama-tiny.mean-diff.gguf:-0.5 \
	--out $S/llama-tiny.oracle.llamacpp.npz
$PY $REF eval $LLAMA --items $S/eval.jsonl --control-vector $S/llama-tiny.mean-diff.gguf:2 \
	--out $S/llama-tiny.eval.llamacpp.json

# The PyTorch reference's vectors and AUSteer scores on the Llama fixture.
$PY $REF references $LLAMA --pairs $S/pairs.jsonl --out $S/llama-tiny.references.json

if [ -f $STORIES ]; then
	go run ./cmd/interp steer --model $STORIES --positive @$S/stories-dog.txt --negative @$S/stories-cat.txt \
		--positions all --layer 3 --strength 3 --prompt "Once upon a time" --max-tokens 48 \
		--save $S/stories260K.dog.gguf >/dev/null
	$PY $REF write-vector --n-embd 64 --layers 1,2,3,4 --seed 2 --scale 0.3 --layer-count-type i64 --out $S/stories260K.oracle.gguf
	$PY $REF llamacpp $STORIES --prompt "Once upon a time" --greedy 48 \
		--control-vector $S/stories260K.dog.gguf:3 --out $S/stories260K.dog.llamacpp.npz
	$PY $REF llamacpp $STORIES --prompt "Once upon a time" --greedy 32 \
		--control-vector $S/stories260K.oracle.gguf:1 --out $S/stories260K.oracle.llamacpp.npz
else
	echo "skipping the stories260K goldens: $STORIES not found" >&2
fi
