#include "services/audit/chain.h"

#include "common/sha256.h"
#include "gtest/gtest.h"

namespace comity::audit {
namespace {

std::vector<std::string> MakeChain(int n) {
  std::vector<std::string> out;
  std::string previous = GenesisHash();
  for (int i = 1; i <= n; ++i) {
    v1::AuditEntry e;
    e.set_request("requests/R");
    e.set_sequence(i);
    e.set_previous_hash(previous);
    e.set_action(i == 1 ? v1::CREATE : v1::ADD_NOTE);
    e.set_reasons("note " + std::to_string(i));
    out.push_back(EntryBytes(e));
    previous = Sha256(out.back());
  }
  return out;
}

TEST(ChainTest, AnUnbrokenChainVerifies) {
  auto chain = MakeChain(5);
  EXPECT_TRUE(VerifyChain("requests/R", chain, Sha256(chain.back()), 5).ok());
}

TEST(ChainTest, FlippedByteIsDetectedAtTheNextEntry) {
  auto chain = MakeChain(5);
  v1::AuditEntry e;
  ASSERT_TRUE(e.ParseFromString(chain[1]));
  e.set_reasons("rewritten");
  chain[1] = EntryBytes(e);
  absl::Status s = VerifyChain("requests/R", chain, Sha256(chain.back()), 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "entry 3 does not link to entry 2: the trail was altered before it");
}

TEST(ChainTest, DroppedEntryIsDetected) {
  auto chain = MakeChain(5);
  chain.erase(chain.begin() + 2);
  absl::Status s = VerifyChain("requests/R", chain, Sha256(chain.back()), 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("entry 3 is numbered 4"), std::string::npos) << s;
}

TEST(ChainTest, ReorderedEntriesAreDetected) {
  auto chain = MakeChain(5);
  std::swap(chain[1], chain[2]);
  EXPECT_EQ(VerifyChain("requests/R", chain, Sha256(chain[4]), 5).code(),
            absl::StatusCode::kDataLoss);
}

TEST(ChainTest, TruncatedTrailIsDetectedAgainstTheHead) {
  auto chain = MakeChain(5);
  const std::string head = Sha256(chain.back());
  chain.pop_back();
  absl::Status s = VerifyChain("requests/R", chain, head, 5);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "the trail holds 4 entries but the request records 5");
  EXPECT_EQ(VerifyChain("requests/R", chain, head, 4).code(), absl::StatusCode::kDataLoss);
}

TEST(ChainTest, EntryOfAnotherRequestIsDetected) {
  auto chain = MakeChain(2);
  EXPECT_EQ(VerifyChain("requests/S", chain, Sha256(chain.back()), 2).code(),
            absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace comity::audit
