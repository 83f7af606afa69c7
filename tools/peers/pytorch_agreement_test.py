#!/usr/bin/python3
"""Peer agreement test: parsity and PyTorch compute the same things from the same inputs.

    /usr/bin/python3 tools/peers/pytorch_agreement_test.py DUMP_DIR...      (run by pytorch_agreement_test.sh)
    /usr/bin/python3 tools/peers/pytorch_agreement_test.py --mutations DUMP_DIR...

Each DUMP_DIR holds what tools/peers/agreement_dump wrote for one network: the parameter layout, parameters, examples
and everything parsity computed from them (see agreement_dump.cc). This script rebuilds the network in PyTorch
(Debian's python3-torch, CPU, one thread) from its definition in training/nn/networks.cc, copies the parameters
into it, recomputes every quantity in float32 (T32) and in float64 (T64), and checks parsity's float32 results (P)
against T64, the closest thing to exact arithmetic on the same inputs. T32, PyTorch's own float32 error, is printed
beside P's: the two are of the same size throughout. No value is taken from parsity except its inputs and the mask
under which the masked SGD runs (which is checked on its own).

The PyTorch networks (checked against networks.cc; tools/peers/pytorch_step_time.py differs in two places that do
not matter for timing, see README.md):
- layouts: parsity stores conv weights HWIO ([ky][kx][in][out], row-major) and FC weights [in][out]; PyTorch wants
  OIHW and [out][in]. Activations are NHWC in parsity, so the flatten before an FC layer reads HWC order: the
  PyTorch models permute NCHW -> NHWC before flattening (for Simple-CNN's fc; LeNet's input has one channel).
- SAME padding is TensorFlow's: total max((out - 1) s + k - in, 0), the smaller half before. For ResNet-8's stride-2
  3x3 convolutions on even sizes that is 0 before and 1 after (PyTorch's padding=1 would pad both sides).
- ResNet-8 blocks are pre-activation: r = relu(x); y = conv2(relu(conv1(r))) + shortcut, where the shortcut is x
  when the shape is kept and, when it changes, avg_pool2d(r, 2, 2) (of the ACTIVATED input) followed by zero
  channels appended after the pooled ones; then relu, global mean, fc.
- Simple-CNN: conv 5x5 VALID, max-pool 2x2 (the first maximum of a window, as PyTorch's), relu, as parsity runs it
  (ReLU and max-pooling commute; the --mutations control checks the other order passes too).

TOLERANCES. u = 2^-24 ~ 6e-8 is float32's unit roundoff (eps = 2u). A float32 sum of n terms carries a rounding
error of about u sqrt(n) (random-walk growth, up to u n in the worst case) relative to the sum of the terms'
magnitudes, and relative to the sum itself that is multiplied by the cancellation ratio sum|t| / |sum t|.
- Loss, relative: 1e-5. The logits are float32 dot products of up to 1,024 terms (u sqrt(n) ~ 2e-6); parsity then
  works in double. Measured (seeds 1-6): P <= 1.7e-7, T32 of the same size.
- Gradient (batch of 16), relative L2 over the whole buffer: 1e-5; over each view: 1e-4. Weight gradients are sums
  over examples and pixels, up to 16 x 32 x 32 = 16,384 terms per entry (ResNet-8's first layers): u sqrt(n) ~ 8e-6
  worst typical case. A single view can suffer cancellation (a bias gradient of a late layer is a sum of terms of
  both signs), which can raise its relative error 10x above the whole buffer's. Measured (seeds 1-6, dense and
  masked): P <= 1e-6 whole, 4.1e-6 per view, within a factor 2 of T32 everywhere.
- SNIP sensitivity g = w * sum_B (mean gradient of batch B), relative L2: 1e-4, and per entry |dg_j| <= 2e-4 x the
  RMS of g over j's view. Each batch's gradient sums up to 100 x 32 x 32 = 102,400 terms in float32 (u sqrt(n) ~
  2e-5), then parsity sums batches and multiplies by w in double. Measured (seeds 1-6, after the flips below):
  P <= 1.0e-6 whole, 3.3e-5 per entry; T32 the same where it took no flip of its own.
- Branch flips. ReLU and max-pool decide per unit; a unit whose pre-activation (or whose window's top-two gap)
  lies within float32 rounding of the kink can go either way in float32, and the gradient then differs by that
  unit's whole contribution, far above the tolerances above (measured: 1.2e-4 and 4e-4 of g over the 256-example
  SNIP sample, e.g. example 149's conv2 channel 2 of Simple-CNN with seed 4: exact pre-activation +8.5e-8, parsity's
  float32 <= 0, PyTorch's float32 > 0; the same happens to PyTorch's float32 against float64). Such a difference is
  accepted only when it is EXPLAINED: the units within 1e-5 x their site's RMS of a kink are listed in float64, each
  one's effect (the float64 gradient with that one branch taken the other way, minus without) is computed, and
  flips are added to the float64 reference while each halves the distance to parsity's result; the check then
  applies the tight tolerances above to the rest, and prints the flips it used. A wrong computation is not a handful
  of near-kink flips, so it still fails (see --mutations).
- Masks are sets and are compared exactly where the scores decide them: parsity's mask must equal the global top-k
  (k = round(N (1 - s)), higher score first, lower buffer index first among equal scores) of parsity's own scores,
  bit for bit; against the mask that the float64 scores select, an entry may disagree only if its score lies within
  twice the per-entry score tolerance of the threshold, and at most 0.1% of the kept entries may (measured: none).
  The tie mask (biases zero as parsity initializes them, the cut inside the block of exactly-zero scores) must equal
  the selection on PyTorch's float32 scores exactly, zero scores being exact zeros in any precision.
- One SGD step: ||P1 - T64_1|| <= 1e-5 ||T64_1 - w0|| + u ||T64_1||: the gradient's error times the learning rate
  (the gradient tolerance) plus the float32 rounding of the new parameters (at most u |w| per entry). A learning
  rate off by 0.1% would exceed it several times over. Measured: 1.4e-6 to 8.6e-5 of the step, P and T32 alike:
  mostly that rounding.
- 100 SGD steps, dense and masked: ||P100 - T64_100|| <= 2e-2 ||T64_100 - w0|| (relative to the distance trained,
  not to |w|, which would hide errors in the updates). Smooth float32 rounding grows to 3e-6 - 3e-5 of the distance
  (measured, P and T32 alike). But along a trajectory a branch flip cannot be explained away: it changes every step
  after it, and the float32 and float64 trajectories part by up to 4e-3 of the distance (measured, Simple-CNN; both
  float32 runs took the same branch there) and by up to 1e-2 - 0.2 at larger learning rates or with pure-noise
  data, where flips cascade. The learning rate 0.003 and the learnable synthetic data (class templates plus noise,
  so that gradients are coherent rather than sums of cancelling terms) keep cascades small; 2e-2 covers a flip with
  margin, while an error in the updates, the batch order or the masking moves the trajectory by the order of the
  distance itself (the mutations below: 0.1 and more). The first step above is the strict check of the update.
- Masked SGD: pruned entries must be exactly +0.0 after 100 steps (parsity's optimizer contract), in P and T32.

--mutations runs the checks against deliberately wrong PyTorch references (a transposed layout, a missing bias,
PyTorch-style padding, the shortcut from the unactivated input, another SNIP averaging, biases not prunable,
another tie rule, a learning rate off by 1%, a shifted batch order, unmasked gradients) and requires each to fail,
plus a control that must pass (ReLU before the pool), so that every kind of check is shown to detect what it is for.
"""

