#include "tools/base/json.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace parsity {
namespace {

TEST(JsonTest, ObjectsKeepOrderAndTypes) {
  JsonObject inner;
  inner.Add("kept", int64_t{12}).Add("total", 100);
  JsonArray list;
  list.Add(1.5).Add("x").Add(int64_t{-3});
  JsonObject object;
  object.Add("status", "COMPLETE").Add("ok", true).AddNull("steps").Add("layer", inner).Add("list", list);
  EXPECT_EQ(object.ToString(),
            R"({"status":"COMPLETE","ok":true,"steps":null,"layer":{"kept":12,"total":100},"list":[1.5,"x",-3]})");
}

TEST(JsonTest, StringsAreEscaped) {
  EXPECT_EQ(JsonQuote("a\"b\\c\nd\x01"), R"("a\"b\\c\nd\u0001")");
}

TEST(JsonTest, NumbersRoundTripAndNonFiniteIsNull) {
  for (const double value : {0.1, 1.0 / 3.0, 6.02214076e23, -2.5e-300, 0.0}) {
    EXPECT_EQ(std::strtod(JsonNumber(value).c_str(), nullptr), value) << JsonNumber(value);
  }
  EXPECT_EQ(JsonNumber(0.1), "0.1");
  EXPECT_EQ(JsonNumber(std::numeric_limits<double>::quiet_NaN()), "null");
  EXPECT_EQ(JsonNumber(-std::numeric_limits<double>::infinity()), "null");
}

}  // namespace
}  // namespace parsity
