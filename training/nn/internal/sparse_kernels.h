// Sparse ("kept weights only") kernels for AVX-512: the three products of a convolution or fully connected layer
// computed over the kept entries of a fixed pruning mask, with results identical to the direct dense kernels
// (training/nn/internal/direct_convolution.h) run on the masked weights. Used through the sparse execution plan
// (training/nn/sparse_plan.h); the design and the measured speed are in training/README.md, "Sparse execution".
//
//   SparseRows rows = ...;                       // built once per trial from the mask (sparse_layers.cc)
//   ToPlanar(geometry, image, planar);           // NHWC -> channel-major planes, zero-padded, split by stride phase
//   SparseRowsForward(rows, values, planar, lane_vectors, biases, output_planes, output_plane);
//
// Why the results are identical, not merely close: every output element of the dense kernels is a chain of fused
// multiply-adds in a fixed order (the bias, then the reduction index ascending; see each kernel below). These
// kernels run the same chain for every element and skip only the terms whose weight is pruned, and fma(x, 0, a) == a
// for finite x. (Only the sign of a zero result can differ, and only when non-finite activations appear would a
// skipped 0 * inf differ: by then the trial has diverged.)
//
// - Forward (and the input gradient of fully connected layers and of stride-1 SAME convolutions, which are forward
//   products with transposed or flipped weights): vectorized over output pixels. The input is copied once into
//   channel-major planes, split into stride x stride phases, so that output pixel q = oy * phase_width + ox of every
//   kept weight (ky, kx, c) reads plane (phase(ky, kx), c) at the fixed offset (ky / s) * phase_width + kx / s: one
//   broadcast weight times contiguous vectors of 16 pixels. Lanes past the last column of a row are computed and
//   discarded. Stride-1 convolutions at batches of 16 or more run each 16 images on batch lanes instead (kBatchLanes
//   below): aligned loads, no discarded lanes.
// - Fully connected layers at batches up to 32 (one or two lane vectors): a forward row's chain of a few dozen
//   multiply-adds would wait on latency, so either every kept weight updates its output's planes in place, streamed in
//   the weights' own order (SparseRowsAccumulate), or, when rows are long enough, the rows are cut into blocks of
//   inputs (outputs, for the input gradient) and several rows of a block run side by side with their accumulators in
//   registers and the block's input planes in L1 (SparseRowBlocks).
// - Input gradient of other convolutions ("scatter"): for each kept weight row k, a partial sum over its kept output
//   channels, added onto the input-gradient planes at k's offset, rows in the dense kernel's order.
// - Weight gradient: vectorized over kept entries. Each vector holds 16 kept (k, o) entries of one block of 32
//   consecutive k (within one kernel row) by 32 consecutive o, and for every pixel selects its inputs and output
//   gradients with two in-register permutes of the pixel's NHWC rows; the pixel sum runs in the dense kernel's order.
//   A block of many vectors runs them together; vectors of blocks with one or two run in groups of up to 8 from
//   blocks of the same output channels, so that even very sparse layers keep enough chains in flight. A vector's
//   entries are gathered from and scattered to the weight gradient by index, or, when the layer's kept weights lie
//   packed in the vectors' order (SparseWeightGradientPlan::contiguous), loaded and stored as one masked vector.
#ifndef PARSITY_TRAINING_NN_INTERNAL_SPARSE_KERNELS_H_
#define PARSITY_TRAINING_NN_INTERNAL_SPARSE_KERNELS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "training/nn/internal/direct_convolution.h"
#include "training/nn/layer.h"

