#!/usr/bin/env bash
# Download CIFAR-10 (python version) into this script's directory.
#
#   bash cs231n_lib/datasets/get_datasets.sh
#
# yields cs231n_lib/datasets/cifar-10-batches-py/ (about 180 MB), which
# cs231n_lib.data_utils finds without configuration. Safe to run again: it does
# nothing once the batches are there. The archive is checked against its
# published md5 before it is unpacked, and deleted afterwards.
#
# CIFAR10_URL and CIFAR10_MD5 override the source and its checksum (a mirror,
# or a local file:// archive in the tests).
set -euo pipefail

url="${CIFAR10_URL:-https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz}"
expected_md5="${CIFAR10_MD5:-c58f30108f718f92721af3b95e74349a}"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="$here/cifar-10-batches-py"
archive="$here/cifar-10-python.tar.gz"
files=(data_batch_1 data_batch_2 data_batch_3 data_batch_4 data_batch_5 test_batch)

have_all_batches() {
    local f
    for f in "${files[@]}"; do
        [[ -f "$target/$f" ]] || return 1
    done
}

md5_of() {
    if command -v md5sum >/dev/null 2>&1; then
        md5sum "$1" | cut -d ' ' -f 1
    else
        # macOS and minimal images lack md5sum; the kit needs Python anyway.
        python3 -c 'import hashlib, sys
h = hashlib.md5()
with open(sys.argv[1], "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
print(h.hexdigest())' "$1"
    fi
}

if have_all_batches; then
    echo "CIFAR-10 is already in $target; nothing to do."
    exit 0
fi

echo "Downloading $url"
# Download under a temporary name so an interrupted run never leaves a file
# that looks complete.
partial="$archive.part"
trap 'rm -f "$partial"' EXIT
if command -v curl >/dev/null 2>&1; then
    curl --fail --location --silent --show-error --retry 3 --output "$partial" "$url"
elif command -v wget >/dev/null 2>&1; then
    wget --quiet --tries=3 --output-document="$partial" "$url"
else
    echo "error: neither curl nor wget is installed; install one and run this script again." >&2
    exit 1
fi
mv "$partial" "$archive"

actual_md5="$(md5_of "$archive")"
if [[ "$actual_md5" != "$expected_md5" ]]; then
    rm -f "$archive"
    echo "error: md5 mismatch for $url: expected $expected_md5, got $actual_md5." >&2
    echo "The download is corrupt or not the CIFAR-10 python archive; it was deleted." >&2
    exit 1
fi
echo "Checked md5 $actual_md5"

tar -xzf "$archive" -C "$here"
rm -f "$archive"
if ! have_all_batches; then
    echo "error: the archive did not contain cifar-10-batches-py/ with ${files[*]}." >&2
    exit 1
fi
echo "Extracted CIFAR-10 into $target"