import argparse
import json
import math
import os
import sys
import time

# One thread everywhere (set before the libraries start): the test runs on one core, and a BLAS or OpenMP pool
# would only add run-to-run variation.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

U32 = 2.0 ** -24  # float32 unit roundoff

LOSS_TOLERANCE = 1e-5
GRADIENT_TOLERANCE = 1e-5
GRADIENT_VIEW_TOLERANCE = 1e-4
SNIP_TOLERANCE = 1e-4
SNIP_ENTRY_TOLERANCE = 2e-4  # x RMS of the view's scores
MASK_DISAGREEMENT_FRACTION = 1e-3  # of the kept entries
STEP_TOLERANCE = 1e-5
TRAJECTORY_TOLERANCE = 2e-2
KINK_BAND = 1e-5  # a unit is near its kink when |z| (or its window's top-two gap) <= KINK_BAND x its site's RMS
MAX_FLIP_CANDIDATES = 12  # the nearest ones, per explained quantity


def _conv(name, k, cin, cout):
    return [(f"{name}/weights", [k, k, cin, cout]), (f"{name}/biases", [cout])]


def _fc(name, fin, fout):
    return [(f"{name}/weights", [fin, fout]), (f"{name}/biases", [fout])]


# The parameter views of each network, in buffer order, with parsity's shapes (networks.h).
EXPECTED_VIEWS = {
    "simple_cnn": _conv("conv1", 5, 1, 32) + _conv("conv2", 5, 32, 64) + _fc("fc", 1024, 10),
    "resnet8": (_conv("conv1", 3, 3, 16) + _conv("block1/conv1", 3, 16, 16) + _conv("block1/conv2", 3, 16, 16)
                + _conv("block2/conv1", 3, 16, 32) + _conv("block2/conv2", 3, 32, 32)
                + _conv("block3/conv1", 3, 32, 64) + _conv("block3/conv2", 3, 64, 64) + _fc("fc", 64, 10)),
    "lenet_300_100": _fc("fc1", 784, 300) + _fc("fc2", 300, 100) + _fc("fc3", 100, 10),
}
PARAMETER_COUNTS = {"simple_cnn": 62346, "resnet8": 75050, "lenet_300_100": 266610}

# Deliberate errors in the reference, for --mutations; empty in the real test.
MUTATION = set()


# ----------------------------------------------------------------------------------------------------------------
# Layouts.

def to_torch_layout(values, shape):
    """parsity's row-major view -> PyTorch's layout of the same tensor."""
    values = values.reshape(shape)
    if len(shape) == 4:  # HWIO -> OIHW
        if "conv_weights_hwoi" in MUTATION:  # the buffer misread as [ky][kx][out][in]
            return values.reshape(shape[0], shape[1], shape[3], shape[2]).transpose(2, 3, 0, 1)
        return values.transpose(3, 2, 0, 1)
    if len(shape) == 2:  # [in][out] -> [out][in]
        if "fc_weights_oi" in MUTATION:  # the buffer misread as [out][in]
            return values.reshape(shape[1], shape[0])
        return values.T
    return values