namespace parsity::nn_internal {

// Whether the kernels below exist in this build (compiled for AVX-512F). When false they must not be called.
bool HasSparseKernels();

// Where a batch of NHWC images lives once copied into planes: image b, phase (py, px), channel c, row y', column x'
// is planar[b * image + ((py * stride + px) * channels + c) * plane + y' * phase_width + x'], holding padded pixel
// (y' * stride + py, x' * stride + px), where the padded image has pad_top zero rows above and pad_left zero
// columns to the left of the source image, and zeros wherever the source has no pixel.
struct PlanarGeometry {
  int64_t height = 0;  // The source image.
  int64_t width = 0;
  int64_t channels = 0;
  int64_t pad_top = 0;
  int64_t pad_left = 0;
  int64_t stride = 1;
  int64_t phase_height = 0;  // ceil(padded_height / stride).
  int64_t phase_width = 0;
  int64_t plane = 0;  // phase_height * phase_width.
  int64_t image = 0;  // Floats per image: stride^2 * channels * plane plus a zero tail of kPlanarTail floats.
};

// Zero floats after the last plane of an image, so that full vectors past the last valid pixel stay inside it.
inline constexpr int64_t kPlanarTail = 16;

// REQUIRES: padded_height >= pad_top + height, padded_width >= pad_left + width, all sizes >= 1.
PlanarGeometry MakePlanarGeometry(int64_t height, int64_t width, int64_t channels, int64_t pad_top, int64_t pad_left,
                                  int64_t padded_height, int64_t padded_width, int64_t stride);

// Offset inside one planar image of the window element (ky, kx, c) for output pixel (0, 0).
inline int64_t PlanarOffset(const PlanarGeometry& g, int64_t ky, int64_t kx, int64_t c) {
  return (((ky % g.stride) * g.stride + kx % g.stride) * g.channels + c) * g.plane + (ky / g.stride) * g.phase_width +
         kx / g.stride;
}

// Output lanes of a layer whose outputs are out_height x out_width: q = oy * phase_width + ox, so
// (out_height - 1) * phase_width + out_width of them, rounded up to vectors of 16.
int64_t LaneVectors(const PlanarGeometry& g, int64_t out_height, int64_t out_width);

// Copies `batch` NHWC images (g.height x g.width x g.channels each) into planar form (batch * g.image floats).
void ToPlanar(const PlanarGeometry& g, const float* images, int64_t batch, float* planar);
// ToPlanar without the zeros: copies the source pixels only, for a `planar` whose padding and tail are still zero from
// an earlier ToPlanar of the same geometry (nothing else written there since), as when one buffer takes a batch's
// images one after another.
void CopyToPlanar(const PlanarGeometry& g, const float* images, int64_t batch, float* planar);

// The inverse of ToPlanar for the source pixels (padding is dropped): writes (overwrite) or adds (accumulate) the
// planar values into `batch` NHWC images.
void FromPlanar(const PlanarGeometry& g, const float* planar, int64_t batch, bool accumulate, float* images);

// Per output element of an out_height x out_width x channels NHWC image: planes[o * plane + oy * row + ox] is
// element (oy, ox, o). ToPlanes copies NHWC into planes (other lanes untouched); FromPlanes writes (overwrite) or
// adds (accumulate) the planes' values into the NHWC image.
void ToPlanes(const float* image, int64_t out_height, int64_t out_width, int64_t channels, int64_t row, int64_t plane,
              float* planes);
void FromPlanes(const float* planes, int64_t out_height, int64_t out_width, int64_t channels, int64_t row,
                int64_t plane, bool accumulate, float* image);

// Batch lanes: 16 images side by side in every vector, for stride-1 convolutions at batches of 16 or more. Element
// (c, y, x) of the padded image of image i is lanes[(c * g.plane + y * g.phase_width + x) * 16 + i] (g a
// BatchLaneGeometry), so a kept weight's planar offset in g times 16 addresses the vector of its input for output pixel
// (0, 0), every load is one aligned cache line, and no lane is computed and discarded (pixel lanes load across cache
// lines and, for narrow images, waste up to a third of their lanes: Simple-CNN's second convolution, 8 x 8 outputs on
// 12-pixel rows).
inline constexpr int64_t kBatchLanes = 16;

// The batch-lane layout of a stride-1 planar geometry: the same, except that channel planes lie an odd number of
// pixels (cache lines) apart, so that the 16 rows of a transpose tile fall into different L1 sets (with planes a
// multiple of 4 KiB apart, as Simple-CNN's first convolution's 576-pixel output planes are, they all shared one set and
// copying the output out took longer than the product). REQUIRES: g.stride == 1.
PlanarGeometry BatchLaneGeometry(const PlanarGeometry& g);

// Floats of one batch-lane image group of a BatchLaneGeometry.
inline int64_t BatchLaneFloats(const PlanarGeometry& g) { return kBatchLanes * g.channels * g.plane; }

// Copies 16 NHWC images (g.height x g.width x g.channels each, one after another) into batch lanes; the padding lanes
// are not written (the caller zeroes them). REQUIRES: g.stride == 1.
void ToBatchLanes(const PlanarGeometry& g, const float* images, float* lanes);

// The inverse for the source pixels (padding is dropped): writes (overwrite) or adds (accumulate) the lanes' values
// into 16 NHWC images. REQUIRES: g.stride == 1.
void FromBatchLanes(const PlanarGeometry& g, const float* lanes, bool accumulate, float* images);

// A sparse matrix in compressed rows whose columns are addressed by offsets into planar data.
// Row r has entries [row_start[r], row_start[r + 1]); entry e multiplies the plane data at offsets[e] by the weight
// at weight_index[e] of the layer's weight tensor (gathered into a packed values array by PackValues).
struct SparseRows {
  std::vector<int32_t> row_start;
  std::vector<int32_t> offsets;
  std::vector<int32_t> weight_index;
  // Scatter form only: where row r's partial sums are added (an offset into the target planes).
  std::vector<int32_t> target_offset;

