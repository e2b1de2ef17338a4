#ifndef COMITY_SERVICES_AUDIT_SEALER_H_
#define COMITY_SERVICES_AUDIT_SEALER_H_

// Seals audit entries into the node's Merkle log: each entry gets the next leaf index, its stored
// bytes and the tree nodes its leaf completes; a request's record gets the digest its entry names
// and its new audit head and size. The caller stores what it returns in the same batch. Not
// thread-safe: owned by the engine's sequencer.

#include <cstdint>
#include <string>
#include <vector>

#include "comity/v1/audit.pb.h"
#include "comity/v1/resources.pb.h"
#include "services/audit/log.h"

namespace comity::audit {

class Sealer {
 public:
  struct Sealed {
    std::string bytes;                     // the entry, as stored and hashed (EntryBytes)
    std::vector<LogAppender::Node> nodes;  // the tree nodes its leaf completes, leaf first
  };

  Sealer() = default;
  explicit Sealer(LogAppender log) : log_(std::move(log)) {}

  // Gives `entry` the next place in the log. Its chain fields (sequence, previous hash) and
  // record digest are set already.
  Sealed Seal(v1::AuditEntry& entry);

  // Seals `entry`, the change that made `record`: the entry names the digest of the record
  // without its audit head and size (which depend on the entry), then the record's head becomes
  // the entry's hash and its size the entry's sequence. `record_bytes` gets the record's bytes to
  // store, serialized once.
  Sealed SealRecord(v1::Request& record, v1::AuditEntry& entry, std::string* record_bytes);

  uint64_t size() const { return log_.size(); }  // leaves in the log
  std::string Root() const { return log_.Root(); }

 private:
  LogAppender log_;
};

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_SEALER_H_
