// Vectors whose data starts on a cache-line boundary.
//
// The AVX-512 kernels load 64 bytes at a time; on the Intel Ice Lake build machines a load that crosses a cache line
// runs at half the rate of one that does not. Buffers the kernels stream through (parameters, gradients, optimizer
// state, and the examples and batches they read rows of) are therefore AlignedFloatVector, not std::vector<float>,
// whose data glibc places 16 bytes past a page boundary once it is large enough to be mapped on its own.
//
//   AlignedFloatVector pixels(batch * 784);  // pixels.data() % 64 == 0
#ifndef PARSITY_TOOLS_BASE_ALIGNED_VECTOR_H_
#define PARSITY_TOOLS_BASE_ALIGNED_VECTOR_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace parsity {

// Allocates on 64-byte boundaries (one cache line, one AVX-512 vector) whatever the target's vector width.
template <typename T>
struct CacheLineAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{64};

  CacheLineAllocator() = default;
  template <typename U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}  // NOLINT: converting, as allocators must be.

  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* pointer, size_t) { ::operator delete(pointer, kAlignment); }

  template <typename U>
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator<U>&) {
    return true;
  }
  template <typename U>
  friend bool operator!=(const CacheLineAllocator&, const CacheLineAllocator<U>&) {
    return false;
  }
};

// A float vector whose data starts on a 64-byte boundary.
using AlignedFloatVector = std::vector<float, CacheLineAllocator<float>>;

// Whether `data` starts on a boundary of CacheLineAllocator's alignment (for tests of the buffers that must).
inline bool IsCacheLineAligned(const void* data) {
  return reinterpret_cast<uintptr_t>(data) % static_cast<uintptr_t>(CacheLineAllocator<float>::kAlignment) == 0;
}

}  // namespace parsity

#endif  // PARSITY_TOOLS_BASE_ALIGNED_VECTOR_H_
