// The interface every layer implements: a hand-written forward pass and backward pass over a batch of NHWC images,
// with parameters and scratch memory handed in by the caller (training/nn/network.h), so that a layer holds no
// mutable state and one layer object serves any number of threads.
//
//   ReluLayer relu("relu1", ImageShape{24, 24, 32});           // training/nn/activation.h; one header per family
//   ForwardArguments forward;                                   // batch, inputs, parameters, output, scratch
//   forward.batch = 8, forward.inputs = absl::MakeConstSpan(&images, 1), forward.output = out, relu.Forward(forward);
//
// Layout conventions (all layers):
// - A batch of B examples of shape (height, width, channels) is B * height * width * channels contiguous floats,
//   example-major, each example in HWC order (TensorFlow's NHWC). Vectors are shape (1, 1, n).
// - Parameters live in the network's single buffer (training/nn/parameter_buffer.h); a layer receives pointers to its
//   own weights and biases there. Parameter gradients are ADDED to (`+=`), or overwritten when the caller says so
//   (BackwardArguments::parameter_gradient_mode): a network's first chunk writes its gradient without a zeroed buffer.
// - Input gradients are overwritten or added to, as the caller says per input (GradientMode): a tensor read by two
//   layers receives the sum of both contributions without an extra buffer.
#ifndef PARSITY_TRAINING_NN_LAYER_H_
#define PARSITY_TRAINING_NN_LAYER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/types/span.h"
#include "training/nn/parameter_buffer.h"

namespace parsity::nn {

// The shape of one example: height x width x channels, stored HWC. A plain vector is (1, 1, n).
struct ImageShape {
  int64_t height = 1;
  int64_t width = 1;
  int64_t channels = 1;

  // Floats per example.
  int64_t size() const { return height * width * channels; }
  friend bool operator==(const ImageShape& a, const ImageShape& b) {
    return a.height == b.height && a.width == b.width && a.channels == b.channels;
  }
  friend bool operator!=(const ImageShape& a, const ImageShape& b) { return !(a == b); }
};

// "HxWxC", e.g. "28x28x1".
std::string ImageShapeString(const ImageShape& shape);

// TensorFlow's padding modes. VALID: output = floor((input - kernel) / stride) + 1, no padding. SAME: output =
// ceil(input / stride), zero padding of max((output - 1) * stride + kernel - input, 0) split with the smaller half
// before (top/left) and the larger half after.
enum class Padding { kValid, kSame };

// Output size along one dimension. REQUIRES: input >= 1, kernel >= 1, stride >= 1, and input >= kernel for VALID.
int64_t PaddedOutputSize(int64_t input, int64_t kernel, int64_t stride, Padding padding);
// Zero rows (or columns) added before the input along one dimension: 0 for VALID.
int64_t PaddingBefore(int64_t input, int64_t kernel, int64_t stride, Padding padding);

// How a layer with matrix products (convolution, fully connected) computes them. Both implementations are tested
// against the same reference; they agree up to float rounding.
enum class Implementation {
  // kDirect where the build has it, else kEigen.
  kAutomatic,
  // Hand-written AVX-512 kernels (training/nn/internal/direct_convolution.h): no copies of the operands, no
  // allocation. Needs a build for AVX-512 (HasDirectKernels()); elsewhere the layer runs kEigen.
  kDirect,
  // Eigen's matrix products (after im2col, for convolutions): portable.
  kEigen,
};

// Whether this build has the direct kernels (compiled for AVX-512, as `-march=native` does on the study machines).
bool HasDirectKernels();

// What a layer asking for `requested` runs: kDirect or kEigen.
Implementation ResolveImplementation(Implementation requested);

// "direct" or "eigen": what layers of this build run by default (ResolveImplementation(kAutomatic)), as binaries
// report it ("matrix_products"), since the two round differently.
const char* DefaultImplementationName();

// A parameter tensor a layer declares; the network names it "<layer name>/<weights|biases>".
struct ParameterSpec {
  ParameterKind kind = ParameterKind::kWeights;
  std::vector<int64_t> shape;
  int64_t fan_in = 1;
};

// The three matrix products of a layer with weights.
enum class Product { kForward = 0, kInputGradient = 1, kWeightGradient = 2 };
inline constexpr int kProducts = 3;

// "forward", "input_gradient" or "weight_gradient".
const char* ProductName(Product product);

// Which kernel computes a product: the dense one over all weights (pruned ones hold 0), the sparse one over the kept
// weights only, or (fully connected layers, forward and weight gradient) the sparse one over the lines of 16 outputs
// that hold a kept weight, vectorized over outputs rather than the batch: it wins at small batches when kept weights
// cluster; or (fully connected layers whose weights are packed for it, LayerSparsity::PackWeightsDense; forward and
// weight gradient) the dense kernel's arithmetic on the kept weights packed in its order, which moves only the kept
// weights' bytes. All give the same values (training/nn/internal/sparse_kernels.h).
enum class KernelKind { kDense, kSparse, kSparseLines, kDensePacked };

// "dense", "sparse", "sparse_lines" or "dense_packed".
const char* KernelKindName(KernelKind kind);

// The number of nonzero (kept) entries of a 0/1 mask.
int64_t CountKept(absl::Span<const float> weight_mask);

// A weighted layer's sparse structures for one fixed pruning mask, built once per trial by
// Layer::CreateSparsity (the sparse execution plan, training/nn/sparse_plan.h, holds one per weighted layer), and
// which kernel runs each product at each batch size. Read-only while layers run; any number of threads may share it.
class LayerSparsity {
 public:
  virtual ~LayerSparsity() = default;
  LayerSparsity(const LayerSparsity&) = delete;
  LayerSparsity& operator=(const LayerSparsity&) = delete;