def from_torch_layout(values, shape):
    """The inverse of to_torch_layout, flattened."""
    if len(shape) == 4:
        if "conv_weights_hwoi" in MUTATION:
            return values.transpose(2, 3, 0, 1).reshape(-1)
        return values.transpose(2, 3, 1, 0).reshape(-1)
    if len(shape) == 2:
        if "fc_weights_oi" in MUTATION:
            return values.reshape(-1)
        return values.T.reshape(-1)
    return values.reshape(-1)


# ----------------------------------------------------------------------------------------------------------------
# ReLU and max-pool decisions.

def _rms(z):
    return float(torch.sqrt(torch.mean(z.detach() ** 2))) or 1.0


class Branches:
    """The ReLU and max-pool decisions of one forward pass. With record=True, lists the units within KINK_BAND of
    their kink as (closeness, site, kind, index), index (example within the pass, channel, y, x) or (example,
    feature); `force` takes (site, kind, index) triples whose decision is taken the other way."""

    def __init__(self, record=False, force=()):
        self.record = record
        self.force = {}
        for site, kind, index in force:
            self.force.setdefault((site, kind), []).append(tuple(index))
        self.near = []

    def _note(self, site, kind, closeness, near):
        for index in torch.nonzero(near).tolist():
            self.near.append((float(closeness[tuple(index)]), site, kind, tuple(index)))

    def relu(self, site, z):
        if self.record:
            closeness = z.detach().abs() / _rms(z)
            self._note(site, "relu", closeness, closeness <= KINK_BAND)
        forced = self.force.get((site, "relu"))
        if not forced:
            return F.relu(z)
        keep = (z.detach() > 0).to(z.dtype)
        for index in forced:
            keep[index] = 1 - keep[index]
        return z * keep  # relu, except at the forced units: off -> identity, on -> zero

    def max_pool(self, site, z):
        """2x2 max-pooling with stride 2 (even sizes), the first maximum of a window in row-major order."""
        n, c, h, w = z.shape
        windows = z.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 2, 4, 3, 5).reshape(n, c, h // 2, w // 2, 4)
        if self.record:
            top = torch.topk(windows.detach(), 2, dim=-1).values
            closeness = (top[..., 0] - top[..., 1]) / _rms(z)
            # Only windows whose maximum passes the ReLU that follows have a gradient to route.
            self._note(site, "max", closeness, (closeness <= KINK_BAND) & (top[..., 0] > 0))
        forced = self.force.get((site, "max"))
        if not forced:
            return F.max_pool2d(z, 2, 2)
        choice = torch.argmax(windows.detach(), dim=-1)
        for index in forced:  # the largest of the other three instead
            others = windows.detach()[index].clone()
            others[choice[index]] = -math.inf
            choice[index] = torch.argmax(others)
        return torch.gather(windows, -1, choice.unsqueeze(-1)).squeeze(-1)


# ----------------------------------------------------------------------------------------------------------------
# The networks (training/nn/networks.cc), functional over a dict of parameters in PyTorch's layout.

def conv_same(x, weights, biases, stride):
    """TensorFlow's SAME convolution: pad max((out - 1) s + k - in, 0), the smaller half before."""
    k = weights.shape[-1]
    pads = []
    for size in (x.shape[3], x.shape[2]):  # F.pad order: width (left, right), then height (top, bottom)
        out = -(-size // stride)
        total = max((out - 1) * stride + k - size, 0)
        pads += [total // 2, total - total // 2]
    if "symmetric_padding" in MUTATION:
        return F.conv2d(x, weights, biases, stride=stride, padding=k // 2)
    return F.conv2d(F.pad(x, pads), weights, biases, stride=stride)


def fc(x, p, name):
    bias = p[f"{name}/biases"]
    if "no_last_bias" in MUTATION and name in ("fc", "fc3"):
        bias = None
    return F.linear(x, p[f"{name}/weights"], bias)


def flatten_hwc(x):
    """Flattens NCHW activations in parsity's (NHWC) order."""
    if "flatten_chw" in MUTATION:
        return torch.flatten(x, 1)
    return x.permute(0, 2, 3, 1).flatten(1)


def simple_cnn(p, x, b):
    for i, name in enumerate(("conv1", "conv2"), start=1):
        x = F.conv2d(x, p[f"{name}/weights"], p[f"{name}/biases"])
        if "relu_before_pool" in MUTATION:  # the textbook order: a control that must pass
            x = F.max_pool2d(F.relu(x), 2, 2)
        else:
            x = b.relu(f"relu{i}", b.max_pool(f"pool{i}", x))
    return fc(flatten_hwc(x), p, "fc")


def resnet8(p, x, b):
    x = conv_same(x, p["conv1/weights"], p["conv1/biases"], 1)
    for block, (channels, stride) in enumerate([(16, 1), (32, 2), (64, 2)], start=1):
        name = f"block{block}"
        activated = b.relu(f"{name}/relu1", x)
        y = conv_same(activated, p[f"{name}/conv1/weights"], p[f"{name}/conv1/biases"], stride)
        y = conv_same(b.relu(f"{name}/relu2", y), p[f"{name}/conv2/weights"], p[f"{name}/conv2/biases"], 1)
        if stride == 1 and x.shape[1] == channels:
            shortcut = x
        else:
            shortcut = F.avg_pool2d(x if "shortcut_from_input" in MUTATION else activated, 2, 2)
            shortcut = F.pad(shortcut, (0, 0, 0, 0, 0, channels - shortcut.shape[1]))
        x = y + shortcut
    x = b.relu("relu", x).mean(dim=(2, 3))
    return fc(x, p, "fc")


def lenet_300_100(p, x, b):
    x = flatten_hwc(x)
    x = b.relu("relu1", fc(x, p, "fc1"))
    x = b.relu("relu2", fc(x, p, "fc2"))
    return fc(x, p, "fc3")


NETWORKS = {"simple_cnn": simple_cnn, "resnet8": resnet8, "lenet_300_100": lenet_300_100}


# ----------------------------------------------------------------------------------------------------------------
# The dump and the model.

class Dump:
    """One network's dump: manifest, inputs and parsity's results."""

    def __init__(self, directory):
        self.directory = directory
        with open(f"{directory}/manifest.json") as f:
            self.manifest = json.load(f)
        m = self.manifest
        self.network = m["network"]
        self.views = m["views"]
        self.count = m["parameter_count"]
        height, width, channels = m["input_shape"]
        self.examples = m["examples"]
        pixels = self.read("inputs.f32", "<f4", self.examples * height * width * channels)
        self.inputs = torch.from_numpy(pixels.reshape(self.examples, height, width, channels)).permute(
            0, 3, 1, 2).contiguous()  # NHWC -> NCHW
        self.labels = torch.from_numpy(self.read("labels.i32", "<i4", self.examples).astype(np.int64))

    def read(self, name, dtype, count=None):
        values = np.fromfile(f"{self.directory}/{name}", dtype=dtype)
        expected = self.count if count is None else count
        if values.size != expected:
            raise SystemExit(f"{self.directory}/{name}: {values.size} values, expected {expected}")
        return values

    def view_slices(self):
        return [(v["name"], slice(v["offset"], v["offset"] + v["size"])) for v in self.views]


class Model:
    """The PyTorch twin of one parsity network, over parsity's flat parameter buffer."""

    def __init__(self, dump):
        self.dump = dump
        self.forward = NETWORKS[dump.network]

    def parameters(self, flat, dtype):
        """Leaf tensors (PyTorch layout, requires_grad) of a flat parsity buffer, one per view."""
        tensors = []
        for view in self.dump.views:
            values = np.asarray(flat[view["offset"]:view["offset"] + view["size"]], dtype=np.float64)
            values = np.ascontiguousarray(to_torch_layout(values, view["shape"]))
            tensors.append(torch.tensor(values, dtype=dtype, requires_grad=True))
        return tensors

    def flat(self, tensors):
        """PyTorch tensors, one per view -> a flat float64 buffer in parsity's layout."""
        return np.concatenate([from_torch_layout(t.detach().to(torch.float64).numpy(), v["shape"])
                               for t, v in zip(tensors, self.dump.views)])

    def loss(self, tensors, begin, end, dtype, branches=None):
        named = {view["name"]: t for view, t in zip(self.dump.views, tensors)}
        logits = self.forward(named, self.dump.inputs[begin:end].to(dtype), branches or Branches())
        return F.cross_entropy(logits, self.dump.labels[begin:end])  # the mean softmax cross-entropy

    def gradient(self, flat, begin, end, dtype, branches=None):
        """(mean loss, gradient as a flat float64 buffer) over examples [begin, end)."""
        tensors = self.parameters(flat, dtype)
        loss = self.loss(tensors, begin, end, dtype, branches)
        gradients = torch.autograd.grad(loss, tensors, allow_unused=True)  # unused: only under a mutation
        return loss.item(), self.flat([torch.zeros_like(t) if g is None else g for t, g in zip(tensors, gradients)])

    def recorded_gradient(self, flat, begin, end, candidates):
        """The float64 gradient over [begin, end); appends the units near a kink to `candidates` as (closeness,
        site, kind, example, index within the example, examples in the pass)."""
        branches = Branches(record=True)
        loss, gradient = self.gradient(flat, begin, end, torch.float64, branches)
        candidates += [(c, site, kind, begin + index[0], index[1:], end - begin)
                       for c, site, kind, index in branches.near]
        return loss, gradient

    def flip_effects(self, flat, candidates):
        """For the nearest candidates: the change of their pass's float64 mean gradient when that one decision is
        taken the other way (computed on the candidate's example alone, divided by the pass's size)."""
        effects, base = [], {}
        for closeness, site, kind, example, index, size in sorted(candidates)[:MAX_FLIP_CANDIDATES]:
            if example not in base:
                base[example] = self.gradient(flat, example, example + 1, torch.float64)[1]
            forced = self.gradient(flat, example, example + 1, torch.float64,
                                   Branches(force=[(site, kind, (0,) + tuple(index))]))[1]
            effects.append((f"{site} {kind} example {example} unit {tuple(index)} at {closeness:.1e} of the RMS",
                            (forced - base[example]) / size))
        return effects

    def snip_sensitivity(self, flat, dtype, candidates=None):
        """g = w * sum_B (mean gradient of batch B), batches of snip_batch_size in stored order, the last one
        shorter with its own mean; the sum over batches and the product with w in float64 (pruning/snip.h)."""
        batch = self.dump.manifest["snip_batch_size"]
        total = np.zeros(self.dump.count)
        if "snip_one_mean" in MUTATION:
            return self.gradient(flat, 0, self.dump.examples, dtype)[1] * math.ceil(
                self.dump.examples / batch) * np.asarray(flat, dtype=np.float64)
        for begin in range(0, self.dump.examples, batch):
            end = min(begin + batch, self.dump.examples)
            if candidates is not None:
                total += self.recorded_gradient(flat, begin, end, candidates)[1]
            else:
                total += self.gradient(flat, begin, end, dtype)[1]
        return total * np.asarray(flat, dtype=np.float64)

    def torch_masks(self, mask, dtype):
        return [torch.tensor(np.ascontiguousarray(to_torch_layout(
            mask[v["offset"]:v["offset"] + v["size"]].astype(np.float64), v["shape"])), dtype=dtype)
            for v in self.dump.views]

    def sgd(self, flat, mask, dtype, steps):
        """Plain SGD with torch.optim.SGD, batch t = examples [B (t mod E/B), + B). With a mask: the gradient is
        multiplied by it before each step (pruned entries then stay exactly zero). Returns (parameters after step
        1, after `steps` steps, losses)."""
        m = self.dump.manifest
        tensors = self.parameters(flat, dtype)
        learning_rate = m["learning_rate"] * (1.01 if "learning_rate_1pct" in MUTATION else 1.0)
        optimizer = torch.optim.SGD(tensors, lr=learning_rate)
        masks = self.torch_masks(mask, dtype) if mask is not None else None
        batch, batches = m["batch_size"], m["examples"] // m["batch_size"]
        losses, first = [], None
        for t in range(steps):
            begin = ((t + ("batch_order_shifted" in MUTATION)) % batches) * batch
            optimizer.zero_grad()
            loss = self.loss(tensors, begin, begin + batch, dtype)
            loss.backward()
            losses.append(loss.item())
            if masks is not None and "unmasked_gradient" not in MUTATION:
                for tensor, keep in zip(tensors, masks):
                    tensor.grad.mul_(keep)
            optimizer.step()
            if t == 0:
                first = self.flat(tensors)
        return first, self.flat(tensors), np.array(losses)


# ----------------------------------------------------------------------------------------------------------------
# Selection (pruning/selection.h), written independently.

def kept_count(count, sparsity):
    """round(count (1 - sparsity)) with std::round's halves away from zero, on the same double product."""
    product = count * (1.0 - sparsity)
    whole = math.floor(product)
    return whole + (1 if product - whole >= 0.5 else 0)


def select_top(scores, kept):
    """The 0/1 mask keeping the `kept` highest scores, the lower index first among equal scores."""
    indices = np.arange(len(scores))
    order = np.lexsort((-indices if "tie_high_index_first" in MUTATION else indices, -scores))
    mask = np.zeros(len(scores), dtype=np.float32)
    mask[order[:kept]] = 1
    return mask


def select_top_prunable(scores, sparsity, dump):
    """The paper's rule: every view prunable (biases too), global top-k. Under the weights-only mutation: biases
    always kept, top-k among the weights."""
    if "snip_weights_only" not in MUTATION:
        return select_top(scores, kept_count(len(scores), sparsity))
    weights = np.concatenate([np.arange(v["offset"], v["offset"] + v["size"]) for v in dump.views
                              if v["kind"] == "weights"])
    mask = np.ones(len(scores), dtype=np.float32)
    mask[weights] = select_top(scores[weights], kept_count(len(weights), sparsity))
    return mask


# ----------------------------------------------------------------------------------------------------------------
# Checks.

def rel(a, b):
    """||a - b|| / ||b||."""
    norm = np.linalg.norm(b)
    return np.linalg.norm(a - b) / norm if norm > 0 else (0.0 if np.linalg.norm(a) == 0 else math.inf)


def view_rms(dump, values):
    """Per entry: the RMS of `values` over the entry's view."""
    rms = np.zeros(dump.count)
    for _, s in dump.view_slices():
        rms[s] = math.sqrt(np.mean(values[s] ** 2))
    return rms


def explain(target, reference, effects, within):
    """Adds branch flips (name, effect) to `reference` while each halves the distance to `target`, until
    within(reference) holds. Returns (reference, names of the flips used)."""
    used = []
    while not within(reference):
        distance = np.linalg.norm(target - reference)
        best = min(((np.linalg.norm(target - reference - e), name, e) for name, e in effects if name not in used),
                   default=None, key=lambda t: t[0])
        if best is None or best[0] > 0.5 * distance:
            break
        used.append(best[1])
        reference = reference + best[2]
    return reference, used


def flips_note(used):
    if not used:
        return ""
    return f"(explained by {len(used)} branch flip{'s' if len(used) > 1 else ''} near a kink: {'; '.join(used)})"


class Report:
    def __init__(self, network):
        self.network = network
        self.failures = []
        self.measured = {}

    def info(self, quantity, value):
        """A number shown, not asserted."""
        self.measured[quantity] = {"parsity": value}
        print(f"  info {quantity:44s} {value:.2e}", flush=True)

    def compare(self, quantity, parsity, pytorch, tolerance, note=""):
        self.check(quantity, parsity <= tolerance, parsity, pytorch, tolerance, note)

    def check(self, quantity, ok, parsity, pytorch=None, tolerance=None, note=""):
        """Records one comparison: parsity's error (vs float64), PyTorch float32's error, the tolerance."""
        self.measured[quantity] = {"parsity": parsity, "pytorch_float32": pytorch, "tolerance": tolerance}
        fmt = lambda v: "-" if v is None else (f"{v:.2e}" if isinstance(v, float) else str(v))
        status = "ok  " if ok else "FAIL"
        print(f"  {status} {quantity:44s} parsity {fmt(parsity):>9s}  pytorch-f32 {fmt(pytorch):>9s}  "
              f"tolerance {fmt(tolerance):>9s}  {note}", flush=True)
        if not ok:
            self.failures.append(f"{self.network}: {quantity}: parsity {fmt(parsity)}, tolerance {fmt(tolerance)}"
                                 f" {note}")


def check_layout(dump, report):
    got = [(v["name"], v["shape"]) for v in dump.views]
    offsets_ok = all(v["offset"] == sum(w["size"] for w in dump.views[:i]) and v["size"] == math.prod(v["shape"])
                     for i, v in enumerate(dump.views))
    kinds_ok = all(v["kind"] == ("biases" if v["name"].endswith("/biases") else "weights") for v in dump.views)
    ok = (got == EXPECTED_VIEWS[dump.network] and offsets_ok and kinds_ok
          and dump.count == PARAMETER_COUNTS[dump.network])
    report.check("layout (views, shapes, offsets)", ok, "same" if ok else "differs", note="" if ok else str(got))
    return ok


def check_gradient(model, dump, report, label, parameters, parsity_loss, parsity_gradient, mask=None):
    """Loss and gradient on batch 0. Returns the flips' total effect on the float64 gradient (0 when none)."""
    batch = dump.manifest["batch_size"]
    loss32, g32 = model.gradient(parameters, 0, batch, torch.float32)
    candidates = []
    loss64, g64 = model.recorded_gradient(parameters, 0, batch, candidates)
    keep = mask if mask is not None else 1.0
    g32, g64 = g32 * keep, g64 * keep
    report.compare(f"{label} loss", abs(parsity_loss - loss64) / abs(loss64), abs(loss32 - loss64) / abs(loss64),
                   LOSS_TOLERANCE, f"(loss {loss64:.6f})")
    slices = [(name, s) for name, s in dump.view_slices() if np.linalg.norm(g64[s]) > 0]

    def within(reference):
        return (rel(parsity_gradient, reference) <= GRADIENT_TOLERANCE
                and all(rel(parsity_gradient[s], reference[s]) <= GRADIENT_VIEW_TOLERANCE for _, s in slices))

    reference, used = g64, []
    if not within(g64) and candidates:
        effects = [(name, e * keep) for name, e in model.flip_effects(parameters, candidates)]
        reference, used = explain(parsity_gradient, g64, effects, within)
    report.compare(f"{label} gradient", rel(parsity_gradient, reference), rel(g32, g64), GRADIENT_TOLERANCE,
                   flips_note(used))
    worst = max(((rel(parsity_gradient[s], reference[s]), rel(g32[s], g64[s]), name) for name, s in slices),
                key=lambda w: w[0])
    report.compare(f"{label} gradient, worst view", worst[0], worst[1], GRADIENT_VIEW_TOLERANCE, f"({worst[2]})")
    return reference - g64


def check_snip(model, dump, report, initial, mask_p):
    m = dump.manifest
    sensitivity_p = dump.read("sensitivity.f64", "<f8")
    saliency_p = dump.read("saliency.f64", "<f8")
    g32 = model.snip_sensitivity(initial, torch.float32)
    candidates = []
    g64 = model.snip_sensitivity(initial, torch.float64, candidates)
    rms = np.maximum(view_rms(dump, g64), 1e-300)

    def within(reference):
        return (rel(sensitivity_p, reference) <= SNIP_TOLERANCE
                and np.max(np.abs(sensitivity_p - reference) / rms) <= SNIP_ENTRY_TOLERANCE)

    reference, used = g64, []
    if not within(g64) and candidates and "snip_one_mean" not in MUTATION:
        w = np.asarray(initial, dtype=np.float64)
        effects = [(name, e * w) for name, e in model.flip_effects(initial, candidates)]
        reference, used = explain(sensitivity_p, g64, effects, within)
    report.compare("SNIP sensitivity g", rel(sensitivity_p, reference), rel(g32, g64), SNIP_TOLERANCE,
                   flips_note(used))
    report.compare("SNIP g, worst entry / view RMS", float(np.max(np.abs(sensitivity_p - reference) / rms)),
                   float(np.max(np.abs(g32 - g64) / rms)), SNIP_ENTRY_TOLERANCE)
    saliency64 = np.abs(reference) / np.sum(np.abs(reference))
    report.compare("SNIP saliency |g|/sum|g|", rel(saliency_p, saliency64),
                   rel(np.abs(g32) / np.sum(np.abs(g32)), np.abs(g64) / np.sum(np.abs(g64))), SNIP_TOLERANCE)

    # The mask: parsity's own rule on parsity's own scores, exactly.
    kept = kept_count(dump.count, m["sparsity"])
    ok = (int(mask_p.sum()) == kept == m["kept"] and np.all((mask_p == 0) | (mask_p == 1))
          and np.array_equal(select_top_prunable(saliency_p, m["sparsity"], dump), mask_p))
    report.check("mask = top-k of parsity's scores", ok, "same" if ok else "differs", note=f"(k = {kept})")
    # Against the float64 scores: disagreements only within twice the score tolerance of the threshold (the
    # entry's error and the threshold entry's).
    mask64 = select_top_prunable(np.abs(reference), m["sparsity"], dump)
    threshold = np.sort(np.abs(reference))[::-1][kept - 1]
    disagree = np.nonzero(mask64 != mask_p)[0]
    near = np.abs(np.abs(reference[disagree]) - threshold) <= 2 * SNIP_ENTRY_TOLERANCE * rms[disagree]
    limit = int(MASK_DISAGREEMENT_FRACTION * kept)
    mask32 = select_top_prunable(np.abs(g32), m["sparsity"], dump)
    report.check("mask vs float64 scores (entries differing)", bool(np.all(near)) and len(disagree) <= limit,
                 len(disagree), int(np.sum(mask32 != select_top_prunable(np.abs(g64), m["sparsity"], dump))), limit,
                 f"({int(np.sum(~near))} of them beyond the score tolerance of the threshold)")


def check_tie_mask(model, dump, report, initial):
    m = dump.manifest
    zero_bias = initial.copy()
    for view in dump.views:
        if view["kind"] == "biases":
            zero_bias[view["offset"]:view["offset"] + view["size"]] = 0
    saliency_p = dump.read("zero_bias_saliency.f64", "<f8")
    sensitivity_p = dump.read("zero_bias_sensitivity.f64", "<f8")
    tie_mask_p = dump.read("tie_mask.f32", "<f4")
    # Float32 only (the float64 comparison of SNIP is the one above): what matters here is which scores are exactly
    # zero, and a zero weight (every bias) or a gradient that is exactly zero (a unit dead on every example) gives
    # an exact zero in any precision.
    g32 = model.snip_sensitivity(zero_bias, torch.float32)
    report.info("SNIP g at zero biases vs PyTorch float32", rel(sensitivity_p, g32))
    zeros_p, zeros_32 = saliency_p == 0, g32 == 0
    kept = kept_count(dump.count, m["tie_sparsity"])
    kept_zero = int(tie_mask_p[zeros_p].sum())
    # The cut must fall inside the block of zero scores, so that the tie rule alone decides.
    real_tie = 0 < kept_zero < int(zeros_p.sum()) and int(tie_mask_p.sum()) == kept == m["tie_kept"]
    ok = (real_tie and np.array_equal(zeros_p, zeros_32)
          and np.array_equal(select_top_prunable(saliency_p, m["tie_sparsity"], dump), tie_mask_p)
          and np.array_equal(select_top_prunable(np.abs(g32), m["tie_sparsity"], dump), tie_mask_p))
    report.check("tie mask (lower index kept first)", ok, "same" if ok else "differs",
                 note=f"({int(zeros_p.sum())} zero scores, {kept_zero} of them kept, by index)")


def check_sgd(model, dump, report, label, start, mask, step1_p, final_p, losses_p, first_flips):
    """`first_flips`: the branch flips' effect on the first step's gradient, from check_gradient."""
    m = dump.manifest
    steps = m["steps"]
    first32, final32, losses32 = model.sgd(start, mask, torch.float32, steps)
    first64, final64, losses64 = model.sgd(start, mask, torch.float64, steps)
    first_reference = first64 - m["learning_rate"] * first_flips
    step = np.linalg.norm(first64 - start)
    tolerance = STEP_TOLERANCE + U32 * np.linalg.norm(first64) / step
    report.compare(f"{label} SGD, 1 step (/step)", np.linalg.norm(step1_p - first_reference) / step,
                   np.linalg.norm(first32 - first64) / step, tolerance)
    distance = np.linalg.norm(final64 - start)
    report.compare(f"{label} SGD, {steps} steps (/distance)", np.linalg.norm(final_p - final64) / distance,
                   np.linalg.norm(final32 - final64) / distance, TRAJECTORY_TOLERANCE,
                   f"(distance/|w0| {distance / np.linalg.norm(start):.3f}, loss {losses64[0]:.3f} -> "
                   f"{losses64[-1]:.3f}, largest loss difference {np.max(np.abs(np.array(losses_p) - losses64)):.1e})")
    if mask is not None:
        pruned = mask == 0
        # +0.0 exactly: value 0 and sign bit clear.
        ok_p = bool(np.all(final_p[pruned] == 0) and not np.any(np.signbit(final_p[pruned])))
        ok_32 = bool(np.all(final32[pruned] == 0))
        report.check(f"{label} SGD, pruned entries +0.0 (nonzero)", ok_p and ok_32,
                     int(np.count_nonzero(final_p[pruned])), int(np.count_nonzero(final32[pruned])), 0,
                     f"(of {int(pruned.sum())} pruned)")


GROUPS = ("gradient", "snip", "sgd")


def run(directory, groups=GROUPS):
    dump = Dump(directory)
    m = dump.manifest
    report = Report(dump.network)
    start = time.time()
    print(f"{dump.network}: {dump.count} parameters, {dump.examples} examples, batch {m['batch_size']}, "
          f"{m['steps']} steps at learning rate {m['learning_rate']:g}, sparsity {m['sparsity']:g}; masked run's "
          "kernels (forward/input gradient/weight gradient): " + ", ".join(
              f"{k['name']} {k['forward']}/{k['input_gradient']}/{k['weight_gradient']}" for k in m["masked_kernels"]))
    if not check_layout(dump, report):
        return report
    model = Model(dump)
    initial = dump.read("initial.f32", "<f4")
    mask_p = dump.read("mask.f32", "<f4")
    masked_initial = initial * mask_p
    dense_flips = masked_flips = 0.0
    if "gradient" in groups or "sgd" in groups:
        dense_flips = check_gradient(model, dump, report, "dense", initial, m["first_loss"],
                                     dump.read("gradient.f32", "<f4").astype(np.float64))
        masked_flips = check_gradient(model, dump, report, "masked", masked_initial, m["masked_first_loss"],
                                      dump.read("masked_gradient.f32", "<f4").astype(np.float64), mask_p)
    if "snip" in groups:
        check_snip(model, dump, report, initial, mask_p)
        check_tie_mask(model, dump, report, initial)
    if "sgd" in groups:
        check_sgd(model, dump, report, "dense", initial, None, dump.read("dense_step1.f32", "<f4"),
                  dump.read("dense_final.f32", "<f4"), m["dense_losses"], dense_flips)
        check_sgd(model, dump, report, "masked", masked_initial, mask_p, dump.read("masked_step1.f32", "<f4"),
                  dump.read("masked_final.f32", "<f4"), m["masked_losses"], masked_flips)
    print(f"  ({time.time() - start:.1f} s)", flush=True)
    return report


# Each mutation: (networks it applies to, check groups that must catch it, what it emulates).
MUTATIONS = {
    "conv_weights_hwoi": (("simple_cnn", "resnet8"), ("gradient",), "conv weights read as [ky][kx][out][in]"),
    "fc_weights_oi": (("lenet_300_100", "simple_cnn"), ("gradient",), "FC weights read as [out][in]"),
    "flatten_chw": (("simple_cnn",), ("gradient",), "the flatten before fc in CHW order"),
    "no_last_bias": (("simple_cnn", "resnet8", "lenet_300_100"), ("gradient",), "the last layer's bias dropped"),
    "symmetric_padding": (("resnet8",), ("gradient",), "PyTorch's padding=1 for the stride-2 SAME convolutions"),
    "shortcut_from_input": (("resnet8",), ("gradient",), "the downsampling shortcut pools x, not relu(x)"),
    "snip_one_mean": (("simple_cnn", "lenet_300_100"), ("snip",),
                      "SNIP over one mean of all examples, not a sum of batch means"),
    "snip_weights_only": (("simple_cnn", "lenet_300_100"), ("snip",), "biases not prunable"),
    "tie_high_index_first": (("lenet_300_100",), ("snip",), "ties broken towards the higher index"),
    "learning_rate_1pct": (("simple_cnn", "lenet_300_100"), ("sgd",), "learning rate 1% high"),
    "batch_order_shifted": (("simple_cnn", "lenet_300_100"), ("sgd",), "batches one step out of order"),
    "unmasked_gradient": (("simple_cnn", "lenet_300_100"), ("sgd",), "masked SGD without masking the gradient"),
    "relu_before_pool": (("simple_cnn",), ("gradient", "sgd"), "CONTROL (must pass): ReLU, then max-pool"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dumps", nargs="+", help="directories written by agreement_dump, one per network")
    parser.add_argument("--mutations", action="store_true", help="check that deliberately wrong references fail")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"PyTorch {torch.__version__}, float32 unit roundoff u = {U32:.3g}")
    start = time.time()
    if args.mutations:
        dumps = {Dump(d).network: d for d in args.dumps}
        wrong = []
        for mutation, (networks, groups, what) in MUTATIONS.items():
            MUTATION.clear()
            MUTATION.add(mutation)
            for network in networks:
                if network not in dumps:
                    continue
                print(f"=== mutation {mutation} ({what}) on {network}")
                failures = run(dumps[network], groups).failures
                expected_to_fail = not what.startswith("CONTROL")
                if bool(failures) != expected_to_fail:
                    wrong.append(f"{mutation} on {network}: " + ("not detected" if expected_to_fail else
                                                                 "control failed: " + "; ".join(failures)))
        MUTATION.clear()
        print("\n".join(wrong) if wrong else "every mutation was detected and the control passed")
        return 1 if wrong else 0
    reports = [run(d) for d in args.dumps]
    failures = [f for r in reports for f in r.failures]
    summary = {r.network: {q: v["parsity"] for q, v in r.measured.items()} for r in reports}
    print(json.dumps({"seconds": round(time.time() - start, 1), "failures": len(failures), "parsity": summary}))
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("PASSED: parsity agrees with PyTorch on every network")
    return 0


if __name__ == "__main__":
    sys.exit(main())
