#!/usr/bin/env bash
# Benchmark: inference with `zoo predict` (open-nsfw on a few hundred real JPEGs)
# and `zoo embed` (all-minilm-l6-v2-int8 on 3,000 Rotten Tomatoes reviews) against
# the Python pipeline a user would write instead (Pillow/tokenizers + numpy +
# onnxruntime 1.31.1, same threads, batch and preprocessing), against onnxruntime
# alone on already-prepared tensors (the ceiling for any pipeline), and zoo's cold
# start beyond the model's own load time. Goals (docs/performance.md):
#   images: zoo / Python >= 1.3, zoo / (onnxruntime on prepared tensors) >= 0.9
#   text:   zoo / Python >= 1.2
#   cold start: zoo's whole process minus the model's load < 0.5 s
# A parity check (zoo's outputs against Python's) runs in the untimed warm-up.
# Progress and parity go to stderr; markdown tables for docs/performance.md go to
# stdout.
#
#   ROUNDS    timed rounds per tool, tools alternating (default 3; medians reported)
#   N_IMAGES  JPEGs to generate (default 300)
#   N_LINES   reviews to embed (default 0: all 3,000)
#   ZOO_BIN   a zoo binary to use instead of building target/release/zoo
#   THREADS   ONNX Runtime threads for every pipeline (default 2, this project's
#             machine's cores; on a bigger machine, fewer threads than cores leave
#             zoo's decoders cores of their own)
#   BENCH_OFFLINE=1  a machine without package indexes: no pip install, no
#             `zoo runtime install` (ORT_DYLIB_PATH must name the library), models
#             pulled with --offline from what ZOO_BENCH_DIR/home already holds
#
# Everything (images, text, a bench ZOO_HOME with the models, the runtime and the
# optimized-session cache, logs) is kept under .cache/bench/predict.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
N_IMAGES=${N_IMAGES:-300}
N_LINES=${N_LINES:-0}
COLD=5          # cold-start repetitions
THREADS=${THREADS:-2}  # this project's machine has 2 cores
BATCH=8         # images per model run, zoo's default
TEXT_BATCH=32   # texts per model run, zoo embed's default (the command below relies on it)
B=${ZOO_BENCH_DIR:-$PWD/.cache/bench/predict}
export ZOO_HOME=$B/home
logs=$B/logs
mkdir -p "$B" "$logs"
ref=(python3 scripts/bench/predict_ref.py)
cores=$(nproc)
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- Setup (not timed). Failures are shown, not swallowed. -------------------
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
bench_setup "onnxruntime==1.31.1 numpy pillow tokenizers scikit-image" open-nsfw all-minilm-l6-v2-int8
nsfw=$("$zoo" path open-nsfw)/open-nsfw.onnx
minilm=$("$zoo" path all-minilm-l6-v2-int8)

# Images: generated once per count from scikit-image's bundled photos (the machine
# has no other source of real photos); deterministic, so reruns reuse them.
images=$B/images-$N_IMAGES
if [[ ! -f $images/.done ]]; then
  rm -rf "$images"
  "${ref[@]}" make-images "$images" "$N_IMAGES"
  touch "$images/.done"
