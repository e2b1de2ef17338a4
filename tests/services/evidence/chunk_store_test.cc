#include "services/evidence/chunk_store.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "gtest/gtest.h"
#include "services/evidence/crypto.h"
#include "storage/keys.h"
#include "tests/testing/fixtures.h"

namespace comity::evidence {
namespace {

using storage::Column;
using testing::TempDir;

TEST(EvidenceCryptoTest, SealedBytesOpenOnlyWithTheirKeyAndPlace) {
  const std::string key = *NewKey();
  const std::string other = *NewKey();
  ASSERT_EQ(key.size(), kKeySize);
  EXPECT_NE(key, other);
  const std::string sealed = *Seal(key, "item 1 at 0", "case file bytes");
  EXPECT_EQ(sealed.size(), std::string("case file bytes").size() + kSealOverhead);
  EXPECT_FALSE(absl::StrContains(sealed, "case file"));
  EXPECT_NE(*Seal(key, "item 1 at 0", "case file bytes"), sealed);  // a fresh nonce each time
  EXPECT_EQ(*Open(key, "item 1 at 0", sealed), "case file bytes");
  EXPECT_EQ(Open(other, "item 1 at 0", sealed).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, "item 2 at 0", sealed).status().code(), absl::StatusCode::kDataLoss);
  std::string flipped = sealed;
  flipped[kNonceSize] ^= 1;
  EXPECT_EQ(Open(key, "item 1 at 0", flipped).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Open(key, "item 1 at 0", "short").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Seal("too short", "", "x").status().code(), absl::StatusCode::kInternal);
}

TEST(EvidenceCryptoTest, DeriveKeyIsHkdfSha256) {
  // RFC 5869 test case 3 (no salt, no info): the first 32 bytes of its OKM.
  const std::string okm = *DeriveKey(std::string(22, '\x0b'), "");
  EXPECT_EQ(ToHex(okm), "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d");
  EXPECT_NE(*DeriveKey("secret", "a"), *DeriveKey("secret", "b"));
}

class ChunkStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    chunks_.reset();
    store_.reset();
    auto opened = storage::OpenRocksDbStore(dir_.path(), {});
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = *std::move(opened);
    ChunkStoreOptions options;
    options.dir = dir_.path() + "/evidence";
    options.node_key = node_key_;
    options.reserve_bytes = 1 << 20;
    options.free_bytes = [this]() -> absl::StatusOr<uint64_t> { return free_; };
    chunks_ = std::make_unique<ChunkStore>(store_.get(), options);
  }

  absl::StatusOr<uint64_t> Append(uint64_t offset, absl::string_view data) {
    return chunks_->Append(item_, offset, data, [] { return absl::OkStatus(); });
  }

  std::string ReadAll(uint64_t offset) {
    std::string out;
    absl::Status s = chunks_->Read(item_, offset, [&](uint64_t at, std::string bytes) {
      EXPECT_EQ(at, offset + out.size());
      out += bytes;
      return true;
    });
    EXPECT_TRUE(s.ok()) << s;
    return out;
  }

  TempDir dir_;
  const std::string node_key_ = *NewKey();
  uint64_t free_ = uint64_t{1} << 40;
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<ChunkStore> chunks_;
  const ItemRef item_{NewId(absl::Now()), 1, 0};
};

