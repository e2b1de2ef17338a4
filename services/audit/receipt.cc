#include "services/audit/receipt.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/time_util.h"

namespace comity::audit {

using google::protobuf::util::TimeUtil;
std::string ReceiptText(v1::ReceiptKind kind, absl::string_view issuer, absl::string_view request,
                        v1::Action action, absl::string_view key, absl::Time time) {
  return absl::StrCat("comity receipt\n", v1::ReceiptKind_Name(kind), "\n", issuer, "\n", request,
                      "\n", v1::Action_Name(action), "\n", key, "\n",
                      absl::FormatTime("%Y-%m-%dT%H:%M:%E6SZ", time, absl::UTCTimeZone()), "\n");
}

v1::Receipt MakeReceipt(const NoteSigner& signer, v1::ReceiptKind kind, const v1::AuditEntry& entry,
                        absl::string_view key, absl::Time time) {
  v1::Receipt r;
  r.set_kind(kind);
  r.set_issuer(signer.name());
  r.set_key(std::string(key));
  // Signed as stored: the time to the microsecond.
  const int64_t micros = absl::ToUnixMicros(time);
  *r.mutable_time() = TimeUtil::MicrosecondsToTimestamp(micros);
  r.set_note(signer.Sign(ReceiptText(kind, signer.name(), entry.request(), entry.action(), key,
                                     absl::FromUnixMicros(micros))));
  return r;
}

absl::Status VerifyReceipt(const v1::Receipt& receipt, const v1::AuditEntry& entry,
                           absl::string_view verifier_key) {
  absl::StatusOr<std::string> text = OpenNote(receipt.note(), verifier_key);
  if (!text.ok()) {
    return absl::DataLossError(absl::StrCat("its ", v1::ReceiptKind_Name(receipt.kind()),
                                            " receipt is not signed by the node's key"));
  }
  if (receipt.issuer() != verifier_key.substr(0, verifier_key.find('+')) ||
      *text != ReceiptText(receipt.kind(), receipt.issuer(), entry.request(), entry.action(),
                           receipt.key(),
                           absl::FromUnixNanos(TimeUtil::TimestampToNanoseconds(receipt.time())))) {
    return absl::DataLossError(absl::StrCat("its ", v1::ReceiptKind_Name(receipt.kind()),
                                            " receipt does not state what the entry records"));
  }
  return absl::OkStatus();
}

}  // namespace comity::audit
