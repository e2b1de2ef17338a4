#include "services/audit/sealer.h"

#include <utility>

#include "common/sha256.h"
#include "services/audit/chain.h"
#include "services/audit/merkle.h"

namespace comity::audit {

Sealer::Sealed Sealer::Seal(v1::AuditEntry& entry) {
  entry.set_leaf_index(log_.size());
  Sealed sealed;
  sealed.bytes = EntryBytes(entry);
  sealed.nodes = log_.Append(LeafHash(sealed.bytes));
  return sealed;
}

Sealer::Sealed Sealer::SealRecord(v1::Request& record, v1::AuditEntry& entry,
                                  std::string* record_bytes) {
  // The digest covers the record without its audit head and size.
  std::string head;
  record.mutable_audit_head()->swap(head);
  const uint64_t size = record.audit_size();
  record.clear_audit_size();
  std::string bytes = DeterministicBytes(record);
  record.mutable_audit_head()->swap(head);
  record.set_audit_size(size);
  entry.set_record_digest(Sha256(bytes));
  Sealed sealed = Seal(entry);
  record.set_audit_head(Sha256(sealed.bytes));
  record.set_audit_size(entry.sequence());
  // The head and size appended: protobuf merges fields in any order, so the bytes parse to the
  // whole record without serializing it again.
  v1::Request tail;
  tail.set_audit_size(record.audit_size());
  tail.set_audit_head(record.audit_head());
  tail.AppendToString(&bytes);
  *record_bytes = std::move(bytes);
  return sealed;
}

}  // namespace comity::audit