  int64_t rows() const { return static_cast<int64_t>(row_start.size()) - 1; }
  int64_t entries() const { return static_cast<int64_t>(offsets.size()); }
};

// Where a layer's sparse kernels keep their temporaries inside the layer's scratch memory (null: not needed).
struct SparseScratch {
  float* padded_input = nullptr;  // Padded convolutions: the zero-padded NHWC batch the weight gradient reads.
  float* planar = nullptr;        // One planar image (convolutions) or the transposed batch (fully connected).
  float* planes = nullptr;        // Output planes of a forward product, or output-gradient planes.
  float* values = nullptr;        // Packed weight values, one per entry.
  float* zeros = nullptr;         // Zeros: the start of an overwritten input gradient.
};

// The floats of each region, in the order of SparseScratch.
struct SparseScratchSizes {
  int64_t padded_input = 0;
  int64_t planar = 0;
  int64_t planes = 0;
  int64_t values = 0;
  int64_t zeros = 0;
};

// Lays the regions out one after another from `scratch`, each starting on a 64-byte boundary, into `*regions`
// (when not null) and returns the floats they take in all.
int64_t LayOutSparseScratch(const SparseScratchSizes& sizes, float* scratch, SparseScratch* regions);

// The part every layer's sparse structures share: scratch regions sized by the layer (Sizes), laid out by
// LayOutSparseScratch.
class SparseLayerStructures : public nn::LayerSparsity {
 public:
  virtual SparseScratchSizes Sizes(int64_t batch) const = 0;

  // The regions inside `scratch` for a batch of `batch`.
  SparseScratch Regions(float* scratch, int64_t batch) const {
    SparseScratch regions;
    LayOutSparseScratch(Sizes(batch), scratch, &regions);
    return regions;
  }
  int64_t ScratchFloats(int64_t batch) const final { return LayOutSparseScratch(Sizes(batch), nullptr, nullptr); }

