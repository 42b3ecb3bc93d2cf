#!/bin/sh
# Regenerate the quantized fixtures in testdata/quantized and their
# llama.cpp goldens (see testdata/quantized/README.md):
#   1. go run ./internal/fixtures/quantized writes the F32 originals;
#   2. llama_quantize.py quantizes each with llama.cpp's llama_model_quantize
#      to Q8_0, Q4_0, Q4_K_M and Q6_K, and the oracle's ggml_quant.py
#      requant checks the bytes against ggml's quantizer;
#   3. quantized_goldens.py records llama.cpp's logits for a 24-token prompt
#      on each file, and on the shared GPT-2 files when ../shared is there.
#
# Needs Go, /usr/bin/python3 with numpy, INTERP_ORACLE (the folder of the
# oracle tools) and LLAMA_LIB_DIR (the folder of libllama from the npm
# package @node-llama-cpp/linux-x64@3.21.1). Run from anywhere; about 20
# seconds on 2 cores.
set -eu
cd "$(dirname "$0")/../.."
: "${INTERP_ORACLE:?set INTERP_ORACLE to the folder of the oracle tools}"
: "${LLAMA_LIB_DIR:?set LLAMA_LIB_DIR to the folder of libllama}"
PY=${PYTHON:-/usr/bin/python3}
REF=testdata/reference
OUT=testdata/quantized
SHARED=../shared/models/quantized
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# 24 tokens each: one byte a token in the synthetic vocabulary, GPT-2's
# real BPE for the shared files.
SYNTH_TEXT="A cat sat on the red mat"
GPT2_TEXT="When Mary and John went to the store, John gave a drink to Mary because she had walked all the way from the"

go run ./internal/fixtures/quantized -out "$TMP"
for m in gpt2-d256 llama-d256; do
	for t in Q8_0 Q4_0 Q4_K_M Q6_K; do
		$PY $REF/llama_quantize.py "$TMP/$m-F32.gguf" "$OUT/$m-$t.gguf" $t 2>"$TMP/quantize.log" ||
			{ cat "$TMP/quantize.log" >&2; exit 1; }
		$PY "$INTERP_ORACLE/ggml_quant.py" requant "$TMP/$m-F32.gguf" "$OUT/$m-$t.gguf" | tail -n 1
		$PY $REF/quantized_goldens.py "$OUT/$m-$t.gguf" --text "$SYNTH_TEXT" --out "$OUT/$m-$t.llamacpp.npz"
	done
done

for t in Q8_0 Q4_K_M Q6_K; do
	f=$SHARED/gpt2-small-q-$t.gguf
	if [ -f "$f" ]; then
		$PY $REF/quantized_goldens.py "$f" --text "$GPT2_TEXT" --out "$OUT/gpt2-small-q-$t.llamacpp.npz"
	else
		echo "skipping $f: not found" >&2
	fi
done
sha256sum "$OUT"/*.gguf
