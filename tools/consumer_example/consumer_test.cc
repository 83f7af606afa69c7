#include "gtest/gtest.h"
#include "tools/base/json.h"
TEST(ConsumerTest, Json) { EXPECT_EQ(parsity::JsonNumber(0.5), "0.5"); }
