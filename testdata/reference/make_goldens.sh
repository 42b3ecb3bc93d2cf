#!/bin/sh
# Regenerate the golden files in golden/ from the fixture models in testdata/,
# then compare reference.py with the oracle tools and write validation/.
#
# Needs /usr/bin/python3 with numpy and torch, INTERP_ORACLE set to the
# folder of the oracle tools (llamacpp_lib.py, llamacpp_logits.py, ref_tl.py,
# ref_patch.py) and LLAMA_LIB_DIR set to the folder of llama.cpp's libllama.
# Prompts are given as text and tokenized by llama.cpp; the ids are stored in
# every golden file.
set -eu
cd "$(dirname "$0")"
: "${INTERP_ORACLE:?set INTERP_ORACLE to the folder of the oracle tools}"
: "${LLAMA_LIB_DIR:?set LLAMA_LIB_DIR to the folder of libllama}"
PY=${PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p golden validation

SHORT="Hello"
LONG="In a hole in the ground there lived a hobbit. Not a nasty, dirty, wet hole, filled with the ends of worms and an oozy smell, nor yet a dry, bare, sandy hole"
TRACE_GPT2="The quick brown fox jumps over the lazy"
TRACE_LLAMA="The quick brown fox jumps"
CLEAN="When Mary and John went to the store, John gave a drink to"
CORRUPT="When Mary and John went to the store, Mary gave a drink to"
ANSWER=" Mary"
WRONG=" John"

# The demo task in testdata/demo.json must match llama.cpp's tokenization.
demo_ids=$($PY -c 'import json; d = json.load(open("../demo.json")); print(",".join(map(str, d["clean_ids"])), ",".join(map(str, d["corrupt_ids"])), d["answer_id"], d["wrong_id"])')
gpt2_ids="$($PY oracle.py tokenize ../gpt2-tiny.gguf "$CLEAN") $($PY oracle.py tokenize ../gpt2-tiny.gguf "$CORRUPT") $($PY oracle.py answer-id ../gpt2-tiny.gguf "$CLEAN" "$ANSWER") $($PY oracle.py answer-id ../gpt2-tiny.gguf "$CLEAN" "$WRONG")"
if [ "$demo_ids" != "$gpt2_ids" ]; then
	echo "testdata/demo.json ids ($demo_ids) differ from llama.cpp's tokenization ($gpt2_ids)" >&2
	exit 1
fi

for m in gpt2-tiny llama-tiny llama-tiny-q8; do
	model=../$m.gguf
	case $m in
	gpt2-*) trace_text=$TRACE_GPT2 ;;
	*) trace_text=$TRACE_LLAMA ;;
	esac
	short=$($PY oracle.py tokenize "$model" "$SHORT")
	long=$($PY oracle.py tokenize "$model" "$LONG")
	trace=$($PY oracle.py tokenize "$model" "$trace_text")
	clean=$($PY oracle.py tokenize "$model" "$CLEAN")
	corrupt=$($PY oracle.py tokenize "$model" "$CORRUPT")
	answer=$($PY oracle.py answer-id "$model" "$CLEAN" "$ANSWER")
	wrong=$($PY oracle.py answer-id "$model" "$CLEAN" "$WRONG")

	$PY reference.py logits "$model" --ids "$short" --ids "$long" --out "golden/$m.logits.npz"
	$PY reference.py trace "$model" --ids "$trace" --out "golden/$m.trace.npz"
	$PY reference.py patch "$model" --clean-ids "$clean" --corrupt-ids "$corrupt" \
		--answer-id "$answer" --wrong-id "$wrong" \
		--clean-text "$CLEAN" --corrupt-text "$CORRUPT" --answer-text "$ANSWER" --wrong-text "$WRONG" \
		--out "golden/$m.patch.json"

	i=0
	for ids in "$short" "$long"; do
		$PY "$INTERP_ORACLE/llamacpp_logits.py" "$model" --tokens "$ids" --all-positions --out "$TMP/$m.$i.npz"
		i=$((i + 1))
	done
	$PY reference.py pack-logits "$model" --ids "$short" --ids "$long" \
		--full "$TMP/$m.0.npz" --full "$TMP/$m.1.npz" --out "golden/$m.llamacpp.npz"

	$PY oracle.py compare "$model" --ids "$short" --ids "$long" --ids "$trace" \
		--clean-ids "$clean" --corrupt-ids "$corrupt" --answer-id "$answer" --wrong-id "$wrong" \
		--json "validation/$m.json"
done

# The Llama-family fixtures: logits from the reference and from llama.cpp,
# and a trace. Their synthetic byte-level vocabulary gives one token per
# byte, so llama.cpp's tokenizer serves them as it does the others.
for m in qwen2-tiny qwen3-tiny phi3-tiny gemma2-tiny mistral-tiny llama31-tiny; do
	model=../$m.gguf
	short=$($PY oracle.py tokenize "$model" "$SHORT")
	long=$($PY oracle.py tokenize "$model" "$LONG")
	trace=$($PY oracle.py tokenize "$model" "$TRACE_LLAMA")

	$PY reference.py logits "$model" --ids "$short" --ids "$long" --out "golden/$m.logits.npz"
	$PY reference.py trace "$model" --ids "$trace" --out "golden/$m.trace.npz"

	i=0
	for ids in "$short" "$long"; do
		$PY "$INTERP_ORACLE/llamacpp_logits.py" "$model" --tokens "$ids" --all-positions --out "$TMP/$m.$i.npz"
		i=$((i + 1))
	done
	$PY reference.py pack-logits "$model" --ids "$short" --ids "$long" \
		--full "$TMP/$m.0.npz" --full "$TMP/$m.1.npz" --out "golden/$m.llamacpp.npz"
done