  // Kept weights / weights of the layer, in [0, 1]. Biases are not counted.
  double density() const { return density_; }
  int64_t kept_weights() const { return kept_weights_; }
  // The largest batch the structures serve.
  int64_t max_batch() const { return max_batch_; }

  // Floats of scratch memory the layer needs for `batch` examples with these structures (the dense kernels' needs
  // included).
  virtual int64_t ScratchFloats(int64_t batch) const = 0;

  // The kernel computing `product` for `batch` examples. Batches are grouped by powers of two: one choice serves
  // [2^c, 2^(c+1)). All products start sparse. REQUIRES: 1 <= batch <= max_batch().
  KernelKind kernel(Product product, int64_t batch) const {
    return kernels_[BatchClass(batch)][static_cast<int>(product)];
  }
  // Sets the kernel of `product` for the class of `batch`. Only while no layer runs with this object.
  // REQUIRES: Supports(product, kind).
  void set_kernel(Product product, int64_t batch, KernelKind kind);
  // Whether the layer has a kernel of `kind` for `product`: sparse and dense always, lines and dense_packed where a
  // layer adds them (a layer whose weights are packed has no dense kernel: it reads the network's layout).
  virtual bool Supports(Product product, KernelKind kind) const {
    static_cast<void>(product);
    return kind == KernelKind::kSparse || kind == KernelKind::kDense;
  }
  // The batches that stand for the classes: the powers of two up to max_batch().
  std::vector<int64_t> RepresentativeBatches() const;

  // Whether every bias of the layer is pruned, as SNIP prunes the zero-initialized biases before any weight. Gradient
  // passes (Network) then leave the bias gradient alone, like the sparse kernels' pruned weight entries: masked readers
  // never look at it, and a pass over every output gradient is saved. Set by the plan that owns this object.
  bool biases_pruned() const { return biases_pruned_; }
  void set_biases_pruned(bool pruned) { biases_pruned_ = pruned; }

  // Where the layer's weights lie in the parameter, gradient and optimizer-state buffers under the plan that owns this
  // object: entry p of the layer's weights holds the network's weight weight_order()[p]. Empty: the network's layout.
  // Biases never move.
  absl::Span<const int32_t> weight_order() const { return weight_order_; }
  // Moves the layer's kept weights to the front of its weights, in the order its sparse kernels visit them, and points
  // the structures there, so that the products read and write a few whole cache lines instead of kept entries spread
  // over the matrix, and a masked optimizer update touches those lines only. Products that ran the line kernels run
  // the sparse ones (kSparse) from then on, since line kernels need the network's layout; the caller must not pack a
  // layer with a dense product. Every chain of multiply-adds keeps its terms and their order, so results do not
  // change. Returns false, changing nothing, when the layer cannot pack its weights. Called by the plan that owns this
  // object, before any layer runs with it.
  bool PackWeights();
  // Packs the layer's kept weights in its dense_packed kernels' order instead (fully connected layers), and runs
  // forward and weight gradient on those kernels at every batch, the input gradient on the sparse one (which reads
  // weights by index). Returns false, changing nothing, when the layer has no such kernels or is already packed.
  // Called by the plan that owns this object, before any layer runs with it.
  bool PackWeightsDense();

