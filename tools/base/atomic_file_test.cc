#include "tools/base/atomic_file.h"

#include <dirent.h>

#include <cstdlib>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::HasSubstr;

std::string TestDirectory() { return std::getenv("TEST_TMPDIR"); }

int CountEntries(const std::string& directory) {
  DIR* handle = opendir(directory.c_str());
  int count = 0;
  while (dirent* entry = readdir(handle)) {
    if (std::string(entry->d_name) != "." && std::string(entry->d_name) != "..") ++count;
  }
  closedir(handle);
  return count;
}

TEST(AtomicFileTest, WritesCreatesParentsAndReplaces) {
  const std::string directory = TestDirectory() + "/a/b/c";
  const std::string path = directory + "/result.json";
  ASSERT_THAT(WriteFileAtomically(path, "first"), IsOk());
  ASSERT_THAT(WriteFileAtomically(path, "second, longer"), IsOk());
  ASSERT_OK_AND_ASSIGN(const std::string contents, ReadFile(path));
  EXPECT_EQ(contents, "second, longer");
  // No temporary file is left beside the result.
  EXPECT_EQ(CountEntries(directory), 1);
}

TEST(AtomicFileTest, ReadingAMissingFileIsNotFoundNamingThePath) {
  const std::string path = TestDirectory() + "/missing.txt";
  EXPECT_THAT(ReadFile(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

TEST(AtomicFileTest, WritingUnderAFileFailsNamingThePath) {
  const std::string blocker = TestDirectory() + "/blocker";
  ASSERT_THAT(WriteFileAtomically(blocker, "x"), IsOk());
  EXPECT_THAT(WriteFileAtomically(blocker + "/inside/result.json", "y"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(blocker)));
}

}  // namespace
}  // namespace parsity
