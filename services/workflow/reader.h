#ifndef COMITY_SERVICES_WORKFLOW_READER_H_
#define COMITY_SERVICES_WORKFLOW_READER_H_

// Reads: straight from the store, never through the sequencer. Thread-safe.

#include <optional>

#include "absl/status/statusor.h"
#include "comity/v1/audit.pb.h"
#include "comity/v1/requests.pb.h"
#include "services/auth/caller.h"
#include "storage/store.h"

namespace comity::workflow {

using auth::Caller;

class Reader {
 public:
  explicit Reader(const storage::Store* store) : store_(store) {}

  // The request, with `follows`' follow-ups resolved. NOT_FOUND unless visible to the caller.
  absl::StatusOr<v1::Request> Get(const Caller& caller, absl::string_view name) const;

  // The caller's authority's requests, oldest first (ids sort by creation time), filtered.
  // With order_by "next_due_time" or due_before: only requests with a running clock, the
  // earliest next due time first. A page token is opaque; a malformed one is INVALID_ARGUMENT.
  absl::StatusOr<v1::ListRequestsResponse> List(const Caller& caller,
                                                const v1::ListRequestsRequest& query) const;

  // Figures over every submitted request the caller may see (see audit.proto Statistics), from
  // the counters the engine keeps with each change: the cost does not grow with the requests.
  absl::StatusOr<v1::Statistics> Statistics(const Caller& caller,
                                            const v1::GetStatisticsRequest& query) const;
  // The declared bytes of the evidence packages `authority` (authorities/<id>) holds as the
  // receiving side, not erased: what its quota bounds.
  absl::StatusOr<int64_t> EvidenceBytes(const std::string& authority) const;

  // Adds to each entry of `trail` below `size` its inclusion proof in the Merkle log of `size`
  // leaves (which must be durable). DATA_LOSS if a stored node is missing.
  absl::Status AddInclusionProofs(uint64_t size, v1::Trail* trail) const;

  // PROOF(from_size, D[0:to_size]) from the stored log; INVALID_ARGUMENT unless
  // 0 < from_size <= to_size <= durable_size.
  absl::StatusOr<v1::ConsistencyProof> Consistency(uint64_t from_size, uint64_t to_size,
                                                   uint64_t durable_size) const;

  // The request's audit entries with their stored bytes, as of one read of the record. The name
  // "directory" gives the directory's trail (admins and auditors).
  absl::StatusOr<v1::Trail> Trail(const Caller& caller, absl::string_view name) const;

  // One page of the trail `query.request` (GetTrail, ExportTrail: see audit.proto). The first
  // page (no page_token) fixes the trail's size and head as read now, and the proof size, which
  // `proof_size` gives once the caller is authorized: each entry below it gets its inclusion
  // proof in the Merkle log of that many leaves (0: none). With `covered_only` the trail ends at
  // its last entry below the proof size. Later pages take all of this from the token and show the
  // same trail, however it has grown. A token that is not one of this trail's, or a page_size
  // outside 0-1000, is INVALID_ARGUMENT.
  enum class TrailKind { kGet, kExport };

  // For a request another node keeps (Request.system_of_record): its trail as that node signed
  // it, as mirrored here; none for a request this node keeps or for the directory. NOT_FOUND
  // unless visible to the caller.
  absl::StatusOr<std::optional<v1::TrailBundle>> MirrorBundle(const Caller& caller,
                                                              absl::string_view name) const;
  absl::StatusOr<v1::Trail> TrailPage(const Caller& caller, const v1::GetTrailRequest& query,
                                      TrailKind kind,
                                      const std::function<absl::StatusOr<uint64_t>()>& proof_size,
                                      bool covered_only) const;

 private:
  absl::StatusOr<v1::Request> Load(const Caller& caller, absl::string_view name) const;
  // Authorizes the caller for the trail `name` and sets its request, head and size as now; `id`:
  // the key prefix of its entries.
  absl::Status TrailHead(const Caller& caller, absl::string_view name, std::string* id,
                         v1::Trail* trail) const;
  // The entry of the trail `id` at `index` (from 0), parsed.
  absl::StatusOr<v1::TrailEntry> TrailEntryAt(absl::string_view id, uint64_t index) const;
  // An oversight auditor's unfiltered listing in creation order: every record but others' drafts.
  absl::StatusOr<v1::ListRequestsResponse> ListEveryRecord(const Caller& caller,
                                                           const v1::ListRequestsRequest& q,
                                                           int page_size) const;
  // MTH of stored leaves [begin, end), from the stored perfect subtrees; failures in `*status`.
  std::string StoredRange(uint64_t begin, uint64_t end, absl::Status* status) const;
  const storage::Store* store_;
};

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_READER_H_
