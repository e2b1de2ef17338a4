#include "services/workflow/reader.h"

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "comity/storage/v1/records.pb.h"
#include "common/ids.h"
#include "common/sha256.h"
#include "common/text.h"
#include "services/audit/merkle.h"
#include "services/auth/policy.h"
#include "services/workflow/directory.h"
#include "services/workflow/errors.h"
#include "services/workflow/indexes.h"
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

namespace {

// The requests under every one of a set of index prefixes, in key order: each prefix is
// followed by the same kind of suffix (an id, or a due suffix), and a suffix is listed when every
// prefix has it. Cursors leapfrog to the largest suffix any of them is at, so the cost follows
// the shortest list, not the sum. A single prefix is a plain scan. `After` is asked for targets
// that never go down, as a listing asks.
class IndexJoin {
 public:
  static constexpr int kStepsBeforeSeek = 8;

  IndexJoin(const storage::Store& store, std::vector<std::string> prefixes)
      : prefixes_(std::move(prefixes)) {
    for (const std::string& p : prefixes_) cursors_.push_back(store.NewCursor(Column::kIndex, p));
  }

  // The first suffix after `after` ("": from the start) under every prefix; nullopt past the
  // last.
  absl::StatusOr<std::optional<std::string>> After(const std::string& after) {
    // The smallest string above `after`: keys are text, so "\0" sorts below any next character.
    std::string target = after.empty() ? std::string() : after + '\0';
    size_t agree = 0;
    for (size_t i = 0;; i = (i + 1) % cursors_.size()) {
      storage::Cursor& c = *cursors_[i];
      // Targets only grow, so a cursor at or past this one is where a seek would put it, and
      // one a few keys short steps there: a seek searches every level, a step reads the next
      // key. A listing's next item is the very next key of a single list.
      const std::string key = prefixes_[i] + target;
      bool there = c.Valid() && c.key() >= key;
      if (!there && c.Valid()) {
        for (int step = 0; step < kStepsBeforeSeek && c.Valid() && c.key() < key; ++step) c.Next();
        there = !c.Valid() || c.key() >= key;
      }
      if (!there) c.Seek(key);
      if (!c.Valid()) {
        if (absl::Status s = c.status(); !s.ok()) return s;
        return std::nullopt;
      }
      absl::string_view suffix = c.key();
      suffix.remove_prefix(prefixes_[i].size());  // the cursor is bounded to its prefix
      if (suffix == target) {
        ++agree;
      } else {
        target = std::string(suffix);
        agree = 1;
      }
      if (agree == cursors_.size()) return target;
    }
  }

 private:
  std::vector<std::string> prefixes_;
  std::vector<std::unique_ptr<storage::Cursor>> cursors_;
};

char SideCode(v1::Side side) {
  return side == v1::REQUESTING ? storage::kRequestingCode : storage::kReceivingCode;
}

// The listing filters `q` sets, as the index spells them.
std::vector<std::pair<storage::Dimension, std::string>> ListFilters(
    const v1::ListRequestsRequest& q) {
  using storage::Dimension;
  std::vector<std::pair<Dimension, std::string>> filters;
  if (q.side() != v1::SIDE_UNSPECIFIED) {
    filters.emplace_back(Dimension::kSide, std::string(1, SideCode(q.side())));
  }
  if (q.state() != v1::STATE_UNSPECIFIED) {
    filters.emplace_back(Dimension::kState, EnumValue(q.state()));
  }
  if (q.type() != v1::REQUEST_TYPE_UNSPECIFIED) {
    filters.emplace_back(Dimension::kType, EnumValue(q.type()));
  }
  if (q.priority() != v1::PRIORITY_UNSPECIFIED) {
    filters.emplace_back(Dimension::kPriority, EnumValue(q.priority()));
  }
  if (!q.instrument().empty()) filters.emplace_back(Dimension::kInstrument, q.instrument());
  if (!q.counterpart().empty()) filters.emplace_back(Dimension::kCounterpart, q.counterpart());
  return filters;
}

// The index prefixes that select `filters` among the requests `scope` sees (a party's
// authority, or storage::kEveryAuthority), in due order when `by_due`. Unfiltered: the scope's
// whole listing. nullopt when the scope holds nothing the filters could match (a side asked of
// the node-wide scope, which has none).
std::optional<std::vector<std::string>> FilterPrefixes(
    const std::vector<std::pair<storage::Dimension, std::string>>& filters,
    const std::string& scope, bool by_due) {
  std::vector<std::string> prefixes;
  for (const auto& [dimension, value] : filters) {
    if (dimension == storage::Dimension::kSide && scope == storage::kEveryAuthority) {
      return std::nullopt;
    }
    prefixes.push_back(by_due ? storage::ListDuePrefix(scope, dimension, value)
                              : storage::ListPrefix(scope, dimension, value));
  }
  if (prefixes.empty()) {
    prefixes.push_back(by_due ? storage::DuePrefix(scope) : storage::PartyPrefix(scope));
  }
  return prefixes;
}

}  // namespace