 protected:
  // `weight_mask`: the mask's 0/1 entries over the layer's weights, from which kept_weights() and density() come.
  LayerSparsity(absl::Span<const float> weight_mask, int64_t max_batch);
  // The layer's part of PackWeights: moves the weights, points the structures there and calls set_weight_order.
  // Returns false, changing nothing, when it cannot.
  virtual bool PackLayerWeights() { return false; }
  // The layer's part of PackWeightsDense, likewise.
  virtual bool PackLayerWeightsDense() { return false; }
  // For PackLayerWeights. REQUIRES: `order` is a permutation of the layer's weights.
  void set_weight_order(std::vector<int32_t> order);

 private:
  static int BatchClass(int64_t batch);

  int64_t kept_weights_;
  double density_;
  int64_t max_batch_;
  bool biases_pruned_ = false;
  std::vector<int32_t> weight_order_;
  std::vector<std::array<KernelKind, kProducts>> kernels_;
};

// Pointers to a layer's parameters inside the parameter buffer; null when the layer has none.
struct LayerParameters {
  const float* weights = nullptr;
  const float* biases = nullptr;
  // The layer's sparse structures when it runs under a pruning mask (pruned weights are then never read), else null.
  const LayerSparsity* sparsity = nullptr;
};

// Pointers to a layer's slots in the gradient buffer; always accumulated into. Null: not wanted (a layer without that
// tensor, or biases a plan's mask prunes entirely).
struct LayerGradients {
  float* weights = nullptr;
  float* biases = nullptr;
};

// Whether Backward overwrites a gradient or adds to it.
enum class GradientMode { kOverwrite, kAccumulate };

struct ForwardArguments {
  int64_t batch = 0;                      // Examples, >= 1.
  absl::Span<const float* const> inputs;  // One per input, batch * input_shapes()[i].size() floats.
  LayerParameters parameters;             // Null for parameter-free layers.
  float* output = nullptr;                // batch * output_shape().size() floats, overwritten.
  float* scratch = nullptr;               // ScratchFloats(batch) floats, 64-byte aligned, contents undefined.
};

// The gradient of a layer's output in pooled form: what a 2 x 2, stride-2 max-pool over that output (its only reader)
// routes back (MaxPoolLayer's rule: each pooled element's gradient to the first element of its window, in row-major
// order, that equals the pooled maximum; nothing to the rest, nor to rows and columns no window covers).
struct PooledGradient {
  const float* output = nullptr;           // The layer's own output (the pool's input), as computed by Forward.
  const float* pooled_output = nullptr;    // The pool's output, batch x (height / 2) x (width / 2) x channels.
  const float* pooled_gradient = nullptr;  // d objective / d pooled output, the same shape.
};

struct BackwardArguments {
  int64_t batch = 0;
  absl::Span<const float* const> inputs;   // As passed to Forward.
  const float* output = nullptr;           // As computed by Forward.
  const float* output_gradient = nullptr;  // d objective / d output, batch * output_shape().size() floats.
  LayerParameters parameters;
  absl::Span<float* const> input_gradients;             // One per input; a null entry means "not needed" (skipped).
  absl::Span<const GradientMode> input_gradient_modes;  // One per input.
  LayerGradients parameter_gradients;                   // += d objective / d parameters, summed over the batch.
  // kOverwrite: = instead of +=, the same bits as adding to zeros. Under a sparse weight-gradient kernel only the kept
  // weights' entries are written; the pruned ones keep whatever they held.
  GradientMode parameter_gradient_mode = GradientMode::kAccumulate;
  float* scratch = nullptr;                             // ScratchFloats(batch) floats, contents undefined.
  // Non-null only where TakesPooledGradient(parameters.sparsity, batch) said yes: output_gradient is then null and
  // the output's gradient is the pool's routing of this (no input gradient is asked for).
  const PooledGradient* pooled = nullptr;
};

// A layer of a feed-forward network. Immutable after construction: Forward and Backward are const and keep all
// state in their arguments, so concurrent calls with distinct outputs, gradients and scratch are safe.
class Layer {
 public:
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  const std::string& name() const { return name_; }
  // Per-example shapes of the inputs (most layers have one) and of the output.
  const std::vector<ImageShape>& input_shapes() const { return input_shapes_; }
  const ImageShape& output_shape() const { return output_shape_; }

