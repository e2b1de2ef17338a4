#ifndef COMITY_SERVICES_AUDIT_RECEIPT_H_
#define COMITY_SERVICES_AUDIT_RECEIPT_H_

// Receipts (comity.v1.Receipt): a node's signed statement of an event one of its entries records,
// in the evidence vocabulary of registered delivery (submission accepted, relay accepted,
// delivered, retrieved).

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "comity/v1/resources.pb.h"
#include "services/audit/note.h"

namespace comity::audit {

// The text a receipt's note signs (see comity.v1.Receipt).
std::string ReceiptText(v1::ReceiptKind kind, absl::string_view issuer, absl::string_view request,
                        v1::Action action, absl::string_view key, absl::Time time);

// A receipt of `kind` for `entry` (its request and action), about `key`, at `time`, signed by
// `signer`.
v1::Receipt MakeReceipt(const NoteSigner& signer, v1::ReceiptKind kind, const v1::AuditEntry& entry,
                        absl::string_view key, absl::Time time);

// OK if `receipt` is signed by `verifier_key`, its issuer is that key's name, and its text is
// that of its fields for `entry`'s request and action; DATA_LOSS saying which fails.
absl::Status VerifyReceipt(const v1::Receipt& receipt, const v1::AuditEntry& entry,
                           absl::string_view verifier_key);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_RECEIPT_H_
