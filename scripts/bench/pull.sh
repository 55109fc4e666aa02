#!/usr/bin/env bash
# Benchmark: pull a ~1 GiB repo of several files from the local Hugging Face-compatible
# server with zoo, with Python huggingface_hub (`hf download` + `hf cache verify`,
# since Python does not hash while downloading), and with plain curl; then zoo's
# hashing throughput (`zoo verify`). Each tool runs ROUNDS times, alternating; the
# median is reported. Results are printed as a markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5}
B=${ZOO_BENCH_DIR:-$PWD/.cache/bench/pull}
repo=$B/repos/bench/model
mkdir -p "$repo"

python3 -m pip install --quiet --disable-pip-version-check huggingface_hub >/dev/null
cargo build --release --quiet -p zoo -p zoo-test-support --bins
zoo=$PWD/target/release/zoo

# 1 GiB: one large file (fetched in parallel ranges), two medium, one small, a config.
declare -A sizes=([model-00001.safetensors]=512 [model-00002.safetensors]=256 [model-00003.safetensors]=192 [model-00004.safetensors]=64)
for f in "${!sizes[@]}"; do
  [ -f "$repo/$f" ] || head -c $((sizes[$f] << 20)) /dev/urandom > "$repo/$f"
done
echo '{"architectures": ["Bench"]}' > "$repo/config.json"

server_log=$B/server.out
# PIN=1 gives the server one core and every client the other, as a remote server
# would be: the client's own cost then shows apart from the server's.
server_cpu=(); client_cpu=()
if [ "${PIN:-0}" = 1 ]; then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
"${server_cpu[@]}" ./target/release/zoo-hf-server --root "$B/repos" > "$server_log" 2>/dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q endpoint= "$server_log" && break; sleep 0.1; done
endpoint=$(sed -n 's/^endpoint=//p' "$server_log")

