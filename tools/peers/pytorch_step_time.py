#!/usr/bin/python3
"""Times one training step (forward, backward, SGD update) of parsity's networks in parsity and in PyTorch.

Both run in this one invocation on the same machine, with the same thread count, for each network, sparsity, batch
size and thread count. PyTorch is timed twice per configuration, once with the reference BLAS (Debian's libblas3)
and once with OpenBLAS (Debian's libopenblas0-pthread, OPENBLAS_NUM_THREADS = the configuration's thread count), and
the table gives the time per step of parsity and of each, and the ratio parsity / the faster PyTorch (below 1 means
parsity is faster than PyTorch at its best). Without libopenblas0-pthread only the reference BLAS is timed.

    bazel run //tools/peers:step_time_comparison -- --threads=1,2 --sparsities=0,0.9
    /usr/bin/python3 tools/peers/pytorch_step_time.py --parsity_benchmark=bazel-bin/training/trainer/training_step_benchmark

Sparsity: parsity trains the pruned network with its own sparse kernels; its benchmark names are
TrainingStep/<network>/sparsity:<s>/batch:<B>/threads:<T> (an older binary without the sparsity field counts as
sparsity 0), and its counter speedup_over_dense, where reported, is shown. PyTorch trains it "masked-dense", as its
users do: a random 0/1 mask per weight and bias tensor keeps round(n * (1 - s)) of its n entries (torch.Generator
seeded 0), the parameters are multiplied by it once, and every timed step multiplies each gradient by its mask after
backward, before the SGD update. At sparsity 0 nothing is masked.

The networks are defined exactly as in experiments/PROTOCOL.md: same layer shapes, same parameter counts (checked
below), no batch norm, NHWC data in parsity and NCHW in PyTorch (each library's native layout). PyTorch is Debian's
python3-torch (CPU); run with /usr/bin/python3. Each BLAS is timed in a child process of this script
(--pytorch_worker) whose LD_LIBRARY_PATH puts that BLAS's libblas.so.3 first, whatever the system's libblas.so.3
alternative is; the child checks in /proc/self/maps which libblas.so.3 (and whether libopenblas) it really loaded, and
the script prints it. The OpenBLAS child runs without OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, so that OpenBLAS picks
its own kernels. PyTorch's convolutions run in oneDNN (MKL-DNN), not in the BLAS: the BLAS matters most for
LeNet-300-100. """

import argparse
import ctypes
import json
import os
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

PARAMETER_COUNTS = {"simple_cnn": 62346, "resnet8": 75050, "lenet_300_100": 266610}
INPUT_SHAPES = {"simple_cnn": (1, 28, 28), "resnet8": (3, 32, 32), "lenet_300_100": (1, 28, 28)}


class SimpleCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 5)
        self.conv2 = nn.Conv2d(32, 64, 5)
        self.fc = nn.Linear(1024, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))


class PreActivationBlock(nn.Module):
    """parsity's block (training/nn/networks.cc): r = relu(x); y = conv2(relu(conv1(r))) + shortcut, the shortcut x
    when the shape is kept, else avg_pool(r, 2, 2) with zero channels appended. A stride-2 convolution pads as
    TensorFlow's SAME does (0 before, 1 after); stride 1 pads 1 on every side."""

    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1 if stride == 1 else 0)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x):
        activated = F.relu(x)
        shortcut = x
        if self.stride != 1:
            shortcut = F.avg_pool2d(activated, 2, 2)
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        y = self.conv1(activated if self.stride == 1 else F.pad(activated, (0, 1, 0, 1)))
        y = self.conv2(F.relu(y))
        return y + shortcut


