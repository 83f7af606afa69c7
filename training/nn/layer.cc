#include "training/nn/layer.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "tools/base/check.h"
#include "training/nn/internal/direct_convolution.h"

namespace parsity::nn {

std::string ImageShapeString(const ImageShape& shape) {
  return absl::StrCat(shape.height, "x", shape.width, "x", shape.channels);
}

bool HasDirectKernels() { return nn_internal::HasDirectConvolution(); }

Implementation ResolveImplementation(Implementation requested) {
  return requested != Implementation::kEigen && HasDirectKernels() ? Implementation::kDirect : Implementation::kEigen;
}

const char* DefaultImplementationName() {
  return ResolveImplementation(Implementation::kAutomatic) == Implementation::kDirect ? "direct" : "eigen";
}

int64_t PaddedOutputSize(int64_t input, int64_t kernel, int64_t stride, Padding padding) {
  PARSITY_CHECK(input >= 1 && kernel >= 1 && stride >= 1);
  if (padding == Padding::kSame) return (input + stride - 1) / stride;
  PARSITY_CHECK(input >= kernel);
  return (input - kernel) / stride + 1;
}

int64_t PaddingBefore(int64_t input, int64_t kernel, int64_t stride, Padding padding) {
  if (padding == Padding::kValid) return 0;
  const int64_t output = PaddedOutputSize(input, kernel, stride, padding);
  return std::max<int64_t>((output - 1) * stride + kernel - input, 0) / 2;
}

const char* ProductName(Product product) {
  switch (product) {
    case Product::kForward:
      return "forward";
    case Product::kInputGradient:
      return "input_gradient";
    case Product::kWeightGradient:
      return "weight_gradient";
  }
  return "unknown";
}

int64_t CountKept(absl::Span<const float> weight_mask) {
  int64_t kept = 0;
  for (float value : weight_mask) kept += value != 0.0f ? 1 : 0;
  return kept;
}

const char* KernelKindName(KernelKind kind) {
  switch (kind) {
    case KernelKind::kDense:
      return "dense";
    case KernelKind::kSparse:
      return "sparse";
    case KernelKind::kSparseLines:
      return "sparse_lines";
    case KernelKind::kDensePacked:
      return "dense_packed";
  }
  return "unknown";
}

void LayerSparsity::set_weight_order(std::vector<int32_t> order) {
  std::vector<bool> seen(order.size(), false);
  for (const int32_t index : order) {
    PARSITY_CHECK(index >= 0 && static_cast<size_t>(index) < order.size() && !seen[index]);
    seen[index] = true;
  }
  weight_order_ = std::move(order);
}

bool LayerSparsity::PackWeights() {
  if (!PackLayerWeights()) return false;
  // The line kernels read the network's layout: the sparse kernels, which read weights by index, take their place.
  for (std::array<KernelKind, kProducts>& products : kernels_) {
    for (KernelKind& kind : products) {
      if (kind == KernelKind::kSparseLines) kind = KernelKind::kSparse;
    }
  }
  return true;
}

bool LayerSparsity::PackWeightsDense() {
  if (!weight_order_.empty() || !PackLayerWeightsDense()) return false;
  for (std::array<KernelKind, kProducts>& products : kernels_) {
    for (int product = 0; product < kProducts; ++product) {
      products[product] = static_cast<Product>(product) == Product::kInputGradient ? KernelKind::kSparse
                                                                                     : KernelKind::kDensePacked;
    }
  }
  return true;
}

void LayerSparsity::set_kernel(Product product, int64_t batch, KernelKind kind) {
  PARSITY_CHECK(Supports(product, kind));
  kernels_[BatchClass(batch)][static_cast<int>(product)] = kind;
}

LayerSparsity::LayerSparsity(absl::Span<const float> weight_mask, int64_t max_batch)
    : kept_weights_(CountKept(weight_mask)),
      density_(weight_mask.empty() ? 1.0
                                   : static_cast<double>(kept_weights_) / static_cast<double>(weight_mask.size())),
      max_batch_(max_batch) {
  PARSITY_CHECK(max_batch >= 1);
  std::array<KernelKind, kProducts> sparse;
  sparse.fill(KernelKind::kSparse);
  kernels_.assign(BatchClass(max_batch) + 1, sparse);
}

int LayerSparsity::BatchClass(int64_t batch) {
  int batch_class = 0;
  while (batch > 1) {
    batch >>= 1;
    ++batch_class;
  }
  return batch_class;
}

std::vector<int64_t> LayerSparsity::RepresentativeBatches() const {
  std::vector<int64_t> batches;
  for (int64_t batch = 1; batch <= max_batch_; batch *= 2) batches.push_back(batch);
  return batches;
}

}  // namespace parsity::nn
