#include "tools/base/atomic_file.h"

#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/status_matchers.h"

namespace parsity {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::AllOf;
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

TEST(AtomicFileTest, ReadingADirectoryOrASymlinkLoopSaysSo) {
  // A directory used to read as an empty text, a loop as a missing file.
  const std::string directory = TestDirectory() + "/a_directory";
  ASSERT_THAT(CreateDirectories(directory), IsOk());
  EXPECT_THAT(ReadFile(directory), StatusIs(absl::StatusCode::kFailedPrecondition,
                                            HasSubstr("'" + directory + "' is a directory, not a file")));
  const std::string loop = TestDirectory() + "/loop";
  ASSERT_EQ(symlink("loop", loop.c_str()), 0);
  EXPECT_THAT(ReadFile(loop),
              StatusIs(absl::StatusCode::kFailedPrecondition, AllOf(HasSubstr(loop), HasSubstr("symlink loop"))));
}

TEST(AtomicFileTest, WritingUnderAFileFailsNamingThePath) {
  const std::string blocker = TestDirectory() + "/blocker";
  ASSERT_THAT(WriteFileAtomically(blocker, "x"), IsOk());
  EXPECT_THAT(WriteFileAtomically(blocker + "/inside/result.json", "y"),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr(blocker)));
}

TEST(AtomicFileTest, ParentFolderMustExist) {
  const std::string root = TestDirectory() + "/parents";
  ASSERT_THAT(CreateDirectories(root), IsOk());
  EXPECT_THAT(CheckParentFolderExists(root + "/result.csv"), IsOk());
  EXPECT_THAT(CheckParentFolderExists(root + "/new_folder/"), IsOk());
  EXPECT_THAT(CheckParentFolderExists(root + "/missing/deeper/result.csv"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("folder " + root + "/missing/deeper does not exist")));
  ASSERT_THAT(WriteFileAtomically(root + "/file", "x"), IsOk());
  EXPECT_THAT(CheckParentFolderExists(root + "/file/result.csv"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("folder " + root + "/file is not a directory")));
  EXPECT_FALSE(PathExists(root + "/missing"));
}

// The PID of a process that has ended (a child that exited and was reaped).
int64_t DeadPid() {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  return child;
}

TEST(AtomicFileTest, TemporaryFileNames) {
  EXPECT_EQ(TemporaryFileWriter("measurements.csv.tmp.4242"), 4242);
  EXPECT_EQ(TemporaryFileWriter("/r/s/3/metadata.json.tmp.17"), 17);
  EXPECT_EQ(TemporaryFileWriter("measurements.csv"), std::nullopt);
  EXPECT_EQ(TemporaryFileWriter("notes.tmp.old"), std::nullopt);
  EXPECT_EQ(TemporaryFileWriter("x.tmp."), std::nullopt);
  EXPECT_EQ(TemporaryFileWriter(".tmp.12"), std::nullopt);
  EXPECT_EQ(TemporaryFileWriter("x.tmp.0"), std::nullopt);
}

TEST(AtomicFileTest, RemovesOnlyTemporaryFilesOfDeadWriters) {
  const std::string directory = TestDirectory() + "/stale";
  const int64_t dead = DeadPid();
  ASSERT_FALSE(ProcessIsRunning(dead));
  ASSERT_TRUE(ProcessIsRunning(getpid()));
  for (const std::string& name :
       {absl::StrCat("measurements.csv.tmp.", dead), absl::StrCat("metadata.json.tmp.", getpid()),
        std::string("measurements.csv"), std::string("notes.tmp.x")}) {
    ASSERT_THAT(WriteFileAtomically(directory + "/" + name, "x"), IsOk());
  }
  ASSERT_THAT(WriteFileAtomically(absl::StrCat(directory, "/sub/study.json.tmp.", dead), "x"), IsOk());
  ASSERT_OK_AND_ASSIGN(const int removed, RemoveTemporaryFilesOfDeadWriters(directory));
  EXPECT_EQ(removed, 1);
  EXPECT_FALSE(PathExists(absl::StrCat(directory, "/measurements.csv.tmp.", dead)));
  EXPECT_TRUE(PathExists(absl::StrCat(directory, "/metadata.json.tmp.", getpid())));  // A live writer's.
  EXPECT_TRUE(PathExists(directory + "/measurements.csv"));
  EXPECT_TRUE(PathExists(directory + "/notes.tmp.x"));
  EXPECT_TRUE(PathExists(absl::StrCat(directory, "/sub/study.json.tmp.", dead)));  // Not recursive.
  ASSERT_OK_AND_ASSIGN(const int removed_again, RemoveTemporaryFilesOfDeadWriters(directory));
  EXPECT_EQ(removed_again, 0);
  EXPECT_THAT(RemoveTemporaryFilesOfDeadWriters(directory + "/missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
}

}  // namespace
}  // namespace parsity
