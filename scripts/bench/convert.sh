#!/usr/bin/env bash
# Benchmark: `zoo convert` on the all-MiniLM-L6-v2 safetensors checkpoint and on
# a ResNet-50 checkpoint (torchvision layout, random weights, 25.6M parameters;
# wall time and peak RSS from GNU time -v), and `zoo embed` throughput on Rotten
# Tomatoes reviews with the converted fp32 graph, with the int8 ONNX export
# (all-minilm-l6-v2-int8), and with the Python pipeline a user would write on the
# converted file (tokenizers + onnxruntime, texts grouped by length as zoo does;
# scripts/bench/predict_ref.py text-py-sorted). Each pipeline is a whole
# process, start-up and model load included; medians over ROUNDS. A parity line
# (zoo's fp32 embeddings against Python's on the same graph) comes from the
# untimed warm-up. min / median / max over ROUNDS; zoo / Python per round.
# Progress goes to stderr, a markdown table to stdout.
#
#   ROUNDS    timed rounds (default 5)
#   N_LINES   reviews to embed (default 0: all 3,000)
#   THREADS   ONNX Runtime threads for every pipeline (default 2)
#   ZOO_BIN   a zoo binary to use instead of building target/release/zoo
#   BENCH_OFFLINE=1  no pip, no `zoo runtime install` (ORT_DYLIB_PATH must name
#             the library), models pulled --offline from what the bench home holds
#
# Everything (a bench ZOO_HOME with the models and the conversion, the text,
# logs) is kept under .cache/bench/convert (ZOO_BENCH_DIR).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
N_LINES=${N_LINES:-0}
THREADS=${THREADS:-2}
TEXT_BATCH=32 # zoo embed's default batch
B=${ZOO_BENCH_DIR:-$PWD/.cache/bench/convert}
export ZOO_HOME=$B/home
logs=$B/logs
mkdir -p "$B" "$logs"
ref=(python3 scripts/bench/predict_ref.py)
[ -x /usr/bin/time ] || { echo "needs GNU time as /usr/bin/time (apt-get install time)" >&2; exit 1; }

# --- Setup (not timed) --------------------------------------------------------
# shellcheck source=scripts/bench/setup.sh
source scripts/bench/setup.sh
bench_setup "onnxruntime==1.31.1 numpy tokenizers" all-minilm-l6-v2 all-minilm-l6-v2-int8
checkpoint=$("$zoo" path all-minilm-l6-v2)

bench_lines

# The conversion zoo embed uses, in the store (its folder also links tokenizer.json,
# which is what predict_ref.py's text pipeline reads beside model.onnx).
"$zoo" convert all-minilm-l6-v2 --json > "$B/convert.json" 2> "$logs/convert-store.err"
converted=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["path"])' "$B/convert.json")
converted_dir=$(dirname "$converted")

# --- Measures -------------------------------------------------------------------
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A T

spread() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {printf "%s / %s / %s", a[1], a[int((NR+1)/2)], a[NR]}'; }

# A ResNet-50-sized checkpoint (not timed), as tests/convert writes them.
r50=$B/resnet50
[ -f "$r50/model.safetensors" ] || python3 tests/support/convert_ref.py resnet "$r50" tv 50 0 > /dev/null

# GNU time -v on one conversion of a checkpoint directory to a file: wall s,
# peak MiB, under T[<key>_s] and T[<key>_mib].
convert_once() {
  local key=$1 src=$2
  /usr/bin/time -v "$zoo" convert "$src" --out "$B/$key.onnx" --force \
    > /dev/null 2> "$logs/convert-$key.err" || { tail -5 "$logs/convert-$key.err" >&2; exit 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s}' "$logs/convert-$key.err")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$logs/convert-$key.err")
  T[${key}_s]="${T[${key}_s]:-} $wall"
  T[${key}_mib]="${T[${key}_mib]:-} $rss"
}