 protected:
  using nn::LayerSparsity::LayerSparsity;
};

// The backward pass of a layer whose products may each run sparse: calls `weight_gradient(kind)` and
// `input_gradient(kind)` for the products requested in `arguments` that `sparsity` runs with a sparse kind at this
// batch, and returns the arguments of what is left for the dense kernels (those products removed: null gradients).
inline float* const kNoInputGradients[1] = {nullptr};
template <typename WeightGradient, typename InputGradient>
nn::BackwardArguments RunSparseProducts(const nn::BackwardArguments& arguments, const nn::LayerSparsity& sparsity,
                                        WeightGradient weight_gradient, InputGradient input_gradient) {
  nn::BackwardArguments dense = arguments;
  const nn::KernelKind weight_kind = sparsity.kernel(nn::Product::kWeightGradient, arguments.batch);
  if (arguments.parameter_gradients.weights != nullptr && weight_kind != nn::KernelKind::kDense) {
    weight_gradient(weight_kind);
    dense.parameter_gradients.weights = nullptr;
  }
  const nn::KernelKind input_kind = sparsity.kernel(nn::Product::kInputGradient, arguments.batch);
  if (arguments.input_gradients[0] != nullptr && input_kind != nn::KernelKind::kDense) {
    input_gradient(input_kind);
    dense.input_gradients = absl::MakeConstSpan(kNoInputGradients, 1);
  }
  return dense;
}

// values[e] = weights[rows.weight_index[e]].
void PackValues(const SparseRows& rows, const float* weights, float* values);

// For every row r and lane q < 16 * lane_vectors:
//   out[r * out_plane + q] = start + sum over entries e of r, in order, of values[e] * in[offsets[e] * scale + q]
// as a chain of fused multiply-adds, start = biases[r], or out[r * out_plane + q] itself when biases is null.
// (`scale` is 1 for convolutions, whose offsets are final; fully connected layers store plane numbers and pass the
// batch-dependent plane size.) REQUIRES: every lane read lies inside `in` (see kPlanarTail).
void SparseRowsForward(const SparseRows& rows, const float* values, const float* in, int64_t scale,
                       int64_t lane_vectors, const float* biases, float* out, int64_t out_plane);

// SparseRowsForward over batch lanes, written as 16 NHWC images: for every row r (output channel), output pixel
// (oy, ox) with oy < out_height, ox < out_width, and image i < 16:
//   images[((i * out_height + oy) * out_width + ox) * rows + r] =
//       biases[r] + sum over entries e of r, in order, of values[e] * lanes[(offsets[e] + oy * in_row + ox) * 16 + i]
// as a chain of fused multiply-adds (the same chain as SparseRowsForward's for that pixel), `offsets` being the
// planar offsets in the input's BatchLaneGeometry, whose phase_width is in_row. One output row at a time is computed
// into `band` (BatchLaneBandFloats) and transposed out while it is in L1: a whole group's output in batch lanes
// (1.2 MB for Simple-CNN's first convolution) went out to L3 and back. REQUIRES: biases not null; `lanes` and `band`
// 64-byte aligned for aligned loads (correct either way).
void SparseRowsForwardBatchLanes(const SparseRows& rows, const float* values, const float* lanes, int64_t in_row,
                                 int64_t out_height, int64_t out_width, const float* biases, float* band,
                                 float* images);

// Pixels between the channel rows of SparseRowsForwardBatchLanes's band: an odd number of cache lines, as
// BatchLaneGeometry's planes.
inline int64_t BatchLaneBandRow(int64_t out_width) { return out_width | 1; }

// Floats of SparseRowsForwardBatchLanes's band for `channels` outputs of `out_width` pixels.
inline int64_t BatchLaneBandFloats(int64_t channels, int64_t out_width) {
  return kBatchLanes * channels * BatchLaneBandRow(out_width);
}

// The forward product in the other order, for short lanes (at most 2 vectors, i.e. batches of up to 32 for fully
// connected layers): for every row r (an input plane) in order, every entry e of r in order and lane q:
//   out[offsets[e] * out_plane + q] = fma(weights[weight_index[e]], in[r * scale + q], out[offsets[e] * out_plane + q])
// Each output element gets the same chain as SparseRowsForward would give it with the transposed rows (its
// entries by ascending input), without gathering the weights first: rows in the weights' own order read them
// sequentially. `out` must hold the chain's start (the biases). A fully connected layer's input gradient runs it with
// the forward rows (each input's sum over its outputs in ascending order, as the dense kernel's).
// REQUIRES: 1 <= lane_vectors <= 2.
void SparseRowsAccumulate(const SparseRows& rows, const float* weights, const float* in, int64_t scale,
                          int64_t lane_vectors, float* out, int64_t out_plane);

// The rows of a fully connected layer's SparseRows cut into blocks of their reduction index, for the short-lane
// products (batches up to 32) that SparseRowsAccumulate otherwise runs: the forward rows (per output, its kept inputs)
// cut by blocks of inputs, or the transposed rows (per input, its kept outputs) cut by blocks of outputs. Block k holds,
// for every row with entries among reduction indices [k * block, (k + 1) * block), one row of those entries in their
// order; target_offset[r] is the row it came from (the output plane it adds to). A block's rows are sorted by entry
// count, most first, so that rows running side by side have similar lengths. The rows of block k are
// [block_start[k], block_start[k + 1]); row r's entries are entry[row_start[r]] to entry[row_start[r + 1] - 1].
struct SparseRowBlocks {
  // Entries a row of a block should get at the rows' mean density: the block's loads and stores of its rows'
  // accumulators are spread over that many multiply-adds.
  static constexpr int64_t kTargetRowEntries = 16;
  // The fewest reduction indices per block (a block's input planes take 64 * lane_vectors bytes each: 16 KiB at 32).
  static constexpr int64_t kMinBlock = 128;
  // Below this mean entries per row, loading and storing the accumulators costs more than SparseRowsAccumulate's
  // store per entry (measured on the LeNet-300-100 shapes: 2.3 entries per row 25% slower, 6 entries 25% faster).
  static constexpr int64_t kMinMeanRowEntries = 6;