absl::StatusOr<v1::ListRequestsResponse> Reader::List(const Caller& caller,
                                                      const v1::ListRequestsRequest& q) const {
  if (absl::Status s = auth::AuthorizeList(caller); !s.ok()) return s;
  if (absl::Status s = CheckQuery(q); !s.ok()) return s;
  const int page_size = q.page_size() == 0 ? kDefaultPageSize : q.page_size();
  const bool by_due = !q.order_by().empty() || q.has_due_before();
  const bool all = auth::SeesAllRequests(caller);
  const auto filters = ListFilters(q);
  // An oversight auditor's listing in creation order, unfiltered, is every record's.
  if (all && !by_due && filters.empty()) return ListEveryRecord(caller, q, page_size);

  // Where the previous page ended: an id, or in due order <time>/<id>.
  std::string last;
  if (!q.page_token().empty()) {
    int64_t micros;
    std::string id;
    if (!absl::WebSafeBase64Unescape(q.page_token(), &last) ||
        !(by_due ? storage::ParseDueSuffix(last, &micros, &id) : IsValidId(last))) {
      return InvalidField("page_token", "is not a token this server returned", "PAGE_TOKEN");
    }
  }
  // The requests come from the index of each scope the caller reads: its authority's, and for an
  // oversight auditor the node-wide one (in due order, only that: as before, its own drafts are
  // not due anywhere it looks).
  std::vector<std::string> scopes;
  if (all) scopes.push_back(storage::kEveryAuthority);
  if (!caller.authority.empty() && (!all || !by_due)) scopes.push_back(caller.authority);
  std::vector<IndexJoin> joins;
  for (const std::string& scope : scopes) {
    std::optional<std::vector<std::string>> prefixes = FilterPrefixes(filters, scope, by_due);
    if (prefixes) joins.emplace_back(*store_, *std::move(prefixes));
  }
  // Due order stops at due_before: the first suffix at or past it.
  const std::string end =
      q.has_due_before() ? storage::DueSuffix(absl::ToUnixMicros(FromProto(q.due_before())), "")
                         : std::string();
  // The joins merged: the smallest next suffix of any, once.
  std::vector<std::optional<std::string>> heads(joins.size());
  for (size_t i = 0; i < joins.size(); ++i) {
    absl::StatusOr<std::optional<std::string>> h = joins[i].After(last);
    if (!h.ok()) return h.status();
    heads[i] = *std::move(h);
  }
  auto next = [&]() -> absl::StatusOr<std::optional<std::string>> {
    std::optional<std::string> least;
    for (const auto& h : heads) {
      if (h && (!least || *h < *least)) least = *h;
    }
    if (!least || (!end.empty() && *least >= end)) return std::nullopt;
    for (size_t i = 0; i < joins.size(); ++i) {
      if (heads[i] != least) continue;
      absl::StatusOr<std::optional<std::string>> h = joins[i].After(*least);
      if (!h.ok()) return h.status();
      heads[i] = *std::move(h);
    }
    return least;
  };

  v1::ListRequestsResponse out;
  size_t page_bytes = 0;
  std::string last_listed;
  // The suffixes are taken as many at a time as the page still has room for (one more once it
  // is full, to know whether there is a next page), and their records read in one MultiGet.
  // A malformed due suffix has the empty id, which no request has.
  std::vector<std::string> suffixes;
  std::vector<std::string> ids;
  for (;;) {
    suffixes.clear();
    ids.clear();
    const size_t room = std::max(page_size - out.requests_size(), 1);
    while (suffixes.size() < room) {
      absl::StatusOr<std::optional<std::string>> suffix = next();
      if (!suffix.ok()) return suffix.status();
      if (!suffix->has_value()) break;
      std::string id = **suffix;
      int64_t micros;
      if (by_due && !storage::ParseDueSuffix(**suffix, &micros, &id)) id.clear();
      suffixes.push_back(**std::move(suffix));
      ids.push_back(std::move(id));
    }
    if (suffixes.empty()) break;
    std::vector<absl::StatusOr<std::string>> records = store_->MultiGet(Column::kRequests, ids);
    for (size_t i = 0; i < suffixes.size(); ++i) {
      if (out.requests_size() == page_size || page_bytes > kMaxPageBytes) {
        out.set_next_page_token(absl::WebSafeBase64Escape(last_listed));
        return out;
      }
      last_listed = suffixes[i];
      if (ids[i].empty()) {
        return absl::DataLossError(
            absl::StrCat("the due index holds a malformed key: ", Echo(suffixes[i])));
      }
      v1::Request r;
      if (!records[i].ok() || !r.ParseFromString(*records[i])) {
        return absl::DataLossError(
            absl::StrCat("the index names requests/", ids[i], " but its record cannot be read"));
      }
      // The index is written with the record, so this holds; it also settles the rare request
      // an auditor's authority is a party to, which the node-wide scope lists by either party.
      absl::StatusOr<v1::Side> side = SideOf(caller, r);
      if (!side.ok() && !(all && r.has_submit_time())) continue;
      if (!Matches(q, r, side.ok() ? *side : v1::SIDE_UNSPECIFIED)) continue;
      page_bytes += records[i]->size();
      *out.add_requests() = std::move(r);
    }
  }
  return out;
}

