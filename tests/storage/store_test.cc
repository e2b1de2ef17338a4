#include "storage/store.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "storage/keys.h"
#include "storage/rocksdb_status.h"
#include "tests/testing/fixtures.h"

namespace comity::storage {
namespace {

using comity::testing::TempDir;

std::unique_ptr<Store> Open(const std::string& dir) {
  auto store = OpenRocksDbStore(dir);
  EXPECT_TRUE(store.ok()) << store.status();
  return *std::move(store);
}

TEST(StoreTest, CommitIsVisibleAndSurvivesReopen) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    WriteSet batch;
    batch.Put(Column::kRequests, "r1", "record");
    batch.Put(Column::kAudit, AuditKey("r1", 1), "entry");
    ASSERT_TRUE(store->Commit(batch).ok());
    EXPECT_EQ(*store->Get(Column::kRequests, "r1"), "record");
  }
  auto store = Open(dir.path());
  EXPECT_EQ(*store->Get(Column::kRequests, "r1"), "record");
  EXPECT_EQ(*store->Get(Column::kAudit, AuditKey("r1", 1)), "entry");
  EXPECT_EQ(store->Get(Column::kAudit, "r1").status().code(), absl::StatusCode::kNotFound);
}

TEST(StoreTest, ColumnsAreSeparate) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet batch;
  batch.Put(Column::kIndex, "k", "index");
  ASSERT_TRUE(store->Commit(batch).ok());
  EXPECT_EQ(store->Get(Column::kRequests, "k").status().code(), absl::StatusCode::kNotFound);
}

TEST(StoreTest, ScanHonoursPrefixOrderAndStartAfter) {
  TempDir dir;
  auto store = Open(dir.path());
  WriteSet batch;
  for (uint64_t seq : {3, 1, 2, 300}) batch.Put(Column::kAudit, AuditKey("A", seq), "x");
  batch.Put(Column::kAudit, AuditKey("B", 1), "other request");
  batch.Delete(Column::kAudit, AuditKey("A", 2));
  ASSERT_TRUE(store->Commit(batch).ok());

  std::vector<std::string> keys;
  ASSERT_TRUE(store
                  ->Scan(Column::kAudit, AuditPrefix("A"), "",
                         [&](absl::string_view k, absl::string_view) {
                           keys.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(keys,
            (std::vector<std::string>{AuditKey("A", 1), AuditKey("A", 3), AuditKey("A", 300)}));
  keys.clear();
  ASSERT_TRUE(store
                  ->Scan(Column::kAudit, AuditPrefix("A"), AuditKey("A", 1),
                         [&](absl::string_view k, absl::string_view) {
                           keys.emplace_back(k);
                           return keys.size() < 1;
                         })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{AuditKey("A", 3)}));
}

TEST(StoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  TempDir dir;
  auto store = Open(dir.path());
  auto second = OpenRocksDbStore(dir.path());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST(StoreTest, UnknownSchemaVersionIsRefused) {
  TempDir dir;
  {
    auto store = Open(dir.path());
    WriteSet batch;
    batch.Put(Column::kMeta, kSchemaVersionKey, "99");
    ASSERT_TRUE(store->Commit(batch).ok());
  }
  auto store = OpenRocksDbStore(dir.path());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(StoreTest, AuditKeysSortNumerically) {
  EXPECT_LT(AuditKey("X", 255), AuditKey("X", 256));
  EXPECT_LT(AuditKey("X", 1), AuditKey("X", uint64_t{1} << 40));
}

TEST(FromRocksDbTest, MapsEveryCode) {
  struct Case {
    rocksdb::Status in;
    absl::StatusCode want;
  };
  const Case cases[] = {
      {rocksdb::Status::OK(), absl::StatusCode::kOk},
      {rocksdb::Status::NotFound(), absl::StatusCode::kNotFound},
      {rocksdb::Status::Corruption(), absl::StatusCode::kDataLoss},
      {rocksdb::Status::NotSupported(), absl::StatusCode::kUnimplemented},
      {rocksdb::Status::InvalidArgument(), absl::StatusCode::kInvalidArgument},
      {rocksdb::Status::IOError(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::NoSpace(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::MergeInProgress(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::Incomplete(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::ShutdownInProgress(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TimedOut(), absl::StatusCode::kDeadlineExceeded},
      {rocksdb::Status::Aborted(), absl::StatusCode::kAborted},
      {rocksdb::Status::Busy(), absl::StatusCode::kAborted},
      {rocksdb::Status::Expired(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::TryAgain(), absl::StatusCode::kUnavailable},
      {rocksdb::Status::CompactionTooLarge(), absl::StatusCode::kInternal},
      {rocksdb::Status::ColumnFamilyDropped(), absl::StatusCode::kUnavailable},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(FromRocksDb(c.in, "op").code(), c.want) << c.in.ToString();
  }
  EXPECT_EQ(FromRocksDb(rocksdb::Status::IOError("secret/path"), "commit").message(),
            "commit: I/O error");
}

}  // namespace
}  // namespace comity::storage