  // A kept weight: SparseRows' weight_index and offset side by side, so that the kernel reads both with one 8-byte
  // load (two 4-byte loads per kept weight made SparseRowBlocksForward 9-11% slower on LeNet-300-100's first layer).
  struct Entry {
    int32_t weight_index;
    int32_t offset;  // The reduction index.
  };

  int64_t block = 0;  // Reduction indices per block.
  std::vector<int32_t> row_start;
  std::vector<int32_t> target_offset;
  std::vector<Entry> entry;
  std::vector<int32_t> block_start;

  int64_t rows() const { return static_cast<int64_t>(target_offset.size()); }
  int64_t entries() const { return static_cast<int64_t>(entry.size()); }
  // Whether SparseRowBlocksForward should run instead of SparseRowsAccumulate (kMinMeanRowEntries).
  bool pays() const { return rows() > 0 && entries() >= kMinMeanRowEntries * rows(); }
};

// Cuts `rows`, whose offsets are reduction indices in [0, reduction) ascending within each row, into blocks of
// max(kMinBlock, kTargetRowEntries / density) indices (a multiple of 32, at most `reduction`), density being the
// entries over rows * reduction.
SparseRowBlocks MakeSparseRowBlocks(const SparseRows& rows, int64_t reduction);

// For every source row o of `blocks` and lane q < 16 * lane_vectors, the chain
//   out[o * out_plane + q] = fma(weights[e.weight_index], in[e.offset * scale + q], out[o * out_plane + q])
// over o's entries e in ascending reduction order, block after block: SparseRowsAccumulate's chains (run over the
// transposed rows) computed with a block's planes of `in` in L1 and its rows' accumulators in registers, 8 chains in
// flight (8 rows at one lane vector, 4 at two). `out` must hold the chains' starts. REQUIRES: 1 <= lane_vectors <= 2
// and every lane read lies inside `in` (see kPlanarTail).
void SparseRowBlocksForward(const SparseRowBlocks& blocks, const float* weights, const float* in, int64_t scale,
                            int64_t lane_vectors, float* out, int64_t out_plane);

// For every row r in order and lane q < 16 * lane_vectors:
//   target[target_offset[r] + q] += (0 + sum over entries e of r, in order, of in[offsets[e] + q] * values[e])
// with the sum a chain of fused multiply-adds from +0.
void SparseRowsScatter(const SparseRows& rows, const float* values, const float* in, int64_t lane_vectors,
                       float* target);

// SparseRowsScatter over batch lanes, for stride-1 convolutions with out_height x out_width outputs: for every row r,
// output pixel (oy, ox) and image lane i < 16:
//   target[(target_offset[r] + oy * in_row + ox) * 16 + i] +=
//       (0 + sum over entries e of r, in order, of lanes[offsets[e] + (oy * out_width + ox) * 16 + i] * values[e])
// (offsets[e] = o * plane * 16 for output channel o, plane that of the output's BatchLaneGeometry; target_offset[r]
// the row's planar offset in the input's BatchLaneGeometry).
// Each target element gets its rows' sums in ascending row order, as SparseRowsScatter adds them, provided that the
// rows come in blocks [block_start[b], block_start[b + 1]) within which the rows' kernel rows ky never decrease: blocks
// run one after another and, within a block, output rows in descending order (a later kernel row reaches the same
// target from an earlier output row), so that one output row's gradients stay in L1 for a whole block.
void SparseRowsScatterBatchLanes(const SparseRows& rows, const std::vector<int32_t>& block_start, const float* values,
                                 const float* lanes, int64_t out_height, int64_t out_width, int64_t in_row,
                                 float* target);

// Kept weight entries in vectors of 16 for the weight-gradient kernel (see the file comment).
struct SparseWeightGradientPlan {
  struct Block {
    int64_t ky = 0;        // Kernel row.
    int64_t j0 = 0;        // First index within the kernel row (kx * in_channels + c), up to 32 of them.
    int64_t j_count = 0;
    int64_t o0 = 0;        // First output channel, up to 32 of them.
    int64_t o_count = 0;
    int64_t first_vector = 0;
    int64_t vectors = 0;
    bool grouped = false;  // Its vectors are run through `groups`, not block by block.
  };
  // Vectors of blocks too small to hide the fused multiply-add's latency on their own (fewer than
  // kMinBlockVectors), gathered kMaxGroupedVectors at a time among blocks with the same output channels and lane
  // masks, so that one pass over the pixels loads each pixel's output gradients once and runs that many chains.
  static constexpr int64_t kMinBlockVectors = 3;
  static constexpr int kMaxGroupedVectors = 8;
  struct Group {
    int64_t o0 = 0;
    int64_t o_count = 0;
    int64_t j_count = 0;
    int count = 0;
    int64_t vector[kMaxGroupedVectors] = {};        // Into input_lane, output_lane and weight_index.
    int64_t input_offset[kMaxGroupedVectors] = {};  // ky * padded row + j0 of the vector's block.
  };
  std::vector<Block> blocks;
  std::vector<Group> groups;
  // 16 per vector: the lane's j - j0 and o - o0 (0 in unused lanes) and its index into the weight tensor (-1: unused).
  std::vector<int32_t> input_lane;
  std::vector<int32_t> output_lane;
  std::vector<int32_t> weight_index;
  // Whether every used lane's weight_index is its own position in weight_index (weights packed in the plan's order,
  // LayerSparsity::PackWeights): a vector's entries then load and store as one masked vector instead of a gather and
  // a scatter. A vector's used lanes come first, so lane 0 is always used.
  bool contiguous = false;

