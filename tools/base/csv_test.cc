#include "tools/base/csv.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"

namespace parsity {
namespace {

using ::parsity::testing::StatusIs;
using ::testing::ElementsAre;

std::string WriteTemporary(const std::string& name, const std::string& text) {
  const std::string path = absl::StrCat(::testing::TempDir(), "/", name);
  EXPECT_THAT(WriteFileAtomically(path, text), ::parsity::testing::IsOk());
  return path;
}

TEST(CsvTest, ReadsHeaderRowsAndLineNumbersSkippingBlankLines) {
  const std::string path = WriteTemporary("table.csv", "step,loss\n0,2.5\n\n100,1.25,extra\n");
  ASSERT_OK_AND_ASSIGN(const CsvTable table, ReadCsv(path));
  EXPECT_THAT(table.header, ElementsAre("step", "loss"));
  ASSERT_EQ(table.rows.size(), 2u);
  EXPECT_THAT(table.rows[0], ElementsAre("0", "2.5"));
  EXPECT_THAT(table.rows[1], ElementsAre("100", "1.25", "extra"));
  EXPECT_EQ(table.lines[1], "100,1.25,extra");
  EXPECT_EQ(table.Column("loss"), 1u);
  EXPECT_EQ(table.Column("lipschitz"), std::nullopt);
  EXPECT_EQ(table.Where(1), path + ":3");  // The blank line is not counted.
}

TEST(CsvTest, EmptyFileHasNoHeaderAndAMissingFileIsAnError) {
  ASSERT_OK_AND_ASSIGN(const CsvTable table, ReadCsv(WriteTemporary("empty.csv", "")));
  EXPECT_TRUE(table.header.empty());
  EXPECT_TRUE(table.rows.empty());
  EXPECT_THAT(ReadCsv(::testing::TempDir() + "/missing.csv").status(), StatusIs(absl::StatusCode::kNotFound));
}

// Non-finite numbers are spelled one way in every CSV ("inf", "-inf", "nan"; JSON's null is not a number) and read
// back by SimpleAtod; finite ones round-trip exactly.
TEST(CsvTest, NumbersRoundTripIncludingInfinitiesAndNaN) {
  EXPECT_EQ(CsvNumber(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(CsvNumber(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(CsvNumber(std::numeric_limits<double>::quiet_NaN()), "nan");
  EXPECT_EQ(CsvNumber(0.1), "0.1");
  for (const double value : {0.1, -2.5e-300, 1.0 / 3.0, 6.02214076e23, std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity()}) {
    double read = 0;
    ASSERT_TRUE(absl::SimpleAtod(CsvNumber(value), &read)) << CsvNumber(value);
    EXPECT_EQ(read, value);
  }
  double nan = 0;
  ASSERT_TRUE(absl::SimpleAtod(CsvNumber(std::numeric_limits<double>::quiet_NaN()), &nan));
  EXPECT_TRUE(std::isnan(nan));
}

}  // namespace
}  // namespace parsity
