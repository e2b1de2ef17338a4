#include "services/audit/chain.h"

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace comity::audit {

std::string EntryBytes(const v1::AuditEntry& entry) { return DeterministicBytes(entry); }

std::string DeterministicBytes(const google::protobuf::Message& entry) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  entry.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

const std::string& GenesisHash() {
  static const std::string* const genesis = new std::string(kSha256Size, '\0');
  return *genesis;
}

absl::Status VerifyChain(absl::string_view request, const std::vector<std::string>& entries,
                         absl::string_view head, uint64_t size) {
  std::string previous = GenesisHash();
  for (size_t i = 0; i < entries.size(); ++i) {
    const uint64_t want = i + 1;
    v1::AuditEntry entry;
    if (!entry.ParseFromString(entries[i])) {
      return absl::DataLossError(absl::StrCat("entry ", want, " does not parse"));
    }
    if (entry.sequence() != want) {
      return absl::DataLossError(absl::StrCat("entry ", want, " is numbered ", entry.sequence(),
                                              ": an entry is missing or out of order"));
    }
    if (entry.request() != request) {
      return absl::DataLossError(absl::StrCat("entry ", want, " belongs to ", entry.request()));
    }
    if (entry.previous_hash() != previous) {
      return absl::DataLossError(absl::StrCat("entry ", want, " does not link to entry ", i,
                                              ": the trail was altered before it"));
    }
    previous = Sha256(entries[i]);
  }
  if (entries.size() != size) {
    return absl::DataLossError(absl::StrCat("the trail holds ", entries.size(),
                                            " entries but the request records ", size));
  }
  if (!entries.empty() && previous != head) {
    return absl::DataLossError(
        absl::StrCat("entry ", entries.size(), " does not match the request's recorded head"));
  }
  return absl::OkStatus();
}

}  // namespace comity::audit
