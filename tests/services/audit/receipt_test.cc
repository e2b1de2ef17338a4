#include "services/audit/receipt.h"

#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace comity::audit {
namespace {

class ReceiptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = NoteSigner::FromSeed("comity.de.example/node/de", std::string(32, '\x05'));
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = *std::move(signer);
    entry_.set_request("requests/r-1");
    entry_.set_action(v1::SUBMIT);
  }

  std::unique_ptr<NoteSigner> signer_;
  v1::AuditEntry entry_;
  const absl::Time time_ = absl::FromUnixMicros(1764932400123456) + absl::Nanoseconds(789);
};

TEST_F(ReceiptTest, StatesItsFieldsInTheSignedText) {
  const v1::Receipt r = MakeReceipt(*signer_, v1::RELAY_ACCEPTANCE, entry_, "fr/7", time_);
  EXPECT_EQ(r.kind(), v1::RELAY_ACCEPTANCE);
  EXPECT_EQ(r.issuer(), "comity.de.example/node/de");
  EXPECT_EQ(r.key(), "fr/7");
  // Kept to the microsecond, as signed.
  EXPECT_EQ(r.time().seconds(), 1764932400);
  EXPECT_EQ(r.time().nanos(), 123456000);
  auto text = OpenNote(r.note(), signer_->VerifierKey());
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text,
            "comity receipt\nRELAY_ACCEPTANCE\ncomity.de.example/node/de\nrequests/r-1\nSUBMIT\n"
            "fr/7\n2025-12-05T11:00:00.123456Z\n");
  EXPECT_TRUE(VerifyReceipt(r, entry_, signer_->VerifierKey()).ok());
}

TEST_F(ReceiptTest, AReceiptThatDoesNotStateItsEntryOrItsKeyFailsAsDataLoss) {
  const v1::Receipt r = MakeReceipt(*signer_, v1::DELIVERY, entry_, "fr/7", time_);
  auto expect_loss = [&](const v1::Receipt& receipt, const v1::AuditEntry& entry,
                         const std::string& key, const std::string& says) {
    absl::Status s = VerifyReceipt(receipt, entry, key);
    EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
    EXPECT_NE(s.message().find(says), std::string::npos) << s;
  };
  v1::Receipt other_key = r;
  other_key.set_key("fr/8");
  expect_loss(other_key, entry_, signer_->VerifierKey(), "does not state what the entry records");
  v1::Receipt later = r;
  later.mutable_time()->set_seconds(r.time().seconds() + 1);
  expect_loss(later, entry_, signer_->VerifierKey(), "DELIVERY receipt does not state");
  v1::Receipt kind = r;
  kind.set_kind(v1::RETRIEVAL);
  expect_loss(kind, entry_, signer_->VerifierKey(), "does not state");
  v1::AuditEntry another = entry_;
  another.set_action(v1::ADD_NOTE);
  expect_loss(r, another, signer_->VerifierKey(), "does not state");
  another = entry_;
  another.set_request("requests/r-2");
  expect_loss(r, another, signer_->VerifierKey(), "does not state");
  auto stranger = NoteSigner::FromSeed("comity.de.example/node/de", std::string(32, '\x06'));
  ASSERT_TRUE(stranger.ok());
  expect_loss(r, entry_, (*stranger)->VerifierKey(), "DELIVERY receipt is not signed");
  // Signed by the key, but claiming another issuer.
  v1::Receipt issuer = r;
  issuer.set_issuer("comity.fr.example/node/fr");
  expect_loss(issuer, entry_, signer_->VerifierKey(), "does not state");
}

}  // namespace
}  // namespace comity::audit
