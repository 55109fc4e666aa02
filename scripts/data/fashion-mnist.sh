#!/usr/bin/env bash
# Fashion-MNIST subset for the fine-tuning tests: PER_CLASS images (default 300)
# of each of the 10 classes from the Debian package dataset-fashion-mnist, written
# as 28x28 grayscale PNGs in one folder per class. Idempotent: the output is
# complete once its .done stamp exists, and is then left alone.
#
#   ZOO_DATA_DIR   where data sets go (default: .cache/data in the repository)
#   PER_CLASS      images per class (default 300)
#
# Prints the directory of the class folders on stdout.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
data_dir=${ZOO_DATA_DIR:-$repo/.cache/data}
per_class=${PER_CLASS:-300}
out="$data_dir/fashion-mnist-$per_class"

if [[ -f "$out/.done" ]]; then
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
images=$(dpkg -L "$pkg" | grep -E '/train-images-idx3-ubyte\.gz$' | head -n1)
labels=$(dpkg -L "$pkg" | grep -E '/train-labels-idx1-ubyte\.gz$' | head -n1)
[[ -f $images && -f $labels ]] || { echo "error: $pkg has no training files" >&2; exit 1; }

python=${ZOO_PYTHON:-python3}
if ! "$python" -c 'import PIL' 2>/dev/null; then
  echo "installing pillow (pip)" >&2
  "$python" -m pip install --quiet --disable-pip-version-check pillow >&2
fi

rm -rf "$out.tmp"
"$python" "$(dirname "$0")/fashion_mnist.py" "$images" "$labels" "$per_class" "$out.tmp" >&2
rm -rf "$out"
mv "$out.tmp" "$out"
touch "$out/.done"
echo "$out"
