#!/usr/bin/env bash
# Fashion-MNIST subset for the fine-tuning tests: PER_CLASS images (default 300)
# of each of the 10 classes from the training file of the Debian package
# dataset-fashion-mnist, written as 28x28 grayscale PNGs in one folder per class;
# beside it, DIR-test holds TEST_PER_CLASS images per class (default PER_CLASS/5)
# from the package's separate test file, for `zoo eval` on unseen images.
# Idempotent: each output is complete once its .done stamp exists, and is then
# left alone.
#
#   ZOO_DATA_DIR     where data sets go (default: .cache/data in the repository)
#   PER_CLASS        training images per class (default 300)
#   TEST_PER_CLASS   test images per class (default PER_CLASS/5)
#
# Prints the directory of the training class folders on stdout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
data_dir=${ZOO_DATA_DIR:-$repo/.cache/data}
per_class=${PER_CLASS:-300}
test_per_class=${TEST_PER_CLASS:-$((per_class / 5))}
out="$data_dir/fashion-mnist-$per_class"
test_out="$out-test"

if [[ -f "$out/.done" && -f "$test_out/.done" ]]; then
  echo "$out"
  exit 0
fi

pkg=dataset-fashion-mnist
if ! dpkg -s "$pkg" >/dev/null 2>&1; then
  echo "installing $pkg (apt-get)" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  # A fresh machine may have no package lists yet.
  "${sudo_cmd[@]}" apt-get install -y "$pkg" >&2 ||
    { "${sudo_cmd[@]}" apt-get update >&2 && "${sudo_cmd[@]}" apt-get install -y "$pkg" >&2; }
fi
# The package's file list, not a hard-coded path, says where the data lives.
idx_file() { dpkg -L "$pkg" | grep -E "/$1-idx[13]-ubyte\.gz\$" | head -n1; }

python=${ZOO_PYTHON:-python3}
if ! "$python" -c 'import PIL' 2>/dev/null; then
  echo "installing pillow (pip)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check pillow >&2
fi

# write SPLIT PER_CLASS DIR: the first PER_CLASS images per class of that file.
write() {
  local images labels
  images=$(idx_file "$1-images")
  labels=$(idx_file "$1-labels")
  [[ -f $images && -f $labels ]] || { echo "error: $pkg has no $1 files" >&2; exit 1; }
  [[ -f "$3/.done" ]] && return
  rm -rf "$3.tmp"
  "$python" "$(dirname "$0")/fashion_mnist.py" "$images" "$labels" "$2" "$3.tmp" >&2
  rm -rf "$3"
  mv "$3.tmp" "$3"
  touch "$3/.done"
}
write train "$per_class" "$out"
write t10k "$test_per_class" "$test_out"
echo "$out"