  // The parameter tensors, in buffer order (weights before biases). Empty for parameter-free layers.
  virtual std::vector<ParameterSpec> parameter_specs() const { return {}; }

  // Floats of scratch memory Forward and Backward need for a batch of `batch` examples.
  virtual int64_t ScratchFloats(int64_t batch) const {
    static_cast<void>(batch);
    return 0;
  }

  // Multiply-adds of the forward pass for one example (matrix products only; 0 for cheap elementwise layers).
  // A training step costs about three times this (two for the first layer, which needs no input gradient).
  virtual int64_t MultiplyAddsPerExample() const { return 0; }

  // output = f(inputs; parameters).
  virtual void Forward(const ForwardArguments& arguments) const = 0;

  // Given d objective / d output, writes or adds d objective / d input for each non-null input gradient and adds
  // d objective / d parameters into the parameter gradients. With a sparsity object, only the kept entries of the
  // weight gradient are added to.
  virtual void Backward(const BackwardArguments& arguments) const = 0;

  // Buffer sharing (Network keeps a tensor's gradient in the memory of its values when both hold; see
  // Network::GradientSharesValues). Each is a promise about Backward that layer_testing's HonorsBufferSharing checks:
  // - BackwardReadsOutput false: Backward never reads `arguments.output` (it may be null or hold anything).
  // - OverwritesInputWithGradient true (single-input layers): with its input gradient in kOverwrite mode, Backward
  //   gives the same bits when the input gradient is the input's own memory: it reads no input element after writing
  //   over it, and nothing else reads it.
  virtual bool BackwardReadsOutput() const { return true; }
  virtual bool OverwritesInputWithGradient() const { return false; }

  // Pool fusion (Network::FusedPool). A layer whose output feeds only a 2 x 2, stride-2 max-pool (IsMaxPool2x2) and
  // whose inputs need no gradient (it reads the network input) can take that pool's gradient in pooled form
  // (BackwardArguments::pooled) and compute its parameter gradients from it directly; the pool's backward pass, which
  // writes a gradient over the whole output, three quarters of it zeros, is then skipped. TakesPooledGradient says
  // whether Backward does so for `batch` examples under `sparsity` (null: dense); the result must be the same bits as
  // the pool's backward pass followed by this layer's.
  virtual bool TakesPooledGradient(const LayerSparsity* sparsity, int64_t batch) const {
    static_cast<void>(sparsity);
    static_cast<void>(batch);
    return false;
  }
  // True for a max-pool with 2 x 2 windows at stride 2 (the pool a layer can be fused with).
  virtual bool IsMaxPool2x2() const { return false; }

  // For layers with weights: the sparse structures for the pruning mask `weight_mask` (the mask's entries over this
  // layer's weights, 0 or 1, in the weights' layout) serving batches of up to `max_batch` examples. Null when the
  // layer has no sparse kernels (no weights, or a build without AVX-512).
  virtual std::unique_ptr<LayerSparsity> CreateSparsity(absl::Span<const float> weight_mask, int64_t max_batch) const {
    static_cast<void>(weight_mask);
    static_cast<void>(max_batch);
    return nullptr;
  }

 protected:
  Layer(std::string name, std::vector<ImageShape> input_shapes, ImageShape output_shape)
      : name_(std::move(name)), input_shapes_(std::move(input_shapes)), output_shape_(output_shape) {}

 private:
  std::string name_;
  std::vector<ImageShape> input_shapes_;
  ImageShape output_shape_;
};

}  // namespace parsity::nn

#endif  // PARSITY_TRAINING_NN_LAYER_H_