  int64_t vectors() const { return static_cast<int64_t>(weight_index.size()) / 16; }
};

// Builds the plan from the kept entries of a weight tensor of `geometry` (kernel * kernel * in_channels rows by
// out_channels columns, row-major HWIO). `kept(index)` says whether weight `index` is kept.
// Fully connected weights packed in the dense kernel's order, for the "dense_packed" kernels. The dense kernel
// (DirectConvolutionForward and DirectConvolutionWeightGradient on a batch row) walks the in x out row-major weight
// matrix by blocks of 64 outputs (4 vectors of 16; the last block narrower), inputs ascending within a block and
// vectors ascending within an input. The packed layout holds only the kept weights, one after another in that walk
// (a vector's kept lanes ascending). The dense_packed kernels walk it the same way, expanding each vector as they load
// it (pruned lanes 0) and compressing it as they store it: the dense kernel's arithmetic, chain for chain (so the same
// values), over the kept weights' bytes only. Where a layer keeps half its weights or fewer, a small-batch step, which
// moves the weights and their gradient more than it computes, moves half the bytes or fewer, and those fit a cache
// level that the whole matrix overflows (LeNet-300-100's first layer: 940 KB dense, 450 KB packed at 50% sparsity, 1
// MiB of L2).
struct PackedDenseLayout {
  int64_t in = 0;
  int64_t out = 0;
  // Block b's kept lanes, input-major: vector v of input i at kept[b * in * 4 + i * vectors + v] (every block but the
  // last has 4 vectors).
  std::vector<uint16_t> kept;
  // The packed position of the first kept weight of block b and input i, at row_start[b * (in + 1) + i] (i <= in).
  std::vector<int32_t> row_start;
  // Packed position p holds weight weight_index[p] (i * out + o) of the network's layout.
  std::vector<int32_t> weight_index;

