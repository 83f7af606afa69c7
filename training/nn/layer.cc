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

}  // namespace parsity::nn