catalog=$B/catalog; mkdir -p "$catalog"
{
  printf 'schema: 1\nname: bench\nversion: "1"\nfamily: bench\ntask: text-generation\narchitecture: Bench\ndescription: 1 GiB benchmark repo.\nfiles:\n'
  for f in config.json "${!sizes[@]}"; do
    fmt=safetensors; [ "$f" = config.json ] && fmt=json
    printf '  - {path: %s, sha256: %s, size: %s, format: %s, role: weights}\n' \
      "$f" "$(sha256sum "$repo/$f" | cut -d' ' -f1)" "$(stat -c %s "$repo/$f")" "$fmt"
  done
  printf 'sources:\n  - hf: {repo: bench/model, revision: main}\nlicense: {id: MIT}\nopenness: {class: open}\nprovenance: {organization: Bench}\n'
} > "$catalog/bench.yaml"
total=$(du -cb "$repo"/* | tail -1 | cut -f1)

now() { date +%s.%N; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
calc() { awk "BEGIN{printf \"%.3f\\n\", $1}"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# "min / median / max" of one number per line.
spread() { sort -n | awk '{a[NR]=$1} END {printf "%.3f / %.3f / %.3f\n", a[1], a[int((NR+1)/2)], a[NR]}'; }

run_zoo() {
  rm -rf "$B/zoo-home" "$B/zoo-hf"
  local t0; t0=$(now)
  ZOO_HOME=$B/zoo-home HF_HUB_CACHE=$B/zoo-hf HF_ENDPOINT=$endpoint ZOO_REGISTRY=$catalog "${client_cpu[@]}" "$zoo" pull bench --quiet
  calc "$(now) - $t0"
}
run_python() {
  rm -rf "$B/py-hf"
  local t0 t1; t0=$(now)
  HF_HUB_CACHE=$B/py-hf HF_ENDPOINT=$endpoint HF_HUB_DISABLE_TELEMETRY=1 "${client_cpu[@]}" hf download bench/model --quiet >/dev/null
  t1=$(now)
  HF_HUB_CACHE=$B/py-hf HF_ENDPOINT=$endpoint "${client_cpu[@]}" hf cache verify bench/model --cache-dir "$B/py-hf" >/dev/null
  echo "$(calc "$t1 - $t0") $(calc "$(now) - $t0")"
}
run_curl() {
  rm -rf "$B/curl"; mkdir -p "$B/curl"
  local t0; t0=$(now)
  for f in config.json "${!sizes[@]}"; do
    "${client_cpu[@]}" curl -sSfL -o "$B/curl/$f" "$endpoint/bench/model/resolve/main/$f"
  done
  calc "$(now) - $t0"
}

: > "$B/zoo.t"; : > "$B/py.t"; : > "$B/pyv.t"; : > "$B/curl.t"
for _ in $(seq "$ROUNDS"); do
  run_zoo >> "$B/zoo.t"
  read -r dl dlv < <(run_python); echo "$dl" >> "$B/py.t"; echo "$dlv" >> "$B/pyv.t"
  run_curl >> "$B/curl.t"
done
t0=$(now)
ZOO_HOME=$B/zoo-home HF_HUB_CACHE=$B/zoo-hf ZOO_REGISTRY=$catalog "$zoo" verify bench >/dev/null
t_hash=$(calc "$(now) - $t0")

# Where the client's time goes: CPU seconds (user + sys) of one more zoo pull
# and one more curl run. With PIN=1 the client has one core, so its wall time
# cannot fall below its CPU time: zoo's floor is receiving like curl plus
# hashing every byte once.
cpu_of() { /usr/bin/time -f '%U %S' -o "$B/cpu.t" "$@" >/dev/null 2>&1; awk '{printf "%.3f", $1 + $2}' "$B/cpu.t"; }
rm -rf "$B/zoo-home" "$B/zoo-hf"
zoo_cpu=$(cpu_of env ZOO_HOME="$B/zoo-home" HF_HUB_CACHE="$B/zoo-hf" HF_ENDPOINT="$endpoint" ZOO_REGISTRY="$catalog" "${client_cpu[@]}" "$zoo" pull bench --quiet)
rm -rf "$B/curl"; mkdir -p "$B/curl"
curl_args=(); for f in config.json "${!sizes[@]}"; do curl_args+=(-o "$B/curl/$f" "$endpoint/bench/model/resolve/main/$f"); done
curl_cpu=$(cpu_of "${client_cpu[@]}" curl -sSfL "${curl_args[@]}")

zoo_t=$(median < "$B/zoo.t"); py_t=$(median < "$B/py.t"); pyv_t=$(median < "$B/pyv.t"); curl_t=$(median < "$B/curl.t")
gb() { awk "BEGIN{printf \"%.2f\", $total / $1 / 1e9}"; }
# Ratios are taken round by round (each round runs every tool back to back), so
# machine drift between rounds does not enter them.
paste "$B/zoo.t" "$B/curl.t" | awk '{printf "%.3f\n", $2 / $1}' > "$B/r-curl.t"
paste "$B/zoo.t" "$B/pyv.t" | awk '{printf "%.3f\n", $1 / $2}' > "$B/r-py.t"
echo "load average before the run: $load_before; pinned: ${PIN:-0}"
echo
echo "| tool | wall time (s), min / median / max of $ROUNDS | throughput at the median (GB/s) |"
echo "|---|---|---|"
echo "| zoo pull (verified) | $(spread < "$B/zoo.t") | $(gb "$zoo_t") |"
echo "| hf download (not verified) | $(spread < "$B/py.t") | $(gb "$py_t") |"
echo "| hf download + hf cache verify | $(spread < "$B/pyv.t") | $(gb "$pyv_t") |"
echo "| curl, file by file (not verified) | $(spread < "$B/curl.t") | $(gb "$curl_t") |"
echo "| zoo verify (re-hash $total bytes) | $t_hash | $(gb "$t_hash") |"
echo
echo "zoo throughput / curl throughput, per round: $(spread < "$B/r-curl.t")   (goal >= 0.9)"
echo "zoo / (hf download + verify), per round: $(spread < "$B/r-py.t")   (goal <= 0.7)"
echo "zoo hashing = $(gb "$t_hash") GB/s   (goal >= 1.2)"
echo "client CPU seconds (user + sys), one more run each: zoo $zoo_cpu, curl $curl_cpu (zoo verify's re-hash alone: $t_hash s wall)"