  int64_t kept_weights() const { return static_cast<int64_t>(weight_index.size()); }
};

// The packed layout of an in x out weight matrix whose 0/1 mask is `weight_mask` (in * out floats, row-major).
PackedDenseLayout MakePackedDenseLayout(int64_t in, int64_t out, const float* weight_mask);

// output[b, o] = biases[o] + sum over inputs i ascending of input[b, i] * weights[i, o], DirectConvolutionForward's
// chains on a batch row, with the weights packed in `layout` (`packed_weights`: layout.kept_weights() floats).
// `input` is batch x in, `output` batch x out (overwritten).
void PackedDenseForward(const PackedDenseLayout& layout, int64_t batch, const float* input,
                        const float* packed_weights, const float* biases, float* output);

// The weight gradient's kept entries, packed in `layout`: packed_gradient[p] += sum over b ascending of
// input[b, i] * output_gradient[b, o] for the weight (i, o) at p, DirectConvolutionWeightGradient's chains; with
// `overwrite` each chain starts from +0 instead. Nothing past the kept entries is touched.
void PackedDenseWeightGradient(const PackedDenseLayout& layout, int64_t batch, const float* input,
                               const float* output_gradient, bool overwrite, float* packed_gradient);

template <typename KeptFunction>
SparseWeightGradientPlan MakeSparseWeightGradientPlan(const ConvolutionGeometry& geometry, KeptFunction kept);

// weight_gradient[k, o] += sum over images, then output pixels in row-major order, of padded_input * output_gradient
// for every kept (k, o) of the plan, exactly as DirectConvolutionWeightGradient computes it; other entries are not
// touched. With `overwrite`, each kept entry's chain starts from +0 instead of its value (the same bits as on a zeroed
// buffer, without reading or zeroing it).
void SparseWeightGradient(const ConvolutionGeometry& geometry, int64_t batch, const float* padded_input,
                          const float* output_gradient, const SparseWeightGradientPlan& plan, bool overwrite,
                          float* weight_gradient);

// Fully connected products at small batches, vectorized over outputs instead of over the batch ("lines"). The
// in x out row-major weight matrix is cut into lines of 16 consecutive outputs of one input row, and only the lines
// that hold a kept weight are visited: each is loaded with its pruned lanes as zeros, so every output's chain is the
// dense kernel's with only all-zero terms left out. Inputs and outputs stay in their NHWC rows (no copies). This pays
// where kept weights cluster into few lines, as SNIP's do (in LeNet-300-100's first layer at 90% sparsity, 7.5% of
// the weights lie in 46% of the lines: some hidden units keep many inputs, others few).
struct SparseLines {
  struct Line {
    int32_t weight_offset;  // row * out + 16 v: the line's first entry in the weight matrix.
    int32_t row;            // The input row i.
    uint16_t kept;          // The line's kept lanes (bit l: output 16 v + l).
  };
  int64_t in = 0;
  int64_t out = 0;
  // The lines of output block v (outputs [16 v, 16 v + 16)) are [block_start[v], block_start[v + 1]), rows ascending.
  std::vector<int32_t> block_start;
  std::vector<Line> line;
};

// The lines of an in x out weight matrix whose 0/1 mask is `weight_mask` (in * out floats, row-major).
SparseLines MakeSparseLines(int64_t in, int64_t out, const float* weight_mask);

// output[b, o] = biases[o] + sum over inputs i ascending of input[b, i] * weights[i, o] over the kept weights, as a
// chain of fused multiply-adds: DirectConvolutionForward's chain on the masked weights. `input` is batch x in,
// `output` batch x out (overwritten); pruned weights are never read.
void SparseLinesForward(const SparseLines& lines, int64_t batch, const float* input, const float* weights,
                        const float* biases, float* output);

// weight_gradient[i, o] += sum over b ascending of input[b, i] * output_gradient[b, o], a chain of fused
// multiply-adds from the entry's value (from +0 with `overwrite`), for every kept (i, o):
// DirectConvolutionWeightGradient's chain. Pruned entries are not touched.
void SparseLinesWeightGradient(const SparseLines& lines, int64_t batch, const float* input,
                               const float* output_gradient, bool overwrite, float* weight_gradient);

template <typename KeptFunction>
SparseWeightGradientPlan MakeSparseWeightGradientPlan(const ConvolutionGeometry& geometry, KeptFunction kept) {
  SparseWeightGradientPlan plan;
  const int64_t kernel_row = geometry.kernel * geometry.in_channels;
  const int64_t channels = geometry.out_channels;
  for (int64_t ky = 0; ky < geometry.kernel; ++ky) {
    for (int64_t j0 = 0; j0 < kernel_row; j0 += 32) {
      for (int64_t o0 = 0; o0 < channels; o0 += 32) {
        SparseWeightGradientPlan::Block block;
        block.ky = ky;
        block.j0 = j0;
        block.j_count = kernel_row - j0 < 32 ? kernel_row - j0 : 32;
        block.o0 = o0;
        block.o_count = channels - o0 < 32 ? channels - o0 : 32;
        block.first_vector = plan.vectors();
        int64_t lanes = 0;
        for (int64_t j = j0; j < j0 + block.j_count; ++j) {
          for (int64_t o = o0; o < o0 + block.o_count; ++o) {
            const int64_t index = (ky * kernel_row + j) * channels + o;
            if (!kept(index)) continue;
            plan.input_lane.push_back(static_cast<int32_t>(j - j0));
            plan.output_lane.push_back(static_cast<int32_t>(o - o0));
            plan.weight_index.push_back(static_cast<int32_t>(index));
            ++lanes;
          }
        }
        if (lanes == 0) continue;
        for (; lanes % 16 != 0; ++lanes) {
          plan.input_lane.push_back(0);
          plan.output_lane.push_back(0);
          plan.weight_index.push_back(-1);
        }
        block.vectors = plan.vectors() - block.first_vector;
        plan.blocks.push_back(block);
      }
    }
  }
  // Small blocks' vectors into groups of the same (o0, j_count): o_count follows from o0.
  const int64_t padded_row = geometry.padded_width * geometry.in_channels;
  std::vector<size_t> filling;  // Indices of the groups not yet full.
  for (SparseWeightGradientPlan::Block& block : plan.blocks) {
    if (block.vectors >= SparseWeightGradientPlan::kMinBlockVectors) continue;
    block.grouped = true;
    for (int64_t v = 0; v < block.vectors; ++v) {
      auto open = std::find_if(filling.begin(), filling.end(), [&](size_t g) {
        return plan.groups[g].o0 == block.o0 && plan.groups[g].j_count == block.j_count;
      });
      if (open == filling.end()) {
        SparseWeightGradientPlan::Group group;
        group.o0 = block.o0;
        group.o_count = block.o_count;
        group.j_count = block.j_count;
        plan.groups.push_back(group);
        open = filling.insert(filling.end(), plan.groups.size() - 1);
      }
      SparseWeightGradientPlan::Group& group = plan.groups[*open];
      group.vector[group.count] = block.first_vector + v;
      group.input_offset[group.count] = block.ky * padded_row + block.j0;
      if (++group.count == SparseWeightGradientPlan::kMaxGroupedVectors) filling.erase(open);
    }
  }
  return plan;
}

}  // namespace parsity::nn_internal

#endif  // PARSITY_TRAINING_NN_INTERNAL_SPARSE_KERNELS_H_
