#include "tools/base/aligned_vector.h"

#include <cstdint>
#include <utility>

#include "gtest/gtest.h"

namespace parsity {
namespace {

// Sizes on both sides of glibc's mmap threshold (128 KiB): std::vector<float> data lands 16 bytes past a 64-byte
// boundary at 1,000 floats and 16 bytes past a page from 40,000 on.
TEST(AlignedFloatVectorTest, DataStartsOnACacheLineAtEverySize) {
  for (const size_t size : {1, 3, 16, 17, 1000, 25088, 40000, 1605632}) {
    AlignedFloatVector values(size, 1.0f);
    EXPECT_TRUE(IsCacheLineAligned(values.data())) << size;
    // 16 bytes past, where std::vector<float> data lands.
    EXPECT_FALSE(IsCacheLineAligned(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(values.data()) + 16)));
    values.resize(3 * size + 5);  // Reallocates.
    EXPECT_TRUE(IsCacheLineAligned(values.data())) << size;
    const AlignedFloatVector copy = values;
    EXPECT_TRUE(IsCacheLineAligned(copy.data())) << size;
    AlignedFloatVector moved = std::move(values);
    EXPECT_TRUE(IsCacheLineAligned(moved.data())) << size;
    EXPECT_EQ(moved.size(), 3 * size + 5);
    EXPECT_EQ(moved[0], 1.0f);
  }
}

TEST(AlignedFloatVectorTest, GrowsByPushBackOnCacheLines) {
  AlignedFloatVector values;
  for (int i = 0; i < 100000; ++i) {
    values.push_back(static_cast<float>(i));
    ASSERT_TRUE(IsCacheLineAligned(values.data())) << values.size();
  }
  EXPECT_EQ(values[99999], 99999.0f);
}

}  // namespace
}  // namespace parsity
