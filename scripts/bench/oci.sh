#!/usr/bin/env bash
# Benchmark: models through a real OCI registry (Debian's docker-registry,
# distribution 2.8.2, on 127.0.0.1 with its own config and storage).
#
# 1. A 1 GiB model (the pull benchmark's four safetensors files and a config):
#    `zoo push` against `skopeo copy oci:LAYOUT docker://...` (the same artifact,
#    written by `zoo export --oci-layout`), each into an empty registry; then
#    `zoo pull oci://` into an empty store against `skopeo copy docker://...
#    oci:DIR`. Every round runs all four back to back; ratios are per round.
# 2. Two fine-tunes of open_nsfw (10 Fashion-MNIST images of two classes each):
#    bytes and time of the first push against the second's (same registry,
#    --mount-from the first's repository).
# 3. A re-pull of a model already in the store: bytes of blobs transferred.
#
# Needs: scripts/test.sh run once (open_nsfw in .cache/test-home, Fashion-MNIST
# in .cache/data), `skopeo`, `/usr/bin/docker-registry`. ROUNDS (default 5).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
ROUNDS=${ROUNDS:-5}
B=${ZOO_BENCH_DIR:-$root/.cache/bench/oci}
pull_repo=$root/.cache/bench/pull/repos/bench/model
mkdir -p "$B"

cargo build --release --quiet -p zoo
zoo=$root/target/release/zoo
registry_bin=${ZOO_TEST_DOCKER_REGISTRY:-/usr/bin/docker-registry}
for tool in skopeo "$registry_bin"; do
  command -v "$tool" >/dev/null || { echo "bench/oci.sh: $tool is missing (scripts/test-tools.sh installs it)" >&2; exit 1; }
done

# The 1 GiB model, as in scripts/bench/pull.sh.
declare -A sizes=([model-00001.safetensors]=512 [model-00002.safetensors]=256 [model-00003.safetensors]=192 [model-00004.safetensors]=64)
mkdir -p "$pull_repo"
for f in "${!sizes[@]}"; do
  [ -f "$pull_repo/$f" ] || head -c $((sizes[$f] << 20)) /dev/urandom > "$pull_repo/$f"
done
echo '{"architectures": ["Bench"]}' > "$pull_repo/config.json"
catalog=$B/catalog; mkdir -p "$catalog"
{
  printf 'schema: 1\nname: bench\nversion: "1"\nfamily: bench\ntask: text-generation\narchitecture: Bench\ndescription: 1 GiB benchmark model.\nfiles:\n'
  for f in config.json "${!sizes[@]}"; do
    fmt=safetensors; [ "$f" = config.json ] && fmt=json
    printf '  - {path: %s, sha256: %s, size: %s, format: %s, role: weights}\n' \
      "$f" "$(sha256sum "$pull_repo/$f" | cut -d' ' -f1)" "$(stat -c %s "$pull_repo/$f")" "$fmt"
  done
  printf 'sources:\n  - file: {path: %s}\nlicense: {id: MIT}\nopenness: {class: open}\nprovenance: {organization: Bench}\n' "$pull_repo"
} > "$catalog/bench.yaml"