fi
image_stats=$("${ref[@]}" image-stats "$images")
all=("$images"/*.jpg)
one=${all[0]}

# Text: one review per line, the first N_LINES of them if set.
bench_lines

# --- The pipelines, each one whole process (start-up and model load included) -
zoo_predict() { "$zoo" predict open-nsfw "$images" --device cpu --batch $BATCH --threads $THREADS --json; }
py_predict() { "${ref[@]}" images-py "$nsfw" "$images" $BATCH $THREADS; }
zoo_embed() { "$zoo" embed all-minilm-l6-v2-int8 --device cpu --file "$lines" --threads $THREADS --out "$B/zoo.safetensors"; }
py_embed() { "${ref[@]}" text-py "$minilm" "$lines" $TEXT_BATCH $THREADS; }
# Python batching by length like zoo: shows how much of zoo's lead is less padding.
py_embed_sorted() { "${ref[@]}" text-py-sorted "$minilm" "$lines" $TEXT_BATCH $THREADS; }
zoo_one() { "$zoo" predict open-nsfw "$one" --device cpu --json; }

# timed NAME FUNC: the wall time (s) of FUNC; stdout discarded, stderr kept in
# logs/NAME.err. A failure stops the bench rather than timing an error.
timed() {
  local t0 t1
  t0=$(date +%s.%N)
  if ! "$2" > /dev/null 2> "$logs/$1.err"; then
    echo "FAILED: $2 (see $logs/$1.err)" >&2
    tail -5 "$logs/$1.err" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  awk "BEGIN{printf \"%.3f\", $t1 - $t0}"
}
# Samples per measure, space separated.
declare -A T
record() { T[$1]="${T[$1]:-} $2"; }
last() { awk '{print $NF}' <<<"${T[$1]}"; }

machine="$cores cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
zoo_rev=${ZOO_REV:-"$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- zoo crates 2>/dev/null || echo ' + uncommitted changes in zoo/ crates/')"}
versions=$("${ref[@]}" versions)
load_before=$(loadavg)
{
  echo "machine: $machine, $(date -u +%Y-%m-%d)"
  echo "zoo: $zoo ($zoo_rev); Python: $versions"
  echo "images: $image_stats; text: $n_lines lines"
  echo "load average before: $load_before"
} >&2

# --- Warm-up (not timed): page cache, zoo's optimized-session cache, parity ----
"$zoo" predict open-nsfw "$images" --device cpu --batch $BATCH --threads $THREADS --json \
  > "$B/zoo.jsonl" 2> "$logs/warm-zoo-predict.err"
"${ref[@]}" images-py "$nsfw" "$images" $BATCH $THREADS "$B/zoo.jsonl" \
  2> "$logs/parity-images.txt" > /dev/null
"$zoo" embed all-minilm-l6-v2-int8 --device cpu --file "$lines" --threads $THREADS \
  --out "$B/zoo.safetensors" 2> "$logs/warm-zoo-embed.err"
"${ref[@]}" text-py "$minilm" "$lines" $TEXT_BATCH $THREADS "$B/zoo.safetensors" \
  2> "$logs/parity-text.txt" > /dev/null
"${ref[@]}" text-py-sorted "$minilm" "$lines" $TEXT_BATCH $THREADS "$B/zoo.safetensors" \
  2> "$logs/parity-text-sorted.txt" > /dev/null
parity=$(cat "$logs/parity-images.txt" "$logs/parity-text.txt" "$logs/parity-text-sorted.txt")
echo "$parity" >&2

# --- Timed rounds: tools alternate, and every other round runs them in reverse
# order, so that neither side always runs first (after the other's I/O, or
# while a neighbour's build ramps up or down).
steps=(zoo_predict py_predict zoo_embed py_embed py_embed_sorted)
for r in $(seq "$ROUNDS"); do
  order=("${steps[@]}")
  ((r % 2)) || order=(py_embed_sorted py_embed zoo_embed py_predict zoo_predict)
  for s in "${order[@]}"; do
    t=$(timed "$s" "$s")
    record "$s" "$t"
    # zoo's own time for the pipeline (decode + preprocess + inference), after
    # start-up and the model's load: the like-for-like peer of onnxruntime alone.
    if [[ $s == zoo_predict ]]; then
      record zoo_inproc "$(sed -n 's/.* image(s) in \([0-9.]*\) s,.*/\1/p' "$logs/zoo_predict.err")"
    fi
  done
  echo "round $r: predict zoo $(last zoo_predict) s, Python $(last py_predict) s;" \
    "embed zoo $(last zoo_embed) s, Python $(last py_embed) s, Python by length" \
    "$(last py_embed_sorted) s; load average $(loadavg)" >&2
done

# onnxruntime alone: one process, all batches prepared first, one warm-up run,
# then ROUNDS timed passes (in-process time: no start-up, no session creation).
ort_out=$("${ref[@]}" images-ort "$nsfw" "$images" $BATCH $THREADS "$ROUNDS")
while read -r secs _; do record ort_prepared "$secs"; done <<<"$ort_out"
echo "onnxruntime on prepared tensors:${T[ort_prepared]} s; load $(loadavg)" >&2

# --- Cold start: one image, whole process, caches warm (zoo's optimized model is
# cached, the files are in the page cache). zoo prints no timings, so the model's
# own load is measured in Python onnxruntime with zoo's threads (every core):
# opening zoo's cached optimized model with the optimizers off (what zoo does),
# and, for reference, the original model with full optimization (what a fresh
# Python session does). The first is subtracted: the stricter measure.
sha=$(sha256sum "$nsfw" | cut -d' ' -f1)
optimized=("$ZOO_HOME"/cache/sessions/"$sha"-*-cpu.onnx)
[[ -f ${optimized[0]} ]] || { echo "no optimized model for $sha in $ZOO_HOME/cache/sessions" >&2; exit 1; }
for _ in $(seq $COLD); do
  t=$(timed zoo_one zoo_one); record cold "$t"
  t=$("${ref[@]}" load "${optimized[0]}" "$cores" optimized); record load_cached "${t%% *}"
  t=$("${ref[@]}" load "$nsfw" "$cores"); record load_fresh "${t%% *}"
done
echo "cold start: zoo${T[cold]} s; load (cached optimized)${T[load_cached]} s; load (original)${T[load_fresh]} s" >&2
load_after=$(loadavg)
echo "load average after: $load_after" >&2

# --- Report --------------------------------------------------------------------
med() { tr ' ' '\n' <<<"${T[$1]}" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
best() { tr ' ' '\n' <<<"${T[$1]}" | grep . | sort -n | head -1; }
span() { tr ' ' '\n' <<<"${T[$1]}" | grep . | sort -n | awk 'NR==1{lo=$1} {hi=$1} END {print lo " to " hi}'; }
calc() { awk "BEGIN{printf \"$1\", $2}"; }
row() { echo "| $1 | \`$2\` | $(med "$3") | $(best "$3") | $(calc %.1f "$4 / $(med "$3")") |"; }
cmd="ROUNDS=$ROUNDS N_IMAGES=$N_IMAGES"
((THREADS == 2)) || cmd+=" THREADS=$THREADS"
((N_LINES == 0)) || cmd+=" N_LINES=$N_LINES"
cmd+=" ./scripts/bench/predict.sh"

cat <<EOF
Command: \`$cmd\` (release build of zoo $zoo_rev; $versions).
Machine: $machine; $(date -u +%Y-%m-%d); load average (1/5/15 min) before: $load_before, after: $load_after.
Images: $image_stats. Text: $n_lines Rotten Tomatoes reviews.

### Images: open-nsfw, $N_IMAGES JPEGs, batch $BATCH, $THREADS threads

| pipeline | command | wall time (s, median of $ROUNDS) | best (s) | images/s (median) |
|---|---|---|---|---|
$(row "zoo (whole process)" "zoo predict open-nsfw DIR --device cpu --batch $BATCH --threads $THREADS --json >/dev/null" zoo_predict "$N_IMAGES")
$(row "Python: Pillow + numpy + onnxruntime (whole process)" "python3 scripts/bench/predict_ref.py images-py MODEL DIR $BATCH $THREADS" py_predict "$N_IMAGES")
$(row "zoo in process: decode + preprocess + inference, after start-up and model load (zoo's summary line)" "same run" zoo_inproc "$N_IMAGES")
$(row "onnxruntime alone on prepared tensors (inference only)" "python3 scripts/bench/predict_ref.py images-ort MODEL DIR $BATCH $THREADS $ROUNDS" ort_prepared "$N_IMAGES")

- zoo / Python = **$(calc %.2f "$(med py_predict) / $(med zoo_predict)")** (goal ≥ 1.3)
- zoo / (onnxruntime on prepared tensors) = **$(calc %.2f "$(med ort_prepared) / $(med zoo_predict)")** whole process, **$(calc %.2f "$(med ort_prepared) / $(med zoo_inproc)")** in process (goal ≥ 0.9)
- spread: zoo $(span zoo_predict) s, Python $(span py_predict) s, onnxruntime alone $(span ort_prepared) s

### Text: all-minilm-l6-v2-int8, $n_lines sentences, batch $TEXT_BATCH, $THREADS threads

| pipeline | command | wall time (s, median of $ROUNDS) | best (s) | sentences/s (median) |
|---|---|---|---|---|
$(row "zoo (whole process)" "zoo embed all-minilm-l6-v2-int8 --device cpu --file lines.txt --threads $THREADS --out x.safetensors" zoo_embed "$n_lines")
$(row "Python: tokenizers + onnxruntime, batches in file order, mean pool + L2 (whole process)" "python3 scripts/bench/predict_ref.py text-py MODEL_DIR lines.txt $TEXT_BATCH $THREADS" py_embed "$n_lines")
$(row "Python as above, batches grouped by token count like zoo (whole process)" "python3 scripts/bench/predict_ref.py text-py-sorted MODEL_DIR lines.txt $TEXT_BATCH $THREADS" py_embed_sorted "$n_lines")

- zoo / Python = **$(calc %.2f "$(med py_embed) / $(med zoo_embed)")** (goal ≥ 1.2)
- zoo / Python grouped by length = $(calc %.2f "$(med py_embed_sorted) / $(med zoo_embed)")

### Cold start: one image

| measure | command | median of $COLD (s) |
|---|---|---|
| zoo, whole process | \`zoo predict open-nsfw one.jpg --device cpu --json\` | $(med cold) |
| open-nsfw's load as zoo does it: onnxruntime session on zoo's cached optimized model, optimizers off (Python, after import) | \`python3 scripts/bench/predict_ref.py load CACHED_MODEL $cores optimized\` | $(med load_cached) |
| open-nsfw's load from scratch: session on the original model, full optimization (Python, after import) | \`python3 scripts/bench/predict_ref.py load MODEL $cores\` | $(med load_fresh) |

- zoo beyond the model's load = **$(calc %.3f "$(med cold) - $(med load_cached)") s** (goal < 0.5)

### Parity (warm-up run)

\`\`\`
$parity
\`\`\`
EOF
