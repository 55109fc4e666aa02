#!/usr/bin/env bash
# Benchmark: `zoo info NAME`, `zoo list` and `zoo search TEXT` on a --registry
# directory of N cards (copies of the built-in cards, renamed, last modified an
# hour ago), with no catalog index (cold: the first command after the catalog
# index is removed) and with one (warm); after one card of N is edited (the
# index updates that card only); with the built-in catalog alone as the
# baseline; and, when ZOO_OLD names a zoo binary built without the index, with
# that binary on the same directory. Wall time in ms (min / median / max) and
# peak RSS (GNU time %M, the largest of the runs). Prints a markdown table.
#
#   ./scripts/bench/catalog.sh                    # N=10000, ROUNDS=7, COLD_ROUNDS=3
#   ZOO_OLD=/path/to/old/zoo ./scripts/bench/catalog.sh
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."
N=${N:-10000}
ROUNDS=${ROUNDS:-7}
COLD_ROUNDS=${COLD_ROUNDS:-3}
B=${ZOO_BENCH_DIR:-$PWD/.cache/bench/catalog}
[ -x /usr/bin/time ] || { echo "needs GNU time as /usr/bin/time (apt-get install time)" >&2; exit 1; }
[ -n "${SKIP_BUILD:-}" ] || cargo build --release --quiet -p zoo
zoo=${ZOO:-$PWD/target/release/zoo}
old=${ZOO_OLD:-}
mkdir -p "$B"

# The catalog: card i is built-in card (i mod 26) named <name>-c<i>, without
# its aliases (names and aliases are unique in a catalog).
reg=$B/registry-$N
if [ ! -f "$B/registry-$N.done" ]; then
  rm -rf "$reg"
  mkdir -p "$reg"
  python3 - "$reg" "$N" <<'EOF'
import pathlib, sys
out, n = pathlib.Path(sys.argv[1]), int(sys.argv[2])
cards = sorted(pathlib.Path("registry").glob("*.yaml"), key=lambda p: p.stem)
texts = [(p.stem, p.read_text().splitlines()) for p in cards]
for i in range(n):
    stem, lines = texts[i % len(texts)]
    name = f"{stem}-c{i}"
    body = [f"name: {name}" if l.startswith("name: ") else l
            for l in lines if not l.startswith("aliases:")]
    (out / f"{name}.yaml").write_text("\n".join(body) + "\n")
EOF
  find "$reg" -name '*.yaml' -exec touch -d '1 hour ago' {} +
  touch "$B/registry-$N.done"
fi
# A card from the middle; the built-in card it copies, for the baseline.
base=$(python3 -c "import pathlib; c=sorted(p.stem for p in pathlib.Path('registry').glob('*.yaml')); print(c[($N // 2) % len(c)])")
name=$base-c$((N / 2))
edited=$reg/$name.yaml
text=resnet50
home=$B/home
index=$home/cache/catalog-index

# One run: "<wall ms> <peak RSS KiB>"; stdout is discarded, a failure stops the script.
measure() {
  local t0 t1
  t0=$EPOCHREALTIME
  if ! /usr/bin/time -f '%M' -o "$B/rss" env ZOO_HOME="$home" "$@" >/dev/null 2>"$B/stderr"; then
    cat "$B/stderr" >&2
    exit 1
  fi
  t1=$EPOCHREALTIME
  echo "$(awk "BEGIN{printf \"%.1f\", ($t1 - $t0) * 1000}") $(tail -1 "$B/rss")"
}
# "min / median / max | peak MB" of lines "<ms> <KiB>".
summary() {
  sort -n | awk '{t[NR]=$1; if ($2 > m) m=$2}
    END {printf "%.1f / %.1f / %.1f | %.1f\n", t[1], t[int((NR+1)/2)], t[NR], m/1024}'
}
row() { # command-label catalog-label rounds lines...
  local cmd=$1 what=$2 n=$3
  shift 3
  echo "| \`$cmd\` | $what | $n | $(printf '%s\n' "$@" | summary) |"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
commands=("info $name" "list" "search $text")
echo "zoo: $zoo ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates zoo || echo ', uncommitted changes'))"
echo "catalog: $N cards in $reg ($(du -sh "$reg" | cut -f1)); load average before: $load_before"
echo
echo "| command | catalog | runs | wall ms, min / median / max | peak RSS MB |"
echo "|---|---|---|---|---|"
for c in "${commands[@]}"; do
  read -ra args <<<"$c"
  rm -rf "$home"
  lines=()
  read -ra builtin <<<"${c/$name/$base}"
  for _ in $(seq "$ROUNDS"); do lines+=("$(measure "$zoo" "${builtin[@]}")"); done
  row "zoo ${c/$name/$base}" "built-in only (26 cards)" "$ROUNDS" "${lines[@]}"

  lines=()
  for _ in $(seq "$COLD_ROUNDS"); do
    rm -rf "$index"
    lines+=("$(measure "$zoo" --registry "$reg" "${args[@]}")")
  done
  row "zoo $c" "$N cards, cold (no index)" "$COLD_ROUNDS" "${lines[@]}"

  lines=()
  for _ in $(seq "$ROUNDS"); do lines+=("$(measure "$zoo" --registry "$reg" "${args[@]}")"); done
  row "zoo $c" "$N cards, warm" "$ROUNDS" "${lines[@]}"

  lines=()
  for r in $(seq "$ROUNDS"); do
    touch -d "$((10 + r)) minutes ago" "$edited"
    lines+=("$(measure "$zoo" --registry "$reg" "${args[@]}")")
  done
  row "zoo $c" "$N cards, one card edited before each run" "$ROUNDS" "${lines[@]}"

  if [ -n "$old" ]; then
    lines=()
    for _ in $(seq "$COLD_ROUNDS"); do lines+=("$(measure "$old" --registry "$reg" "${args[@]}")"); done
    row "zoo $c" "$N cards, zoo without the index (ZOO_OLD)" "$COLD_ROUNDS" "${lines[@]}"
  fi
done
echo
echo "index: $(du -b "$index"/*.idx | cut -f1) bytes; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