absl::StatusOr<v1::ListRequestsResponse> Reader::ListEveryRecord(const Caller& caller,
                                                                 const v1::ListRequestsRequest& q,
                                                                 int page_size) const {
  std::string last;
  if (!q.page_token().empty() &&
      (!absl::WebSafeBase64Unescape(q.page_token(), &last) || !IsValidId(last))) {
    return InvalidField("page_token", "is not a token this server returned", "PAGE_TOKEN");
  }
  v1::ListRequestsResponse out;
  size_t page_bytes = 0;
  absl::Status lookup;
  std::string last_id;
  absl::Status s = store_->Scan(
      Column::kRequests, "", last, [&](absl::string_view key, absl::string_view value) {
        if (out.requests_size() == page_size || page_bytes > kMaxPageBytes) {
          out.set_next_page_token(absl::WebSafeBase64Escape(last_id));
          return false;
        }
        last_id = std::string(key);
        v1::Request r;
        if (!r.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
          lookup = absl::DataLossError(absl::StrCat("requests/", last_id, " cannot be read"));
          return false;
        }
        absl::StatusOr<v1::Side> side = SideOf(caller, r);
        if (!side.ok() && !r.has_submit_time()) return true;  // others' drafts
        page_bytes += value.size();
        *out.add_requests() = std::move(r);
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

absl::StatusOr<std::optional<v1::TrailBundle>> Reader::MirrorBundle(const Caller& caller,
                                                                    absl::string_view name) const {
  if (name == storage::kDirectoryTrail) return std::nullopt;
  absl::StatusOr<v1::Request> r = Load(caller, name);
  if (!r.ok()) return r.status();
  if (r->system_of_record().empty()) return std::nullopt;
  v1::MirroredTrail mirror;
  absl::StatusOr<std::string> bytes =
      store_->Get(Column::kMirror, r->name().substr(strlen("requests/")));
  if (absl::IsNotFound(bytes.status())) {
    // Submitted, not yet mirrored: the trail there is empty as far as this node knows.
    v1::TrailBundle empty;
    empty.mutable_trail()->set_request(r->name());
    return empty;
  }
  if (!bytes.ok()) return bytes.status();
  if (!mirror.ParseFromString(*bytes)) {
    return absl::DataLossError(absl::StrCat("the mirrored trail of ", r->name(), " is corrupt"));
  }
  return std::move(*mirror.mutable_bundle());
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

namespace {

// Calls `fn(instrument, figure, amount)` for each counter under `prefix`; DATA_LOSS for one that
// does not parse.
absl::Status ScanCounters(
    const storage::Store& store, const std::string& prefix,
    const std::function<void(const std::string&, const std::string&, int64_t)>& fn) {
  absl::Status bad_counter;
  absl::Status s = store.Scan(
      Column::kCounters, prefix, "", [&](absl::string_view key, absl::string_view value) {
        std::string scope, instrument, figure;
        char side;
        int64_t amount;
        if (!storage::ParseCounterKey(key, &scope, &side, &instrument, &figure) ||
            !storage::DecodeCounter(value, &amount)) {
          bad_counter = absl::DataLossError(absl::StrCat("counter ", Echo(key), " is corrupt"));
          return false;
        }
        fn(instrument, figure, amount);
        return true;
      });
  return s.ok() ? bad_counter : s;
}

}  // namespace

absl::StatusOr<v1::Statistics> Reader::Statistics(const Caller& caller,
                                                  const v1::GetStatisticsRequest& query) const {
  if (absl::Status s = auth::AuthorizeList(caller); !s.ok()) return s;
  std::vector<FieldViolation> bad;
  CheckFilters(query.side(), query.instrument(), bad);
  if (!bad.empty()) return InvalidFields(bad);
  // The counters of the scope the caller reads: its authority's (by side when asked), or the
  // node's for an oversight auditor. A side, asked by an oversight auditor, is its authority's.
  v1::Statistics out;
  const bool all = auth::SeesAllRequests(caller);
  std::string prefix;
  if (query.side() != v1::SIDE_UNSPECIFIED) {
    if (caller.authority.empty()) return out;
    prefix = storage::CounterPrefix(caller.authority, SideCode(query.side()));
  } else {
    prefix = storage::CounterPrefix(all ? storage::kEveryAuthority : caller.authority);
  }
  int64_t delivery_micros = 0;
  absl::Status s = ScanCounters(
      *store_, prefix,
      [&](const std::string& instrument, const std::string& figure, int64_t amount) {
        if (amount != 0 && (query.instrument().empty() || query.instrument() == instrument)) {
          AddFigure(figure, amount, out, &delivery_micros);
        }
      });
  if (!s.ok()) return s;
  if (out.complied() > 0) {
    out.set_mean_hours_to_delivery(static_cast<double>(delivery_micros) / 3.6e9 /
                                   static_cast<double>(out.complied()));
  }
  return out;
}

absl::StatusOr<int64_t> Reader::EvidenceBytes(const std::string& authority) const {
  int64_t total = 0;
  absl::Status s = ScanCounters(*store_, storage::CounterPrefix(authority, storage::kReceivingCode),
                                [&](const std::string&, const std::string& figure, int64_t amount) {
                                  total += EvidenceBytesOf(figure, amount);
                                });
  if (!s.ok()) return s;
  return total;
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
