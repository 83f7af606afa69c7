// The register tiles of the dense direct kernels (direct_convolution.cc) and of the kernels that keep their walk over
// packed weights (the dense_packed kernels, sparse_kernels.cc): R rows by NV vectors of 16 floats, at most 24
// accumulators (R * NV <= 24), which leaves registers for the operands; and the dispatch from runtime sizes to the
// tile templates.
#ifndef PARSITY_TRAINING_NN_INTERNAL_REGISTER_TILES_H_
#define PARSITY_TRAINING_NN_INTERNAL_REGISTER_TILES_H_

#include <cstdint>

namespace parsity::nn_internal::register_tiles {

// Vectors of 16 floats per tile row: up to 64 output channels per pass.
inline constexpr int64_t kMaxVectors = 4;
// Tile heights per vector count.
inline constexpr int kMaxTileRows[kMaxVectors + 1] = {0, 16, 12, 8, 6};

// Calls Tile<R, NV>::Run(arguments...) for the runtime tile height `rows` (1 <= rows <= R).
template <template <int, int> class Tile, int NV, int R, typename... Arguments>
inline void DispatchRows(int64_t rows, Arguments... arguments) {
  if constexpr (R > 1) {
    if (rows < R) {
      DispatchRows<Tile, NV, R - 1>(rows, arguments...);
      return;
    }
  }
  Tile<R, NV>::Run(arguments...);
}

// Calls Tile<rows, vectors>::Run(arguments...) for runtime rows <= kMaxTileRows[vectors], 1 <= vectors <= 4.
template <template <int, int> class Tile, typename... Arguments>
inline void Dispatch(int64_t vectors, int64_t rows, Arguments... arguments) {
  switch (vectors) {
    case 1:
      DispatchRows<Tile, 1, kMaxTileRows[1]>(rows, arguments...);
      break;
    case 2:
      DispatchRows<Tile, 2, kMaxTileRows[2]>(rows, arguments...);
      break;
    case 3:
      DispatchRows<Tile, 3, kMaxTileRows[3]>(rows, arguments...);
      break;
    default:
      DispatchRows<Tile, 4, kMaxTileRows[4]>(rows, arguments...);
      break;
  }
}

}  // namespace parsity::nn_internal::register_tiles

#endif  // PARSITY_TRAINING_NN_INTERNAL_REGISTER_TILES_H_
