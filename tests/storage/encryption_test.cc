#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "storage/store.h"
#include "tests/testing/fixtures.h"

namespace comity::storage {
namespace {

using comity::testing::TempDir;

constexpr char kMarker[] = "CASEFILE-MARKER-7f3a9c";
const std::string kKey(32, 'k');
const std::string kOtherKey(32, 'o');

void WriteMarkedData(const std::string& dir, const std::string& key) {
  RocksDbOptions options;
  options.encryption_key = key;
  auto store = OpenRocksDbStore(dir, options);
  ASSERT_TRUE(store.ok()) << store.status();
  for (int i = 0; i < 200; ++i) {
    WriteSet batch;
    batch.Put(Column::kRequests, absl::StrCat(kMarker, i),
              absl::StrCat("summary of facts: ", kMarker, " ", std::string(200, 'x')));
    batch.Put(Column::kAudit, absl::StrCat("entry", i), kMarker);
    ASSERT_TRUE((*store)->Commit(batch).ok());
  }
}

// Files under `dir` whose bytes contain `needle`.
std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    if (bytes.str().find(needle) != std::string::npos) out.push_back(e.path().filename());
  }
  return out;
}

std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> Listing(
    const std::string& dir) {
  std::map<std::string, std::pair<uintmax_t, std::filesystem::file_time_type>> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    out[e.path().filename()] = {e.file_size(), e.last_write_time()};
  }
  return out;
}

TEST(EncryptionTest, NoFileRevealsTheCaseContents) {
  TempDir dir;
  WriteMarkedData(dir.path(), kKey);
  EXPECT_TRUE(FilesContaining(dir.path(), kMarker).empty());
  // The data are all there for the right key.
  RocksDbOptions options;
  options.encryption_key = kKey;
  auto store = OpenRocksDbStore(dir.path(), options);
  ASSERT_TRUE(store.ok()) << store.status();
  auto value = (*store)->Get(Column::kRequests, absl::StrCat(kMarker, 199));
  ASSERT_TRUE(value.ok());
  EXPECT_NE(value->find(kMarker), std::string::npos);
}

TEST(EncryptionTest, WithoutAKeyTheMarkerIsOnDisk) {  // the control: the test above can fail
  TempDir dir;
  WriteMarkedData(dir.path(), "");
  EXPECT_FALSE(FilesContaining(dir.path(), kMarker).empty());
}

TEST(EncryptionTest, AWrongKeyFailsClearlyAndChangesNothing) {
  TempDir dir;
  WriteMarkedData(dir.path(), kKey);
  const auto before = Listing(dir.path());
  RocksDbOptions wrong;
  wrong.encryption_key = kOtherKey;
  auto store = OpenRocksDbStore(dir.path(), wrong);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("wrong encryption key"), std::string::npos);
  EXPECT_EQ(Listing(dir.path()), before);

  RocksDbOptions none;
  store = OpenRocksDbStore(dir.path(), none);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Listing(dir.path()), before);

  RocksDbOptions right;
  right.encryption_key = kKey;
  EXPECT_TRUE(OpenRocksDbStore(dir.path(), right).ok());
}

TEST(EncryptionTest, PlainDataCannotBeOpenedWithAKey) {
  TempDir dir;
  WriteMarkedData(dir.path(), "");
  RocksDbOptions options;
  options.encryption_key = kKey;
  auto store = OpenRocksDbStore(dir.path(), options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(store.status().message().find("not encrypted"), std::string::npos);
}

TEST(EncryptionTest, KeysMustBe32Bytes) {
  TempDir dir;
  RocksDbOptions options;
  options.encryption_key = "short";
  EXPECT_EQ(OpenRocksDbStore(dir.path(), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace comity::storage
