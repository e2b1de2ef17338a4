#include "services/audit/sealer.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "gtest/gtest.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"

namespace comity::audit {
namespace {

v1::AuditEntry Entry(uint64_t sequence) {
  v1::AuditEntry e;
  e.set_request("requests/r1");
  e.set_sequence(sequence);
  e.set_action(v1::ADD_NOTE);
  e.set_reasons(absl::StrCat("note ", sequence));
  return e;
}

TEST(SealerTest, EachEntryTakesTheNextLeafAndItsNodesRebuildTheLog) {
  Sealer sealer;
  std::vector<std::string> leaves;
  std::map<std::pair<int, uint64_t>, std::string> stored;
  for (uint64_t i = 1; i <= 13; ++i) {
    v1::AuditEntry entry = Entry(i);
    Sealer::Sealed sealed = sealer.Seal(entry);
    EXPECT_EQ(entry.leaf_index(), i - 1);
    EXPECT_EQ(sealed.bytes, EntryBytes(entry));  // the leaf index is part of the sealed bytes
    leaves.push_back(LeafHash(sealed.bytes));
    ASSERT_FALSE(sealed.nodes.empty());
    EXPECT_EQ(sealed.nodes[0].level, 0);
    EXPECT_EQ(sealed.nodes[0].index, i - 1);
    EXPECT_EQ(sealed.nodes[0].hash, leaves.back());
    for (const auto& n : sealed.nodes) stored[{n.level, n.index}] = n.hash;
    EXPECT_EQ(sealer.size(), i);
    EXPECT_EQ(sealer.Root(), MerkleTree(leaves).Root(i));
  }
  // What was stored resumes the same log.
  absl::StatusOr<LogAppender> resumed =
      LogAppender::Resume(13, [&](int level, uint64_t index) -> absl::StatusOr<std::string> {
        auto it = stored.find({level, index});
        if (it == stored.end()) return absl::NotFoundError("no node");
        return it->second;
      });
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ(resumed->Root(), sealer.Root());
}

TEST(SealerTest, ARecordNamesItsEntryAndTheEntryTheRecordWithoutItsHead) {
  Sealer sealer;
  v1::Request record;
  record.set_name("requests/r1");
  record.set_purpose("preserve the mailbox");
  record.set_audit_size(4);
  record.set_audit_head("previous head");
  v1::AuditEntry entry = Entry(5);
  std::string record_bytes;
  Sealer::Sealed sealed = sealer.SealRecord(record, entry, &record_bytes);

  v1::Request without = record;
  without.clear_audit_head();
  without.clear_audit_size();
  EXPECT_EQ(entry.record_digest(), Sha256(DeterministicBytes(without)));
  EXPECT_EQ(record.audit_head(), Sha256(sealed.bytes));
  EXPECT_EQ(record.audit_size(), 5u);
  v1::Request parsed;
  ASSERT_TRUE(parsed.ParseFromString(record_bytes));
  EXPECT_EQ(parsed.SerializeAsString(), record.SerializeAsString());
}

}  // namespace
}  // namespace comity::audit
