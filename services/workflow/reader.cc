#include "services/workflow/reader.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/ids.h"
#include "services/workflow/errors.h"
#include "services/auth/policy.h"
#include "services/workflow/names.h"
#include "storage/keys.h"

namespace comity::workflow {

using auth::ActingRole;
using auth::CheckMayAct;
using auth::CheckMayRead;
using auth::RequestNotFound;
using auth::SideOf;
namespace {

using storage::Column;

constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

bool Matches(const v1::ListRequestsRequest& q, const v1::Request& r, v1::Side side) {
  if (q.side() != v1::SIDE_UNSPECIFIED && q.side() != side) return false;
  if (q.state() != v1::STATE_UNSPECIFIED && q.state() != r.state()) return false;
  if (q.type() != v1::REQUEST_TYPE_UNSPECIFIED && q.type() != r.type()) return false;
  if (q.priority() != v1::PRIORITY_UNSPECIFIED && q.priority() != r.priority()) return false;
  if (!q.instrument().empty() && q.instrument() != r.instrument()) return false;
  if (!q.counterpart().empty()) {
    const std::string& other =
        side == v1::REQUESTING ? r.requested_authority() : r.requesting_authority();
    if (other != q.counterpart()) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<v1::Request> Reader::Load(const Caller& caller, absl::string_view name) const {
  if (absl::Status s = CheckMayRead(caller); !s.ok()) return s;
  absl::StatusOr<std::string> id = ParseRequestName(name, "name");
  if (!id.ok()) return id.status();
  absl::StatusOr<std::string> bytes = store_->Get(Column::kRequests, *id);
  if (absl::IsNotFound(bytes.status())) return RequestNotFound(name);
  if (!bytes.ok()) return bytes.status();
  v1::Request r;
  if (!r.ParseFromString(*bytes)) return absl::DataLossError(absl::StrCat(name, " is corrupt"));
  absl::StatusOr<v1::Side> side = SideOf(caller, r);
  if (!side.ok()) return side.status();
  return r;
}

absl::StatusOr<v1::Request> Reader::Get(const Caller& caller, absl::string_view name) const {
  return Load(caller, name);
}

absl::StatusOr<v1::ListRequestsResponse> Reader::List(const Caller& caller,
                                                      const v1::ListRequestsRequest& q) const {
  if (absl::Status s = CheckMayRead(caller); !s.ok()) return s;
  if (q.page_size() < 0) return InvalidField("page_size", "must not be negative", "OUT_OF_RANGE");
  const int page_size =
      q.page_size() == 0 ? kDefaultPageSize : std::min(q.page_size(), kMaxPageSize);
  const std::string prefix = storage::PartyPrefix(caller.authority);
  std::string start_after;
  if (!q.page_token().empty()) {
    std::string last;
    if (!absl::WebSafeBase64Unescape(q.page_token(), &last) || !IsValidId(last)) {
      return InvalidField("page_token", "is not a token this server returned", "PAGE_TOKEN");
    }
    start_after = prefix + last;
  }
  v1::ListRequestsResponse out;
  absl::Status lookup;
  std::string last_id;
  absl::Status s = store_->Scan(
      Column::kIndex, prefix, start_after, [&](absl::string_view key, absl::string_view value) {
        if (out.requests_size() == page_size) {
          out.set_next_page_token(absl::WebSafeBase64Escape(last_id));
          return false;
        }
        const std::string id(key.substr(prefix.size()));
        last_id = id;
        const v1::Side side = value == "q" ? v1::REQUESTING : v1::RECEIVING;
        absl::StatusOr<std::string> bytes = store_->Get(Column::kRequests, id);
        v1::Request r;
        if (!bytes.ok() || !r.ParseFromString(*bytes)) {
          lookup = absl::DataLossError(
              absl::StrCat("the index names requests/", id, " but its record cannot be read"));
          return false;
        }
        if (Matches(q, r, side)) *out.add_requests() = std::move(r);
        return true;
      });
  if (!s.ok()) return s;
  if (!lookup.ok()) return lookup;
  return out;
}

absl::StatusOr<v1::Trail> Reader::Trail(const Caller& caller, absl::string_view name) const {
  absl::StatusOr<v1::Request> r = Load(caller, name);
  if (!r.ok()) return r.status();
  const std::string id = r->name().substr(strlen("requests/"));
  v1::Trail trail;
  trail.set_request(r->name());
  trail.set_head(r->audit_head());
  trail.set_size(r->audit_size());
  // Entries are append-only: those up to the size read with the record are a consistent view.
  const uint64_t size = r->audit_size();
  absl::Status parse;
  absl::Status s = store_->Scan(
      Column::kAudit, storage::AuditPrefix(id), "", [&](absl::string_view, absl::string_view v) {
        if (static_cast<uint64_t>(trail.entries_size()) == size) return false;
        v1::TrailEntry* e = trail.add_entries();
        e->set_data(std::string(v));
        if (!e->mutable_entry()->ParseFromString(e->data())) {
          parse = absl::DataLossError(absl::StrCat("audit entry ", trail.entries_size(), " of ",
                                                   r->name(), " does not parse"));
          return false;
        }
        return true;
      });
  if (!s.ok()) return s;
  if (!parse.ok()) return parse;
  return trail;
}

}  // namespace comity::workflow