class ResNet8(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.blocks = nn.Sequential(
            PreActivationBlock(16, 16, 1), PreActivationBlock(16, 32, 2), PreActivationBlock(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.relu(self.blocks(self.stem(x)))
        return self.fc(torch.mean(x, dim=(2, 3)))


class LeNet300100(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x):
        x = torch.flatten(x, 1)
        return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))


NETWORKS = {"simple_cnn": SimpleCnn, "resnet8": ResNet8, "lenet_300_100": LeNet300100}


def make_masks(model, sparsity):
    """One random 0/1 mask per parameter tensor (weights and biases), keeping round(n * (1 - sparsity)) entries."""
    generator = torch.Generator().manual_seed(0)
    masks = []
    for parameter in model.parameters():
        count = parameter.numel()
        mask = torch.zeros(count)
        mask[torch.randperm(count, generator=generator)[:round(count * (1 - sparsity))]] = 1
        masks.append(mask.view_as(parameter))
    return masks


def time_pytorch_step(network_name, batch_size, sparsity, min_seconds):
    """Seconds per SGD step (forward, loss, backward, gradient masking, update), the median of repeated timings."""
    torch.manual_seed(0)
    model = NETWORKS[network_name]()
    count = sum(p.numel() for p in model.parameters())
    if count != PARAMETER_COUNTS[network_name]:
        sys.exit(f"{network_name}: PyTorch model has {count} parameters, expected {PARAMETER_COUNTS[network_name]}")
    masked = []
    if sparsity > 0:
        masked = list(zip(model.parameters(), make_masks(model, sparsity)))
        with torch.no_grad():
            for parameter, mask in masked:
                parameter.mul_(mask)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs = torch.randn(batch_size, *INPUT_SHAPES[network_name])
    labels = torch.randint(0, 10, (batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        for parameter, mask in masked:
            parameter.grad.mul_(mask)
        optimizer.step()

    for _ in range(3):
        step()
    samples = []
    deadline = time.perf_counter() + min_seconds
    while len(samples) < 5 or time.perf_counter() < deadline:
        start = time.perf_counter()
        step()
        samples.append(time.perf_counter() - start)
    # The pruned entries must still be exactly zero after all those steps, or the masking is wrong.
    if any(bool(parameter[mask == 0].any()) for parameter, mask in masked):
        sys.exit(f"{network_name} at sparsity {sparsity:g}: a masked parameter became nonzero")
    samples.sort()
    return samples[len(samples) // 2]


def loaded_blas():
    """(kind, description) of the BLAS this process really uses: "openblas" or "reference", from /proc/self/maps."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/" in line}
    blas = sorted(p for p in paths if os.path.basename(p).startswith("libblas.so"))
    openblas = sorted(p for p in paths if os.path.basename(p).startswith("libopenblas"))
    if len(blas) != 1:
        sys.exit(f"expected one libblas.so in this process, found {blas or 'none'}")
    if openblas and "openblas" in blas[0]:
        library = ctypes.CDLL(openblas[0])
        library.openblas_get_config.restype = ctypes.c_char_p
        library.openblas_get_corename.restype = ctypes.c_char_p
        config = library.openblas_get_config().decode().split()
        threads = library.openblas_get_num_threads()
        return "openblas", (f"{' '.join(config[:2])} ({library.openblas_get_corename().decode()} kernels, "
                            f"{threads} thread{'s' if threads > 1 else ''}) {blas[0]}")
    return "reference", f"reference BLAS {blas[0]}"


def pytorch_worker(expected_blas, threads):
    """The child process: reports its BLAS, then times each configuration it reads from stdin (JSON lines)."""
    torch.set_num_threads(threads)
    kind, description = loaded_blas()
    if kind != expected_blas:
        sys.exit(f"PyTorch worker: asked for BLAS {expected_blas!r} but loaded {description}")
    print(json.dumps({"torch": torch.__version__, "blas": description}), flush=True)
    for line in iter(sys.stdin.readline, ""):
        request = json.loads(line)
        seconds = time_pytorch_step(request["network"], request["batch_size"], request["sparsity"],
                                    request["min_seconds"])
        print(json.dumps({"seconds": seconds}), flush=True)


def blas_directory(package):
    """The directory holding the libblas.so.3 (or liblapack.so.3) of an installed Debian package, or None."""
    try:
        listing = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        return None
    for path in listing:
        if os.path.basename(path) in ("libblas.so.3", "liblapack.so.3") and os.path.exists(path):
            return os.path.dirname(path)
    return None


def worker_environments(threads):
    """{blas kind: environment of the PyTorch child that uses it} for the BLAS libraries installed here."""
    environments = {}
    directories = {"reference": [d for d in (blas_directory("libblas3"), blas_directory("liblapack3")) if d],
                   "openblas": [d for d in [blas_directory("libopenblas0-pthread")] if d]}
    for kind, library_path in directories.items():
        if not library_path:
            continue
        environment = dict(os.environ)
        environment["LD_LIBRARY_PATH"] = ":".join(library_path + [environment.get("LD_LIBRARY_PATH", "")]).rstrip(":")
        if kind == "openblas":
            environment["OPENBLAS_NUM_THREADS"] = str(threads)
            environment.pop("OPENBLAS_CORETYPE", None)
            environment.pop("OPENBLAS_L2_SIZE", None)
        environments[kind] = environment
    return environments


class PytorchWorker:
    """A child process that times PyTorch training steps with one BLAS and one thread count."""

    def __init__(self, kind, threads, environment):
        self.process = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), f"--pytorch_worker={kind}", f"--threads={threads}"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment, text=True)
        self.hello = self._read()

    def _read(self):
        line = self.process.stdout.readline()
        if not line:
            sys.exit(f"the PyTorch worker exited with status {self.process.wait()}")
        return json.loads(line)

    def time_step(self, network, batch_size, sparsity, min_seconds):
        self.process.stdin.write(json.dumps({"network": network, "batch_size": batch_size, "sparsity": sparsity,
                                             "min_seconds": min_seconds}) + "\n")
        self.process.stdin.flush()
        return self._read()["seconds"]

    def close(self):
        self.process.stdin.close()
        if self.process.wait():
            sys.exit(f"the PyTorch worker exited with status {self.process.returncode}")


def run_parsity_benchmark(binary, networks, sparsities, batch_sizes, threads_list, min_seconds):
    """Runs parsity's Google Benchmark binary; returns {(network, sparsity, batch, threads): (seconds, counters)}."""
    sparsity_pattern = "|".join(f"{s:g}".replace(".", r"\.") for s in sparsities)
    # A binary from before the sparsity field names only dense steps, so sparsity 0 also matches names without it.
    sparsity_field = f"(sparsity:({sparsity_pattern})/)" + ("?" if 0 in sparsities else "")
    results = {}
    for threads in threads_list:
        pattern = (f"^TrainingStep/({'|'.join(networks)})/{sparsity_field}batch:({'|'.join(map(str, batch_sizes))})"
                   f"/threads:{threads}/")
        output = subprocess.run(
            [binary, "--benchmark_format=json", f"--benchmark_min_time={min_seconds}",
             f"--benchmark_filter={pattern}"],
            check=True, capture_output=True, text=True).stdout
        for run in json.loads(output)["benchmarks"]:
            # Names look like TrainingStep/simple_cnn/sparsity:0.9/batch:128/threads:1/real_time, or without the
            # sparsity field from an older binary.
            network, *fields = run["name"].split("/")[1:]
            values = dict(field.split(":", 1) for field in fields if ":" in field)
            unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[run["time_unit"]]
            key = (network, float(values.get("sparsity", 0)), int(values["batch"]), int(values["threads"]))
            results[key] = (run["real_time"] * unit, run.get("speedup_over_dense"))
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parsity_benchmark", help="path of training_step_benchmark")
    parser.add_argument("--networks", default="simple_cnn,resnet8,lenet_300_100")
    parser.add_argument("--sparsities", default="0,0.5,0.7,0.9,0.95,0.98", help="fractions of pruned parameters")
    parser.add_argument("--batch_sizes", default="2,8,32,128,512,2048")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--min_seconds", type=float, default=1.0, help="minimum timing per configuration")
    parser.add_argument("--json_output", default="", help="also write the table as JSON here")
    parser.add_argument("--pytorch_worker", choices=["reference", "openblas"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    threads_list = [int(t) for t in args.threads.split(",")]
    if args.pytorch_worker:
        return pytorch_worker(args.pytorch_worker, threads_list[0])
    if not args.parsity_benchmark:
        parser.error("--parsity_benchmark is required")
    networks = args.networks.split(",")
    sparsities = [float(s) for s in args.sparsities.split(",")]
    if any(not 0 <= s < 1 for s in sparsities):
        parser.error("--sparsities must lie in [0, 1)")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]

    parsity_results = run_parsity_benchmark(args.parsity_benchmark, networks, sparsities, batch_sizes, threads_list,
                                            args.min_seconds)
    show_speedup = any(speedup is not None for _, speedup in parsity_results.values())
    rows = []
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; milliseconds per training step (forward+backward+SGD); "
          "ratio = parsity / the faster PyTorch" + ("; speedup = parsity's speedup_over_dense" if show_speedup else ""))
    if "openblas" not in worker_environments(1):
        print("OpenBLAS is not installed (apt-get install libopenblas0-pthread): timing the reference BLAS only")
    for threads in threads_list:
        environments = worker_environments(threads)
        if not environments:
            sys.exit("no BLAS found: neither libblas3 nor libopenblas0-pthread is installed")
        workers = {kind: PytorchWorker(kind, threads, environment) for kind, environment in environments.items()}
        blas = {kind: worker.hello["blas"] for kind, worker in workers.items()}
        for kind, description in blas.items():
            print(f"PyTorch, {threads} thread{'s' if threads > 1 else ''}, {kind}: {description}")
        print(f"{'network':<15}{'sparsity':>9}{'batch':>7}{'threads':>9}{'parsity ms':>12}"
              + (f"{'speedup':>9}" if show_speedup else "") + f"{'ref-BLAS ms':>13}{'OpenBLAS ms':>13}{'ratio':>8}")
        for network in networks:
            for sparsity in sparsities:
                for batch in batch_sizes:
                    key = (network, sparsity, batch, threads)
                    if key not in parsity_results:
                        sys.exit(f"parsity's benchmark has no result for {key}")
                    parsity_seconds, speedup = parsity_results[key]
                    pytorch = {kind: worker.time_step(network, batch, sparsity, args.min_seconds)
                               for kind, worker in workers.items()}
                    best_blas = min(pytorch, key=pytorch.get)
                    ratio = parsity_seconds / pytorch[best_blas]
                    rows.append({"network": network, "sparsity": sparsity, "batch_size": batch, "threads": threads,
                                 "parsity_seconds": parsity_seconds, "parsity_speedup_over_dense": speedup,
                                 "pytorch_reference_blas_seconds": pytorch.get("reference"),
                                 "pytorch_openblas_seconds": pytorch.get("openblas"),
                                 "pytorch_seconds": pytorch[best_blas], "pytorch_best_blas": best_blas,
                                 "pytorch_blas": blas, "ratio": ratio})
                    cells = {kind: f"{pytorch[kind] * 1e3:>13.3f}" if kind in pytorch else f"{'n/a':>13}"
                             for kind in ("reference", "openblas")}
                    speedup_cell = (f"{speedup:>9.2f}" if speedup is not None else f"{'-':>9}") if show_speedup else ""
                    print(f"{network:<15}{sparsity:>9g}{batch:>7}{threads:>9}{parsity_seconds * 1e3:>12.3f}"
                          f"{speedup_cell}{cells['reference']}{cells['openblas']}{ratio:>8.2f}", flush=True)
        for worker in workers.values():
            worker.close()
    slower = [r for r in rows if r["ratio"] >= 1.0]
    print(f"parsity faster in {len(rows) - len(slower)} of {len(rows)} configurations")
    if args.json_output:
        with open(args.json_output, "w") as out:
            json.dump(rows, out, indent=1)
    print(json.dumps({"configurations": len(rows), "parsity_faster": len(rows) - len(slower),
                      "max_ratio": max(r["ratio"] for r in rows), "min_ratio": min(r["ratio"] for r in rows),
                      "openblas_faster": sum(r["pytorch_best_blas"] == "openblas" for r in rows)}))


if __name__ == "__main__":
    main()
