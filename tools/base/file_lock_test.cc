#include "tools/base/file_lock.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/base/atomic_file.h"
#include "tools/base/status_matchers.h"

namespace parsity {
namespace {

using ::parsity::testing::IsOk;
using ::parsity::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string LockPath(const std::string& name) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/", name);
  unlink(path.c_str());
  return path;
}

TEST(FileLockTest, RecordsItsHolderAndRefusesASecondOwnerNamingIt) {
  const std::string path = LockPath("one.lock");
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, FileLock::TryAcquire(path));
  EXPECT_EQ(lock->path(), path);
  EXPECT_FALSE(lock->previous_holder().has_value());
  ASSERT_OK_AND_ASSIGN(const std::string contents, ReadFile(path));
  const std::optional<LockHolder> holder = ParseLockHolder(contents);
  ASSERT_TRUE(holder.has_value()) << contents;
  EXPECT_EQ(holder->host, HostName());
  EXPECT_EQ(holder->pid, getpid());
  EXPECT_THAT(holder->since, HasSubstr("T"));
  // flock belongs to the open file description: a second one of the same process is refused too.
  EXPECT_THAT(FileLock::TryAcquire(path),
              StatusIs(absl::StatusCode::kUnavailable, AllOf(HasSubstr(path + " is held by host " + HostName()),
                                                             HasSubstr(absl::StrCat("PID ", getpid())))));
  lock.reset();
  ASSERT_OK_AND_ASSIGN(const std::string released, ReadFile(path));
  EXPECT_EQ(released, "");  // Emptied on release.
  ASSERT_OK_AND_ASSIGN(lock, FileLock::TryAcquire(path));
  EXPECT_FALSE(lock->previous_holder().has_value());
}

// A process holding the lock is named by the refusal; once it is killed, the kernel has released the lock and the
// file it left (its line, with a PID no longer running) is taken over.
TEST(FileLockTest, AKilledHoldersLeftoverFileBlocksNothing) {
  const std::string path = LockPath("killed.lock");
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const absl::StatusOr<std::unique_ptr<FileLock>> lock = FileLock::TryAcquire(path);
    const char byte = lock.ok() ? 'y' : 'n';
    if (write(ready[1], &byte, 1) != 1) _exit(2);
    for (;;) pause();  // Holds the lock until killed.
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  ASSERT_EQ(byte, 'y');
  EXPECT_THAT(FileLock::TryAcquire(path),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr(absl::StrCat("host ", HostName(), ", PID ", child, ", since ")),
                             ::testing::Not(HasSubstr("not running")))));
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  ASSERT_OK_AND_ASSIGN(const std::string leftover, ReadFile(path));
  EXPECT_THAT(leftover, HasSubstr(absl::StrCat("pid=", child)));  // Not emptied: it was killed.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, FileLock::TryAcquire(path));
  ASSERT_TRUE(lock->previous_holder().has_value());
  EXPECT_EQ(lock->previous_holder()->pid, child);
  ASSERT_OK_AND_ASSIGN(const std::string now, ReadFile(path));
  EXPECT_THAT(now, HasSubstr(absl::StrCat("pid=", getpid(), " ")));
  close(ready[0]);
  close(ready[1]);
}

// A file naming a dead process on this host, written by hand (no one holds the lock): taken over at once.
TEST(FileLockTest, AStaleLineIsNotALock) {
  const std::string path = LockPath("stale.lock");
  const pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  ASSERT_THAT(WriteFileAtomically(path, absl::StrCat("host=", HostName(), " pid=", child, " since=x\n")), IsOk());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<FileLock> lock, FileLock::TryAcquire(path));
  ASSERT_TRUE(lock->previous_holder().has_value());
  EXPECT_EQ(lock->previous_holder()->pid, child);
}

TEST(FileLockTest, ParsesHolderLines) {
  const std::optional<LockHolder> holder = ParseLockHolder("host=node01 pid=1234 since=2026-12-01T10:00:00Z\n");
  ASSERT_TRUE(holder.has_value());
  EXPECT_EQ(holder->host, "node01");
  EXPECT_EQ(holder->pid, 1234);
  EXPECT_EQ(holder->since, "2026-12-01T10:00:00Z");
  EXPECT_FALSE(ParseLockHolder("").has_value());
  EXPECT_FALSE(ParseLockHolder("host=node01").has_value());
  EXPECT_FALSE(ParseLockHolder("host=node01 pid=x").has_value());
}

TEST(FileLockTest, ErrorsNameThePath) {
  const std::string path = absl::StrCat(std::getenv("TEST_TMPDIR"), "/no/such/dir/x.lock");
  EXPECT_THAT(FileLock::TryAcquire(path), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
}

}  // namespace
}  // namespace parsity
