#ifndef COMITY_SERVICES_AUDIT_CHAIN_H_
#define COMITY_SERVICES_AUDIT_CHAIN_H_

// The per-request audit chain. Entry n (from 1) is stored as the deterministic protobuf
// serialization of comity.v1.AuditEntry; its `previous_hash` is SHA-256 of entry n-1's stored
// bytes (32 zero bytes for entry 1). The request record keeps the head: SHA-256 of the last
// entry's bytes, and the count.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "comity/v1/resources.pb.h"

namespace comity::audit {

// Deterministic protobuf serialization of `message` (map entries sorted).
std::string DeterministicBytes(const google::protobuf::Message& message);

// The bytes the chain hashes: deterministic serialization of `entry`.
std::string EntryBytes(const v1::AuditEntry& entry);

// The previous-hash of entry 1.
const std::string& GenesisHash();

// Checks that `entries` (the stored bytes, in order) form an unbroken chain for `request`:
// each parses, is numbered 1..n, names `request`, links to its predecessor's hash, and the last
// entry's hash equals `head` with n == `size`. Returns OK, or DATA_LOSS naming the first problem
// and the entry's sequence number.
absl::Status VerifyChain(absl::string_view request, const std::vector<std::string>& entries,
                         absl::string_view head, uint64_t size);

}  // namespace comity::audit

#endif  // COMITY_SERVICES_AUDIT_CHAIN_H_