TEST_F(ChunkStoreTest, ChunksAppendInOrderAndReadBackFromAnyOffset) {
  const std::string a = "MARKER-" + std::string(100000, 'a');
  const std::string b(70000, 'b');
  const std::string c = "tail";
  EXPECT_EQ(*chunks_->Durable(item_), 0u);
  EXPECT_EQ(*Append(0, a), a.size());
  EXPECT_EQ(*Append(a.size(), b), a.size() + b.size());
  // A chunk anywhere but at the durable offset is refused, naming where to resume.
  absl::StatusOr<uint64_t> gap = Append(a.size(), c);
  EXPECT_EQ(gap.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(
      absl::StrContains(gap.status().message(), absl::StrCat("resume from ", a.size() + b.size())))
      << gap.status();
  EXPECT_EQ(Append(0, a).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*Append(a.size() + b.size(), c), a.size() + b.size() + c.size());
  const std::string whole = a + b + c;
  EXPECT_EQ(ReadAll(0), whole);
  EXPECT_EQ(ReadAll(5), whole.substr(5));
  EXPECT_EQ(ReadAll(a.size()), b + c);
  EXPECT_EQ(ReadAll(a.size() + 1), whole.substr(a.size() + 1));
  EXPECT_EQ(ReadAll(whole.size() - 1), "l");
  EXPECT_EQ(ReadAll(whole.size()), "");

  // Durable across a restart, and never in the clear on disk.
  Open();
  EXPECT_EQ(*chunks_->Durable(item_), whole.size());
  EXPECT_EQ(ReadAll(0), whole);
  EXPECT_FALSE(absl::StrContains(comity::testing::ReadEveryFile(dir_.path()), "MARKER-"));
}

TEST_F(ChunkStoreTest, OversizedEmptyAndRefusedChunksWriteNothing) {
  EXPECT_EQ(Append(0, "").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Append(0, std::string(kMaxChunkBytes + 1, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
  absl::StatusOr<uint64_t> closed = chunks_->Append(
      item_, 0, "data", [] { return absl::FailedPreconditionError("the package is erased"); });
  EXPECT_EQ(closed.status(), absl::FailedPreconditionError("the package is erased"));
  EXPECT_EQ(*chunks_->Durable(item_), 0u);
  EXPECT_TRUE(chunks_->KeyedPackages()->empty());  // no key made for nothing
}

TEST_F(ChunkStoreTest, ANearlyFullDiskRefusesTheChunkAndTheUploadResumesOnceSpaceIsFreed) {
  ASSERT_EQ(*Append(0, "first"), 5u);
  free_ = (1 << 20) + 10;  // the reserve and a little
  absl::StatusOr<uint64_t> full = Append(5, std::string(1000, 'x'));
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(absl::StrContains(full.status().message(), "resumes from 5")) << full.status();
  EXPECT_EQ(*chunks_->Durable(item_), 5u);
  free_ = uint64_t{1} << 40;
  EXPECT_EQ(*Append(5, std::string(1000, 'x')), 1005u);
}

TEST_F(ChunkStoreTest, ResetStartsTheItemAgain) {
  ASSERT_TRUE(Append(0, "wrong bytes").ok());
  ASSERT_TRUE(chunks_->Reset(item_).ok());
  EXPECT_EQ(*chunks_->Durable(item_), 0u);
  EXPECT_EQ(ReadAll(0), "");
  EXPECT_EQ(*Append(0, "right"), 5u);
  EXPECT_EQ(ReadAll(0), "right");
}

TEST_F(ChunkStoreTest, PurgeDestroysTheKeySoNoFileHoldsItAndTheDataCannotBeRead) {
  ASSERT_TRUE(Append(0, "evidence").ok());
  ItemRef other = item_;
  other.package = 2;
  ASSERT_TRUE(chunks_->Append(other, 0, "kept", [] { return absl::OkStatus(); }).ok());
  const std::string wrapped =
      *store_->Get(Column::kEvidenceKeys, storage::PackageKeyKey(item_.request_id, 1));
  ASSERT_TRUE(absl::StrContains(comity::testing::ReadEveryFile(dir_.path()), wrapped));
  ASSERT_EQ(chunks_->KeyedPackages()->size(), 2u);

  ASSERT_TRUE(chunks_->Purge(item_.request_id, 1).ok());
  EXPECT_FALSE(absl::StrContains(comity::testing::ReadEveryFile(dir_.path()), wrapped));
  absl::Status read = chunks_->Read(item_, 0, [](uint64_t, std::string) { return true; });
  EXPECT_EQ(read.code(), absl::StatusCode::kFailedPrecondition) << read;
  EXPECT_EQ(*chunks_->Durable(item_), 0u);
  const auto keyed = *chunks_->KeyedPackages();
  ASSERT_EQ(keyed.size(), 1u);
  EXPECT_EQ(keyed[0], std::make_pair(item_.request_id, 2));
  std::string kept;
  ASSERT_TRUE(chunks_
                  ->Read(other, 0,
                         [&](uint64_t, std::string bytes) {
                           kept += bytes;
                           return true;
                         })
                  .ok());
  EXPECT_EQ(kept, "kept");
}

TEST_F(ChunkStoreTest, AChunkMovedToAnotherOffsetFailsAuthentication) {
  ASSERT_TRUE(Append(0, "aaaa").ok());
  ASSERT_TRUE(Append(4, "bbbb").ok());
  const std::string first =
      *store_->Get(Column::kEvidence, storage::ChunkKey(item_.request_id, 1, 0, 4));
  storage::WriteSet w;
  w.Put(Column::kEvidence, storage::ChunkKey(item_.request_id, 1, 0, 8), first);
  ASSERT_TRUE(store_->Commit(w).ok());
  absl::Status read = chunks_->Read(item_, 0, [](uint64_t, std::string) { return true; });
  EXPECT_EQ(read.code(), absl::StatusCode::kDataLoss) << read;
}

// A crash after a chunk's bytes reached its file but before its index entry was committed
// leaves bytes past what the index covers: they are never read, and the next chunk overwrites
// them.
TEST_F(ChunkStoreTest, BytesPastTheIndexAreIgnoredAndOverwritten) {
  ASSERT_TRUE(Append(0, "first").ok());
  const std::string file =
      absl::StrCat(dir_.path(), "/evidence/", item_.request_id, "/000001/0000");
  {
    std::ofstream out(file, std::ios::binary | std::ios::app);
    out << std::string(1000, 'J');  // a chunk whose index entry never made it
  }
  EXPECT_EQ(ReadAll(0), "first");
  EXPECT_EQ(*Append(5, "second"), 11u);
  EXPECT_EQ(ReadAll(0), "firstsecond");
  EXPECT_EQ(std::filesystem::file_size(file), 1000 + 5 + kSealOverhead);  // overwritten in place
}

// A really full disk: the evidence directory on a 2 MiB tmpfs, no reserve kept. The chunk that does
// not fit fails cleanly (RESOURCE_EXHAUSTED, nothing acknowledged), the store goes on, and the
// upload resumes once space is freed. Needs root to mount; skipped where mounting is refused.
TEST(ChunkStoreDiskTest, AFullDiskFailsTheChunkCleanlyAndTheUploadResumesOnceSpaceIsFreed) {
  TempDir dir;
  const std::string small = dir.path() + "/small";
  std::filesystem::create_directories(small);
  if (std::system(("mount -t tmpfs -o size=2m tmpfs " + small + " 2>/dev/null").c_str()) != 0) {
    GTEST_SKIP() << "cannot mount a small tmpfs here (needs root)";
  }
  struct Unmount {
    std::string path;
    ~Unmount() { (void)std::system(("umount " + path).c_str()); }
  } unmount{small};
  auto opened = storage::OpenRocksDbStore(dir.path() + "/db", {});
  ASSERT_TRUE(opened.ok()) << opened.status();
  ChunkStoreOptions options;
  options.dir = small + "/evidence";
  options.node_key = *NewKey();
  ChunkStore chunks(opened->get(), options);
  const ItemRef item{NewId(absl::Now()), 1, 0};
  auto open = [] { return absl::OkStatus(); };
  ASSERT_EQ(*chunks.Append(item, 0, std::string(512 << 10, 'a'), open), 512u << 10);
  {
    std::ofstream filler(small + "/filler", std::ios::binary);
    filler << std::string(1300 << 10, 'f');
  }
  absl::StatusOr<uint64_t> full = chunks.Append(item, 512 << 10, std::string(1 << 20, 'b'), open);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted) << full.status();
  EXPECT_TRUE(absl::StrContains(full.status().message(), "resumes from 524288")) << full.status();
  EXPECT_EQ(*chunks.Durable(item), 512u << 10);
  storage::WriteSet w;  // the store itself is unharmed
  w.Put(Column::kMeta, "after", "full disk");
  EXPECT_TRUE((*opened)->Commit(w).ok());

  std::filesystem::remove(small + "/filler");
  ASSERT_EQ(*chunks.Append(item, 512 << 10, std::string(1 << 20, 'b'), open), 1536u << 10);
  std::string all;
  ASSERT_TRUE(chunks
                  .Read(item, 0,
                        [&](uint64_t, std::string bytes) {
                          all += bytes;
                          return true;
                        })
                  .ok());
  EXPECT_TRUE(all == std::string(512 << 10, 'a') + std::string(1 << 20, 'b'));
}

}  // namespace
}  // namespace comity::evidence