zoo_fp32() { "$zoo" embed all-minilm-l6-v2 --device cpu --file "$lines" --threads "$THREADS" --out "$B/fp32.safetensors"; }
zoo_int8() { "$zoo" embed all-minilm-l6-v2-int8 --device cpu --file "$lines" --threads "$THREADS" --out "$B/int8.safetensors"; }
py_fp32() { "${ref[@]}" text-py-sorted "$converted_dir" "$lines" "$TEXT_BATCH" "$THREADS"; }

timed() {
  local t0 t1
  t0=$EPOCHREALTIME
  if ! "$2" > /dev/null 2> "$logs/$1.err"; then
    echo "FAILED: $2 (see $logs/$1.err)" >&2
    tail -5 "$logs/$1.err" >&2
    exit 1
  fi
  t1=$EPOCHREALTIME
  T[$1]="${T[$1]:-} $(awk "BEGIN {printf \"%.3f\", $t1 - $t0}")"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "zoo: $zoo; text: $n_lines lines; threads $THREADS; rounds $ROUNDS" >&2

# Warm-up (not timed): page cache, session cache, parity of zoo and Python on the
# converted graph.
zoo_fp32 2> "$logs/warm-fp32.err"
zoo_int8 2> "$logs/warm-int8.err"
"${ref[@]}" text-py-sorted "$converted_dir" "$lines" "$TEXT_BATCH" "$THREADS" "$B/fp32.safetensors" \
  2> "$logs/parity.txt" > /dev/null
cat "$logs/parity.txt" >&2

for ((r = 1; r <= ROUNDS; r++)); do
  echo "round $r/$ROUNDS" >&2
  convert_once minilm "$checkpoint"
  convert_once resnet50 "$r50"
  timed zoo_fp32 zoo_fp32
  timed zoo_int8 zoo_int8
  timed py_fp32 py_fp32
  last() { tr ' ' '\n' | grep . | tail -1; }
  T[ratio]="${T[ratio]:-} $(awk "BEGIN {printf \"%.3f\", $(last <<<"${T[zoo_fp32]}") / $(last <<<"${T[py_fp32]}")}")"
done

rate() { awk "BEGIN {printf \"%.0f\", $n_lines / $1}"; }
fp32=$(median <<<"${T[zoo_fp32]}")
int8=$(median <<<"${T[zoo_int8]}")
py=$(median <<<"${T[py_fp32]}")
checkpoint_mib=$(awk "BEGIN {printf \"%.1f\", $(stat -L -c %s "$checkpoint/model.safetensors") / 1048576}")
r50_mib=$(awk "BEGIN {printf \"%.1f\", $(stat -L -c %s "$r50/model.safetensors") / 1048576}")

echo "| conversion, $ROUNDS rounds | checkpoint | wall time (s), min / median / max | peak RSS (MiB), min / median / max |"
echo "|---|---|---|---|"
echo "| all-MiniLM-L6-v2 | $checkpoint_mib MiB | $(spread <<<"${T[minilm_s]}") | $(spread <<<"${T[minilm_mib]}") |"
echo "| ResNet-50 (torchvision layout) | $r50_mib MiB | $(spread <<<"${T[resnet50_s]}") | $(spread <<<"${T[resnet50_mib]}") |"
echo
echo "| embed $n_lines reviews, $THREADS threads (whole process) | s, min / median / max | texts/s at the median |"
echo "|---|---|---|"
echo "| zoo embed, converted fp32 | $(spread <<<"${T[zoo_fp32]}") | $(rate "$fp32") |"
echo "| zoo embed, int8 export | $(spread <<<"${T[zoo_int8]}") | $(rate "$int8") |"
echo "| Python tokenizers + onnxruntime, converted fp32 | $(spread <<<"${T[py_fp32]}") | $(rate "$py") |"
echo
echo "zoo fp32 / Python fp32 wall time, per round: $(spread <<<"${T[ratio]}")"
