#include "services/workflow/reader.h"

#include <algorithm>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "comity/storage/v1/records.pb.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "services/audit/merkle.h"
#include "services/auth/policy.h"
#include "services/workflow/directory.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"
#include "services/workflow/validation.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::ActingRole;
using auth::RequestNotFound;
using auth::SideOf;
namespace {

using storage::Column;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
// A page ends once its records pass this many bytes; with records of at most kMaxRecordBytes
// it stays under gRPC's 4 MiB message limit.
constexpr size_t kMaxPageBytes = 2 << 20;

// The filters shared by listings and statistics. Enum values the proto does not define were
// refused at the edge (rpc::CheckWellFormed); here only what is defined but meaningless.
void CheckFilters(v1::Side side, const std::string& instrument, std::vector<FieldViolation>& c) {
  if (side == v1::SYSTEM) {
    c.push_back({"side", "must be REQUESTING, RECEIVING or unset", "FILTER_VALUE"});
  }
  if (!instrument.empty() && !IsProfileId(instrument)) {
    c.push_back({"instrument", "must be a profile name such as uncc (a-z, 0-9, -; at most 32)",
                 "FILTER_VALUE"});
  }
}

absl::Status CheckQuery(const v1::ListRequestsRequest& q) {
  std::vector<FieldViolation> c;
  if (q.page_size() < 0 || q.page_size() > kMaxPageSize) {
    c.push_back(
        {"page_size",
         absl::StrCat("must be between 0 (the default, ", kDefaultPageSize, ") and ", kMaxPageSize),
         "OUT_OF_RANGE"});
  }
  CheckFilters(q.side(), q.instrument(), c);
  if (!q.counterpart().empty() && !IsAuthorityName(q.counterpart())) {
    c.push_back({"counterpart", "must be authorities/<ID>, ID of 2-32 characters A-Z, 0-9, -",
                 "NAME_FORMAT"});
  }
  if (!q.order_by().empty() && q.order_by() != "next_due_time") {
    c.push_back({"order_by", "must be empty (creation order) or next_due_time", "ORDER_BY"});
  }
  if (q.has_due_before() && !IsValidTimestamp(q.due_before())) {
    c.push_back({"due_before", "is not a valid time", "INVALID_TIME"});
  }
  return c.empty() ? absl::OkStatus() : InvalidFields(c);
}

bool Matches(const v1::ListRequestsRequest& q, const v1::Request& r, v1::Side side) {
  if (q.side() != v1::SIDE_UNSPECIFIED && q.side() != side) return false;
  if (q.state() != v1::STATE_UNSPECIFIED && q.state() != r.state()) return false;
  if (q.type() != v1::REQUEST_TYPE_UNSPECIFIED && q.type() != r.type()) return false;
  if (q.priority() != v1::PRIORITY_UNSPECIFIED && q.priority() != r.priority()) return false;
  if (!q.instrument().empty() && q.instrument() != r.instrument()) return false;
  if (!q.counterpart().empty()) {
    // For an oversight auditor (no side), either party counts.
    const bool requested = q.counterpart() == r.requested_authority();
    const bool requesting = q.counterpart() == r.requesting_authority();
    if (side == v1::REQUESTING && !requested) return false;
    if (side == v1::RECEIVING && !requesting) return false;
    if (side == v1::SIDE_UNSPECIFIED && !requested && !requesting) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<v1::Request> Reader::Load(const Caller& caller, absl::string_view name) const {
  absl::StatusOr<std::string> id = ParseRequestName(name, "name");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> bytes = store_->Get(Column::kRequests, *id);
  if (absl::IsNotFound(bytes.status())) return RequestNotFound(name);
  if (!bytes.ok()) return bytes.status();
  v1::Request r;
  if (!r.ParseFromString(*bytes)) return absl::DataLossError(absl::StrCat(name, " is corrupt"));
  if (absl::Status s = auth::AuthorizeRead(caller, r); !s.ok()) return s;
  return r;
}

absl::StatusOr<v1::Request> Reader::Get(const Caller& caller, absl::string_view name) const {
  return Load(caller, name);
}

absl::StatusOr<v1::ListRequestsResponse> Reader::List(const Caller& caller,
                                                      const v1::ListRequestsRequest& q) const {
  if (absl::Status s = auth::AuthorizeList(caller); !s.ok()) return s;
  if (absl::Status s = CheckQuery(q); !s.ok()) return s;
  const int page_size = q.page_size() == 0 ? kDefaultPageSize : q.page_size();
  if (!q.order_by().empty() || q.has_due_before()) return ListByDue(caller, q, page_size);
  std::string last;
  if (!q.page_token().empty() &&
      (!absl::WebSafeBase64Unescape(q.page_token(), &last) || !IsValidId(last))) {
    return InvalidField("page_token", "is not a token this server returned", "PAGE_TOKEN");
  }
  // The authority's own requests come from its index; an oversight auditor's from every record.
  const bool all = auth::SeesAllRequests(caller);
  const Column column = all ? Column::kRequests : Column::kIndex;
  const std::string prefix = all ? "" : storage::PartyPrefix(caller.authority);
  v1::ListRequestsResponse out;
  size_t page_bytes = 0;
  absl::Status lookup;
  std::string last_id;
  absl::Status s = store_->Scan(
      column, prefix, last.empty() ? "" : prefix + last,
      [&](absl::string_view key, absl::string_view value) {
        if (out.requests_size() == page_size || page_bytes > kMaxPageBytes) {
          out.set_next_page_token(absl::WebSafeBase64Escape(last_id));
          return false;
        }
        const std::string id(key.substr(prefix.size()));
        last_id = id;
        v1::Request r;
        absl::StatusOr<std::string> bytes = all ? absl::StatusOr<std::string>(std::string(value))
                                                : store_->Get(Column::kRequests, id);
        if (!bytes.ok() || !r.ParseFromString(*bytes)) {
          lookup = absl::DataLossError(
              absl::StrCat("the index names requests/", id, " but its record cannot be read"));
          return false;
        }
        absl::StatusOr<v1::Side> side = SideOf(caller, r);
        if (all && !side.ok() && !r.has_submit_time()) return true;  // others' drafts
        if (Matches(q, r, side.ok() ? *side : v1::SIDE_UNSPECIFIED)) {
          page_bytes += bytes->size();
          *out.add_requests() = std::move(r);
        }
        return true;
      });
  if (!s.ok()) return s;
  if (!lookup.ok()) return lookup;
  return out;
}

absl::StatusOr<v1::ListRequestsResponse> Reader::ListByDue(const Caller& caller,
                                                           const v1::ListRequestsRequest& q,
                                                           int page_size) const {
  const bool all = auth::SeesAllRequests(caller);
  std::string last;  // "<time>/<id>" of the last request of the previous page
  if (!q.page_token().empty() && (!absl::WebSafeBase64Unescape(q.page_token(), &last) ||
                                  last.size() < 22 || !IsValidId(last.substr(21)))) {
    return InvalidField("page_token", "is not a token this server returned", "PAGE_TOKEN");
  }
  const std::string scope = all ? storage::kEveryAuthority : caller.authority;
  // Keys sort by due time: the first key at or past due_before ends the list.
  const std::string end =
      q.has_due_before() ? storage::DueKey(scope, absl::ToUnixMicros(FromProto(q.due_before())), "")
                         : std::string();
  const std::string prefix = storage::DuePrefix(scope);
  v1::ListRequestsResponse out;
  size_t page_bytes = 0;
  absl::Status lookup;
  std::string last_seen;
  absl::Status s =
      store_->Scan(Column::kIndex, prefix, last.empty() ? "" : prefix + last,
                   [&](absl::string_view key, absl::string_view) {
                     const std::string suffix(key.substr(prefix.size()));  // <time>/<id>
                     if (!end.empty() && key >= end) return false;
                     if (out.requests_size() == page_size || page_bytes > kMaxPageBytes) {
                       out.set_next_page_token(absl::WebSafeBase64Escape(last_seen));
                       return false;
                     }
                     last_seen = suffix;
                     const std::string id = suffix.substr(21);
                     absl::StatusOr<std::string> bytes = store_->Get(Column::kRequests, id);
                     v1::Request r;
                     if (!bytes.ok() || !r.ParseFromString(*bytes)) {
                       lookup = absl::DataLossError(absl::StrCat(
                           "the due index names requests/", id, " but its record cannot be read"));
                       return false;
                     }
                     absl::StatusOr<v1::Side> side = SideOf(caller, r);
                     if (!side.ok() && !all) return true;
                     if (Matches(q, r, side.ok() ? *side : v1::SIDE_UNSPECIFIED)) {
                       page_bytes += bytes->size();
                       *out.add_requests() = std::move(r);
                     }
                     return true;
                   });
  if (!s.ok()) return s;
  if (!lookup.ok()) return lookup;
  return out;
}

absl::Status Reader::TrailHead(const Caller& caller, absl::string_view name, std::string* id,
                               v1::Trail* trail) const {
  if (name == storage::kDirectoryTrail) {
    if (absl::Status s = auth::AuthorizeDirectoryRead(caller); !s.ok()) return s;
    absl::StatusOr<std::string> bytes = store_->Get(Column::kMeta, storage::kDirectoryKey);
    if (!bytes.ok()) return bytes.status();
    storage::v1::DirectoryRecord record;
    if (!record.ParseFromString(*bytes)) return absl::DataLossError("corrupt directory record");
    *id = storage::kDirectoryTrail;
    trail->set_request(*id);
    trail->set_head(record.audit_head());
    trail->set_size(record.audit_size());
    return absl::OkStatus();
  }
  absl::StatusOr<v1::Request> r = Load(caller, name);
  if (!r.ok()) return r.status();
  *id = r->name().substr(strlen("requests/"));
  trail->set_request(r->name());
  trail->set_head(r->audit_head());
  trail->set_size(r->audit_size());
  return absl::OkStatus();
}

absl::StatusOr<v1::TrailEntry> Reader::TrailEntryAt(absl::string_view id, uint64_t index) const {
  absl::StatusOr<std::string> bytes = store_->Get(Column::kAudit, storage::AuditKey(id, index + 1));
  if (!bytes.ok()) {
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(
          absl::StrCat("audit entry ", index + 1, " of ", id, " is missing"));
    }
    return bytes.status();
  }
  v1::TrailEntry e;
  e.set_data(*std::move(bytes));
  if (!e.mutable_entry()->ParseFromString(e.data())) {
    return absl::DataLossError(
        absl::StrCat("audit entry ", index + 1, " of ", id, " does not parse"));
  }
  return e;
}

absl::StatusOr<v1::Trail> Reader::Trail(const Caller& caller, absl::string_view name) const {
  std::string id;
  v1::Trail trail;
  if (absl::Status s = TrailHead(caller, name, &id, &trail); !s.ok()) return s;
  // Entries are append-only: those up to the size read with the record are a consistent view.
  const uint64_t size = trail.size();
  absl::Status parse;
  absl::Status s = store_->Scan(
      Column::kAudit, storage::AuditPrefix(id), "", [&](absl::string_view, absl::string_view v) {
        if (static_cast<uint64_t>(trail.entries_size()) == size) return false;
        v1::TrailEntry* e = trail.add_entries();
        e->set_data(std::string(v));
        if (!e->mutable_entry()->ParseFromString(e->data())) {
          parse = absl::DataLossError(absl::StrCat("audit entry ", trail.entries_size(), " of ",
                                                   trail.request(), " does not parse"));
          return false;
        }
        return true;
      });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  return trail;
}

namespace {

// What a trail's page token holds: the trail as fixed by its first page, and where to go on.
struct TrailCursor {
  std::string request;
  uint64_t next = 0;        // the index of the page's first entry
  uint64_t size = 0;        // the trail's size at the first page
  uint64_t proof_size = 0;  // the checkpoint size the proofs lead to (0: none)
};

constexpr int kMaxTrailPage = 1000;

std::string TrailToken(Reader::TrailKind kind, const TrailCursor& c) {
  return absl::WebSafeBase64Escape(absl::StrCat(kind == Reader::TrailKind::kGet ? "get" : "export",
                                                "\n", c.request, "\n", c.next, "\n", c.size, "\n",
                                                c.proof_size));
}

bool ParseTrailToken(absl::string_view token, Reader::TrailKind kind, TrailCursor* c) {
  std::string text;
  if (!absl::WebSafeBase64Unescape(token, &text)) return false;
  std::vector<std::string> parts = absl::StrSplit(text, '\n');
  return parts.size() == 5 && parts[0] == (kind == Reader::TrailKind::kGet ? "get" : "export") &&
         absl::SimpleAtoi(parts[2], &c->next) && absl::SimpleAtoi(parts[3], &c->size) &&
         absl::SimpleAtoi(parts[4], &c->proof_size) && (c->request = parts[1], true);
}

}  // namespace

absl::StatusOr<v1::Trail> Reader::TrailPage(
    const Caller& caller, const v1::GetTrailRequest& q, TrailKind kind,
    const std::function<absl::StatusOr<uint64_t>()>& proof_size, bool covered_only) const {
  std::string id;
  v1::Trail trail;
  if (absl::Status s = TrailHead(caller, q.request(), &id, &trail); !s.ok()) return s;
  if (q.page_size() < 0 || q.page_size() > kMaxTrailPage) {
    return InvalidField("page_size", absl::StrCat("must be 0-", kMaxTrailPage), "OUT_OF_RANGE");
  }
  const int page_size = q.page_size() == 0 ? kMaxTrailPage : q.page_size();
  TrailCursor at{trail.request(), 0, trail.size(), 0};
  if (!q.page_token().empty()) {
    TrailCursor token;
    if (!ParseTrailToken(q.page_token(), kind, &token) || token.request != trail.request() ||
        token.next >= token.size || token.size > trail.size()) {
      return InvalidField("page_token", "is not a token this server returned for this trail",
                          "PAGE_TOKEN");
    }
    at = token;
  } else {
    absl::StatusOr<uint64_t> proofs = proof_size();
    if (!proofs.ok()) return proofs.status();
    at.proof_size = *proofs;
    // Entries after the checkpoint are not in the log it signs: the trail ends before them.
    while (covered_only && at.size > 0) {
      absl::StatusOr<v1::TrailEntry> last = TrailEntryAt(id, at.size - 1);
      if (!last.ok()) return last.status();
      if (last->entry().leaf_index() < at.proof_size) break;
      --at.size;
    }
  }
  if (at.size != trail.size()) {
    trail.set_size(at.size);
    if (at.size == 0) {
      trail.clear_head();
    } else {
      absl::StatusOr<v1::TrailEntry> last = TrailEntryAt(id, at.size - 1);
      if (!last.ok()) return last.status();
      trail.set_head(Sha256(last->data()));
    }
  }
  size_t page_bytes = 0;
  absl::Status parse;
  absl::Status s = store_->Scan(
      Column::kAudit, storage::AuditPrefix(id), at.next == 0 ? "" : storage::AuditKey(id, at.next),
      [&](absl::string_view, absl::string_view v) {
        if (at.next + trail.entries_size() == at.size || trail.entries_size() == page_size ||
            page_bytes > kMaxPageBytes) {
          return false;
        }
        v1::TrailEntry* e = trail.add_entries();
        e->set_data(std::string(v));
        if (!e->mutable_entry()->ParseFromString(e->data())) {
          parse = absl::DataLossError(absl::StrCat("audit entry ", at.next + trail.entries_size(),
                                                   " of ", trail.request(), " does not parse"));
          return false;
        }
        // The bytes, their parsed copy, and a proof of at most 64 hashes.
        page_bytes += 2 * v.size() + 64 * 32;
        return true;
      });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  if (at.proof_size > 0) {
    if (absl::Status p = AddInclusionProofs(at.proof_size, &trail); !p.ok()) return p;
  }
  const uint64_t next = at.next + trail.entries_size();
  if (next < at.size) {
    at.next = next;
    trail.set_next_page_token(TrailToken(kind, at));
  }
  return trail;
}

absl::StatusOr<v1::Statistics> Reader::Statistics(const Caller& caller,
                                                  const v1::GetStatisticsRequest& query) const {
  std::vector<FieldViolation> bad;
  CheckFilters(query.side(), query.instrument(), bad);
  if (!bad.empty()) return InvalidFields(bad);
  v1::Statistics out;
  v1::ListRequestsRequest page;
  page.set_page_size(1000);
  page.set_side(query.side());
  page.set_instrument(query.instrument());
  double hours = 0;
  for (;;) {
    absl::StatusOr<v1::ListRequestsResponse> list = List(caller, page);
    if (!list.ok()) return list.status();
    for (const v1::Request& r : list->requests()) {
      if (!r.has_submit_time()) continue;  // never submitted
      out.set_requests(out.requests() + 1);
      (*out.mutable_by_type())[v1::RequestType_Name(r.type())]++;
      if (r.priority() == v1::EMERGENCY) out.set_emergency(out.emergency() + 1);
      switch (r.state()) {
        case v1::REFUSED:
          out.set_refused(out.refused() + 1);
          for (const std::string& g : r.refusal().grounds()) (*out.mutable_refusal_grounds())[g]++;
          break;
        case v1::WITHDRAWN:
          out.set_withdrawn(out.withdrawn() + 1);
          break;
        case v1::PRESERVED:
          out.set_preserved(out.preserved() + 1);
          break;
        case v1::EXECUTED:
        case v1::CLOSED:
        case v1::EXPIRED:
          break;
        default:
          out.set_pending(out.pending() + 1);
      }
      // Complied, and how long it took: from the trail's SUBMIT to its final DELIVER.
      const bool delivered = std::any_of(r.deliveries().begin(), r.deliveries().end(),
                                         [](const v1::Delivery& d) { return d.final(); });
      if (!delivered) continue;
      out.set_complied(out.complied() + 1);
      absl::StatusOr<v1::Trail> trail = Trail(caller, r.name());
      if (!trail.ok()) return trail.status();
      absl::Time submitted = absl::InfinitePast(), done = absl::InfinitePast();
      for (const v1::TrailEntry& e : trail->entries()) {
        if (e.entry().action() == v1::SUBMIT) submitted = FromProto(e.entry().time());
        if (e.entry().action() == v1::DELIVER && e.entry().state_after() == v1::EXECUTED) {
          done = FromProto(e.entry().time());
        }
      }
      hours += absl::ToDoubleHours(done - submitted);
    }
    if (list->next_page_token().empty()) break;
    page.set_page_token(list->next_page_token());
  }
  if (out.complied() > 0) out.set_mean_hours_to_delivery(hours / out.complied());
  return out;
}

std::string Reader::StoredRange(uint64_t begin, uint64_t end, absl::Status* status) const {
  if (begin >= end) return audit::EmptyRoot();
  // Largest aligned perfect subtrees, left to right, then folded right to left.
  std::vector<std::string> parts;
  for (uint64_t x = begin; x < end;) {
    int level = 0;
    while (level < 63 && (x & ((uint64_t{2} << level) - 1)) == 0 &&
           x + (uint64_t{2} << level) <= end) {
      ++level;
    }
    absl::StatusOr<std::string> node =
        store_->Get(Column::kTlog, storage::TlogNodeKey(level, x >> level));
    if (!node.ok()) {
      *status =
          absl::DataLossError(absl::StrCat("the Merkle log lacks node ", level, "/", x >> level));
      return "";
    }
    parts.push_back(*std::move(node));
    x += uint64_t{1} << level;
  }
  std::string h = parts.back();
  for (size_t i = parts.size() - 1; i-- > 0;) h = audit::NodeHash(parts[i], h);
  return h;
}

absl::Status Reader::AddInclusionProofs(uint64_t size, v1::Trail* trail) const {
  absl::Status status;
  auto range = [&](uint64_t b, uint64_t e) { return StoredRange(b, e, &status); };
  for (v1::TrailEntry& e : *trail->mutable_entries()) {
    if (e.entry().leaf_index() >= size) continue;
    for (std::string& h : audit::InclusionProof(range, e.entry().leaf_index(), size)) {
      e.add_inclusion_proof(std::move(h));
    }
  }
  return status;
}

absl::StatusOr<v1::ConsistencyProof> Reader::Consistency(uint64_t from_size, uint64_t to_size,
                                                         uint64_t durable_size) const {
  if (from_size == 0 || from_size > to_size || to_size > durable_size) {
    return InvalidField("to_size",
                        absl::StrCat("sizes must satisfy 0 < from_size <= to_size <= ",
                                     durable_size, " (the latest checkpoint)"),
                        "OUT_OF_RANGE");
  }
  absl::Status status;
  v1::ConsistencyProof out;
  out.set_from_size(from_size);
  out.set_to_size(to_size);
  for (std::string& h :
       audit::ConsistencyProof([&](uint64_t b, uint64_t e) { return StoredRange(b, e, &status); },
                               from_size, to_size)) {
    out.add_hashes(std::move(h));
  }
  if (!status.ok()) return status;
  return out;
}

}  // namespace comity::workflow
