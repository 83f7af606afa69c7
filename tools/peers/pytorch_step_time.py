#!/usr/bin/python3
"""Times one training step (forward, backward, SGD update) of parsity's networks in parsity and in PyTorch.

Both run in this one invocation on the same machine, with the same thread count, and the table gives the time per
step of each and the ratio parsity / PyTorch (below 1 means parsity is faster).

    bazel run //tools/peers:step_time_comparison -- --threads=1,2
    /usr/bin/python3 tools/peers/pytorch_step_time.py --parsity_benchmark=bazel-bin/training/trainer/training_step_benchmark

The networks are defined exactly as in PAPER.md: same layer shapes, same parameter counts (checked below), no batch
norm, NHWC data in parsity and NCHW in PyTorch (each library's native layout). PyTorch is Debian's python3-torch
(CPU); run with /usr/bin/python3.
"""

import argparse
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
    def __init__(self, in_channels, out_channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.extra_channels = out_channels - in_channels
        self.stride = stride

    def forward(self, x):
        shortcut = x
        if self.stride != 1:
            shortcut = F.avg_pool2d(shortcut, 2, 2)
        if self.extra_channels:
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, self.extra_channels))
        y = self.conv1(F.relu(x))
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


def time_pytorch_step(network_name, batch_size, threads, min_seconds):
    """Seconds per SGD step (forward, loss, backward, update), the median of repeated timed blocks."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = NETWORKS[network_name]()
    count = sum(p.numel() for p in model.parameters())
    if count != PARAMETER_COUNTS[network_name]:
        sys.exit(f"{network_name}: PyTorch model has {count} parameters, expected {PARAMETER_COUNTS[network_name]}")
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    inputs = torch.randn(batch_size, *INPUT_SHAPES[network_name])
    labels = torch.randint(0, 10, (batch_size,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    samples = []
    deadline = time.perf_counter() + min_seconds
    while len(samples) < 5 or time.perf_counter() < deadline:
        start = time.perf_counter()
        step()
        samples.append(time.perf_counter() - start)
    samples.sort()
    return samples[len(samples) // 2]


def run_parsity_benchmark(binary, networks, batch_sizes, threads_list, min_seconds):
    """Runs parsity's Google Benchmark binary and returns {(network, batch, threads): seconds per step}."""
    times = {}
    for threads in threads_list:
        pattern = (f"^TrainingStep/({'|'.join(networks)})/batch:({'|'.join(map(str, batch_sizes))})"
                   f"/threads:{threads}/")
        output = subprocess.run(
            [binary, "--benchmark_format=json", f"--benchmark_min_time={min_seconds}",
             f"--benchmark_filter={pattern}"],
            check=True, capture_output=True, text=True).stdout
        for run in json.loads(output)["benchmarks"]:
            # Names look like TrainingStep/simple_cnn/batch:128/threads:1.
            _, network, batch, thread_field = run["name"].split("/")[:4]
            unit = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[run["time_unit"]]
            times[(network, int(batch.split(":")[1]), int(thread_field.split(":")[1]))] = run["real_time"] * unit
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parsity_benchmark", required=True, help="path of training_step_benchmark")
    parser.add_argument("--networks", default="simple_cnn,resnet8,lenet_300_100")
    parser.add_argument("--batch_sizes", default="2,8,32,128,512,2048")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--min_seconds", type=float, default=1.0, help="minimum timing per configuration")
    parser.add_argument("--json_output", default="", help="also write the table as JSON here")
    args = parser.parse_args()
    networks = args.networks.split(",")
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    threads_list = [int(t) for t in args.threads.split(",")]

    parsity_times = run_parsity_benchmark(args.parsity_benchmark, networks, batch_sizes, threads_list,
                                         args.min_seconds)
    rows = []
    print(f"torch {torch.__version__}, {os.cpu_count()} cores; seconds per training step (forward+backward+SGD)")
    print(f"{'network':<15}{'batch':>7}{'threads':>9}{'parsity ms':>13}{'pytorch ms':>13}{'ratio':>8}")
    for threads in threads_list:
        for network in networks:
            for batch in batch_sizes:
                key = (network, batch, threads)
                if key not in parsity_times:
                    sys.exit(f"parsity's benchmark has no result for {key}")
                pytorch_seconds = time_pytorch_step(network, batch, threads, args.min_seconds)
                ratio = parsity_times[key] / pytorch_seconds
                rows.append({"network": network, "batch_size": batch, "threads": threads,
                             "parsity_seconds": parsity_times[key], "pytorch_seconds": pytorch_seconds,
                             "ratio": ratio})
                print(f"{network:<15}{batch:>7}{threads:>9}{parsity_times[key] * 1e3:>13.3f}"
                      f"{pytorch_seconds * 1e3:>13.3f}{ratio:>8.2f}", flush=True)
    slower = [r for r in rows if r["ratio"] >= 1.0]
    print(f"parsity faster in {len(rows) - len(slower)} of {len(rows)} configurations")
    if args.json_output:
        with open(args.json_output, "w") as out:
            json.dump(rows, out, indent=1)
    print(json.dumps({"configurations": len(rows), "parsity_faster": len(rows) - len(slower),
                      "max_ratio": max(r["ratio"] for r in rows), "min_ratio": min(r["ratio"] for r in rows)}))


if __name__ == "__main__":
    main()