home_a=$B/home-a
export ZOO_REGISTRY=$catalog DOCKER_CONFIG=$B/docker XDG_CONFIG_HOME=$B/config
mkdir -p "$DOCKER_CONFIG"
a() { ZOO_HOME=$home_a HF_HUB_CACHE=$home_a/hf "$zoo" "$@"; }
a pull bench --quiet
rm -rf "$B/layout"
a export bench --oci-layout "$B/layout" --tag v1 --json >/dev/null
total=$(du -cb "$pull_repo"/* | tail -1 | cut -f1)

port=${ZOO_BENCH_REGISTRY_PORT:-5555}
host=127.0.0.1:$port
registry_pid=
start_registry() {
  stop_registry
  rm -rf "$B/storage"; mkdir -p "$B/storage"
  cat > "$B/registry.yml" <<EOF
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage:
  filesystem: {rootdirectory: $B/storage}
  delete: {enabled: true}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: "$host", secret: zoo-bench}
EOF
  "$registry_bin" serve "$B/registry.yml" > "$B/registry.log" 2>&1 &
  registry_pid=$!
  for _ in $(seq 100); do curl -sf "http://$host/v2/" >/dev/null && return; sleep 0.05; done
  echo "bench/oci.sh: the registry did not start; see $B/registry.log" >&2; exit 1
}
stop_registry() {
  if [ -n "$registry_pid" ]; then kill "$registry_pid" 2>/dev/null || true; wait "$registry_pid" 2>/dev/null || true; fi
  registry_pid=
}
trap stop_registry EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN{printf \"%.3f\\n\", $1}"; }
spread() { sort -n | awk '{a[NR]=$1} END {printf "%.3f / %.3f / %.3f\n", a[1], a[int((NR+1)/2)], a[NR]}'; }
# Each timed step starts with the disk quiet: the gigabytes the step before
# wrote (or deleted) are flushed first, so their write-back is not charged to
# whichever tool runs next.
timed() { sync; local t0; t0=$(now); "$@" >/dev/null; calc "$(now) - $t0"; }
# skopeo's blob-info cache would let it mount blobs it saw elsewhere: cleared.
skopeo_fresh() { rm -rf "${XDG_DATA_HOME:-$HOME/.local/share}/containers/cache"; }
transferred() { python3 -c 'import json,sys; r=json.load(sys.stdin); r=r if isinstance(r,list) else [r]; print(sum(f["outcome"].get("transferred",0) for m in r for f in m["files"]))'; }

# CPU seconds the registry process has used (utime + stime): a push cannot be
# faster than the registry takes to store and hash what it receives.
ticks=$(getconf CLK_TCK)
registry_cpu() { awk -v t="$ticks" '{printf "%.3f\n", ($14 + $15) / t}' "/proc/$registry_pid/stat"; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: > "$B/zoo-push.t"; : > "$B/skopeo-push.t"; : > "$B/zoo-push-registry.t"; : > "$B/skopeo-push-registry.t"; : > "$B/zoo-pull.t"; : > "$B/skopeo-pull.t"
for _ in $(seq "$ROUNDS"); do
  start_registry
  c0=$(registry_cpu)
  timed a push bench "$host/bench/zoo:v1" --quiet >> "$B/zoo-push.t"
  calc "$(registry_cpu) - $c0" >> "$B/zoo-push-registry.t"
  start_registry
  skopeo_fresh
  c0=$(registry_cpu)
  timed skopeo copy --quiet --dest-tls-verify=false "oci:$B/layout:v1" "docker://$host/bench/skopeo:v1" >> "$B/skopeo-push.t"
  calc "$(registry_cpu) - $c0" >> "$B/skopeo-push-registry.t"
  a push bench "$host/bench/zoo:v1" --quiet
  rm -rf "$B/home-b"
  timed env ZOO_HOME="$B/home-b" HF_HUB_CACHE="$B/home-b/hf" "$zoo" pull "oci://$host/bench/zoo:v1" --quiet >> "$B/zoo-pull.t"
  rm -rf "$B/skopeo-dir"; skopeo_fresh
  timed skopeo copy --quiet --src-tls-verify=false "docker://$host/bench/skopeo:v1" "oci:$B/skopeo-dir:v1" >> "$B/skopeo-pull.t"
done
paste "$B/zoo-push.t" "$B/skopeo-push.t" | awk '{printf "%.3f\n", $1 / $2}' > "$B/r-push.t"
paste "$B/zoo-pull.t" "$B/skopeo-pull.t" | awk '{printf "%.3f\n", $1 / $2}' > "$B/r-pull.t"

# Re-pull: everything is in B's store.
repull=$(ZOO_HOME="$B/home-b" HF_HUB_CACHE="$B/home-b/hf" "$zoo" pull "oci://$host/bench/zoo:v1" --json | transferred)

# Two fine-tunes of open_nsfw.
fine_tunes="not run: open_nsfw or Fashion-MNIST missing (run scripts/test.sh first)"
nsfw_dir=$(ZOO_HOME=$root/.cache/test-home HF_HUB_CACHE=$root/.cache/test-home/hf "$zoo" path open-nsfw 2>/dev/null || true)
mnist=$root/.cache/data/fashion-mnist-300
if [ -n "$nsfw_dir" ] && [ -d "$mnist" ]; then
  ft=$B/finetune; rm -rf "$ft"; mkdir -p "$ft/catalog/labels" "$ft/files"
  cp "$nsfw_dir/open-nsfw.onnx" "$ft/files/"
  cp registry/labels/open-nsfw.txt "$ft/catalog/labels/"
  python3 - "$root/registry/open-nsfw.yaml" "$ft/files" > "$ft/catalog/open-nsfw.yaml" <<'EOF'
import sys, yaml
card = yaml.safe_load(open(sys.argv[1]))
card["sources"] = [{"file": {"path": sys.argv[2]}}]
print(yaml.safe_dump(card, sort_keys=False))
EOF
  f() { ZOO_HOME=$ft/home HF_HUB_CACHE=$ft/home/hf ZOO_REGISTRY=$ft/catalog "$zoo" "$@"; }
  f pull open-nsfw --quiet
  for pair in "bags bag sandal" "tops coat shirt"; do
    set -- $pair
    for class in "$2" "$3"; do
      mkdir -p "$ft/data-$1/$class"
      ls "$mnist/$class" | sort | head -10 | while read -r img; do cp "$mnist/$class/$img" "$ft/data-$1/$class/"; done
    done
    f finetune open-nsfw --data "$ft/data-$1" --out "$1" --seed 0 --quiet >/dev/null
  done
  start_registry
  t0=$(now); first=$(f push bags "$host/team/bags:v1" --json); t_first=$(calc "$(now) - $t0")
  t0=$(now); second=$(f push tops "$host/team/tops:v1" --mount-from team/bags --json); t_second=$(calc "$(now) - $t0")
  sent() { python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["sent"], r["total"])'; }
  read -r s1 total1 < <(echo "$first" | sent)
  read -r s2 total2 < <(echo "$second" | sent)
  fine_tunes="| first fine-tune (bags) | $s1 of $total1 | $t_first |
| second fine-tune (tops, same base) | $s2 of $total2 | $t_second |

second push / first push, bytes sent: $(calc "$s2 / $s1")   (goal < 0.01)"
fi

echo "load average before the run: $load_before; $ROUNDS rounds; $total bytes"
echo
echo "| step | wall time (s), min / median / max |"
echo "|---|---|"
echo "| zoo push (1 GiB, empty registry) | $(spread < "$B/zoo-push.t") |"
echo "| skopeo copy oci:LAYOUT docker:// | $(spread < "$B/skopeo-push.t") |"
echo "| zoo pull oci:// (empty store, verified) | $(spread < "$B/zoo-pull.t") |"
echo "| skopeo copy docker:// oci:DIR | $(spread < "$B/skopeo-pull.t") |"
echo
echo "zoo push / skopeo, per round: $(spread < "$B/r-push.t")   (goal <= 0.8)"
echo "registry CPU seconds during a push: under zoo $(spread < "$B/zoo-push-registry.t"), under skopeo $(spread < "$B/skopeo-push-registry.t")"
echo "zoo pull / skopeo, per round: $(spread < "$B/r-pull.t")   (goal <= 0.8)"
echo "re-pull of a model in the store: $repull bytes of blobs transferred   (goal 0)"
echo
echo "| push | bytes sent of the artifact's | wall time (s) |"
echo "|---|---|---|"
echo "$fine_tunes"
