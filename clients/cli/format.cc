#include "clients/cli/format.h"

#include <cstdio>
#include <iostream>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "common/sha256.h"
#include "google/protobuf/util/json_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "services/rpc/status.h"
#include "services/workflow/errors.h"

namespace comity::cli {
namespace {

std::string When(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%SZ", absl::FromUnixSeconds(t.seconds()),
                          absl::UTCTimeZone());
}

std::string Id(const std::string& name) {
  return name.size() > 9 ? name.substr(9) : name;  // strip "requests/"
}

void Row(const char* key, const std::string& value) {
  if (!value.empty()) std::printf("%-22s %s\n", key, value.c_str());
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// "in 3d 4h" or "4h 10m overdue", from now.
std::string FromNow(const google::protobuf::Timestamp& t) {
  const absl::Duration left = TimeOf(t) - absl::Now();
  return left >= absl::ZeroDuration() ? absl::StrCat("in ", HumanDuration(left))
                                      : absl::StrCat(HumanDuration(-left), " overdue");
}

// "FR-CA/alice" for spiffe://comity.dev/FR-CA/alice; other names as they are.
std::string ShortPrincipal(const std::string& principal) {
  if (principal.rfind("spiffe://", 0) != 0) return principal;
  return principal.substr(principal.find('/', 9) + 1);
}

std::string Authority(const std::string& name) {
  return name.rfind("authorities/", 0) == 0 ? name.substr(12) : name;
}

}  // namespace

void PrintJson(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  std::cout << out;
}

void PrintRequest(const v1::Request& r) {
  Row("name", r.name());
  Row("state", v1::State_Name(r.state()));
  Row("type", v1::RequestType_Name(r.type()));
  Row("priority", v1::Priority_Name(r.priority()));
  Row("instrument", r.instrument());
  Row("from", r.requesting_authority());
  Row("to", r.requested_authority());
  Row("case reference", r.case_info().reference());
  Row("follows", r.follows());
  Row("etag", r.etag());
  // Federation: the node that keeps the request, and how far each action taken here has got.
  if (!r.system_of_record().empty()) {
    Row("kept by", absl::StrCat("node ", r.system_of_record(),
                                " (trail mirrored: ", r.mirror_size(), " entries)"));
  }
  for (const v1::RelayedAction& a : r.relayed()) {
    std::string line = absl::StrCat(v1::Action_Name(a.action()), " ", a.key(), ": ",
                                    absl::StripPrefix(v1::RelayState_Name(a.state()), "RELAY_"),
                                    " ", When(a.update_time()));
    if (!a.reason().empty()) {
      absl::StrAppend(
          &line, " (",
          a.code() != 0
              ? absl::StrCat(absl::StatusCodeToString(static_cast<absl::StatusCode>(a.code())),
                             ": ")
              : "",
          a.reason(), ")");
    }
    Row("relayed", line);
  }
  Row("created", When(r.create_time()));
  Row("updated", When(r.update_time()));
  if (r.has_preservation()) {
    Row("preserved until", When(r.preservation().expire_time()));
    if (r.preservation().extensions() > 0) {
      Row("extensions", absl::StrCat(r.preservation().extensions()));
    }
  }
  if (r.has_refusal()) {
    Row("refused on", absl::StrJoin(r.refusal().grounds(), ", "));
  }
  if (r.has_postponement()) {
    Row("postponed until", When(r.postponement().until_time()));
  }
  for (const v1::Condition& c : r.conditions()) {
    Row("condition",
        absl::StrCat(v1::ConditionStatus_Name(c.status()), " ", v1::ConditionKind_Name(c.kind())));
  }
  for (const v1::Delivery& d : r.deliveries()) {
    Row("delivery", absl::StrCat("#", d.number(), d.final() ? " final" : " partial", ", ",
                                 d.items_size(), " item(s), ", When(d.delivered_time())));
  }
  for (const v1::Clock& c : r.clocks()) {
    std::string line = absl::StrCat(c.name(), ": ", v1::ClockState_Name(c.state()));
    if (c.state() == v1::RUNNING || c.state() == v1::PAUSED) {
      absl::StrAppend(&line, ", due ", When(c.due_time()));
      if (c.state() == v1::RUNNING) absl::StrAppend(&line, " (", FromNow(c.due_time()), ")");
    }
    if (c.state() == v1::STOPPED) absl::StrAppend(&line, " at ", When(c.stop_time()));
    if (c.has_breach_time()) absl::StrAppend(&line, ", BREACHED ", When(c.breach_time()));
    absl::StrAppend(&line, ", ", v1::Side_Name(c.side()), " side acts [", c.article(), "]");
    Row("clock", line);
  }
  Row("next due", r.has_next_due_time() ? When(r.next_due_time()) : "");
  Row("audit entries", absl::StrCat(r.audit_size()));
  Row("audit head", ToHex(r.audit_head()));
}

void PrintRequests(const v1::ListRequestsResponse& list) {
  std::printf("%-26s  %-20s  %-28s  %-9s  %-12s  %-12s  %-20s  %s\n", "ID", "STATE", "TYPE",
              "PRIORITY", "FROM", "TO", "UPDATED", "NEXT DUE");
  for (const v1::Request& r : list.requests()) {
    std::printf("%-26s  %-20s  %-28s  %-9s  %-12s  %-12s  %-20s  %s\n", Id(r.name()).c_str(),
                v1::State_Name(r.state()).c_str(), v1::RequestType_Name(r.type()).c_str(),
                v1::Priority_Name(r.priority()).c_str(),
                Authority(r.requesting_authority()).c_str(),
                Authority(r.requested_authority()).c_str(), When(r.update_time()).c_str(),
                r.has_next_due_time() ? When(r.next_due_time()).c_str() : "-");
  }
  if (!list.next_page_token().empty()) {
    std::printf("(more: --page-token %s)\n", list.next_page_token().c_str());
  }
}

void PrintDue(const std::vector<v1::Request>& requests, absl::Time before) {
  std::printf("%-26s  %-22s  %-20s  %-16s  %-9s  %-20s  %-28s  %s\n", "ID", "CLOCK", "DUE (UTC)",
              "", "ACTS", "STATE", "TYPE", "COUNTERPART");
  for (const v1::Request& r : requests) {
    for (const v1::Clock& c : r.clocks()) {
      if (c.state() != v1::RUNNING || TimeOf(c.due_time()) >= before) continue;
      std::printf("%-26s  %-22s  %-20s  %-16s  %-9s  %-20s  %-28s  %s -> %s\n",
                  Id(r.name()).c_str(), c.name().c_str(), When(c.due_time()).c_str(),
                  FromNow(c.due_time()).c_str(), v1::Side_Name(c.side()).c_str(),
                  v1::State_Name(r.state()).c_str(), v1::RequestType_Name(r.type()).c_str(),
                  Authority(r.requesting_authority()).c_str(),
                  Authority(r.requested_authority()).c_str());
    }
  }
}

void PrintEvent(const v1::Event& e) {
  const v1::AuditEntry& a = e.entry();
  const std::string who = ShortPrincipal(a.actor().principal());
  std::string detail;
  if (!a.clock().empty()) detail = absl::StrCat(a.clock(), " due ", When(a.due_time()));
  if (a.note_kind() != v1::NOTE_KIND_UNSPECIFIED) detail = v1::NoteKind_Name(a.note_kind());
  std::string states = v1::State_Name(a.state_after());
  if (a.state_before() != a.state_after()) {
    states = absl::StrCat(v1::State_Name(a.state_before()), " -> ", states);
  }
  std::printf("%-20s  #%-7llu  %-26s  %-20s  %-37s  %-22s  %s\n", When(a.time()).c_str(),
              static_cast<unsigned long long>(e.cursor()), Id(e.request()).c_str(),
              v1::Action_Name(a.action()).c_str(), states.c_str(), who.c_str(), detail.c_str());
  std::fflush(stdout);
}

void PrintTrail(const v1::Trail& trail) {
  std::printf("%4s  %-20s  %-38s  %-20s  %-37s  %s\n", "SEQ", "TIME (UTC)", "ACTOR", "ACTION",
              "STATE", "DETAILS");
  for (const v1::TrailEntry& te : trail.entries()) {
    const v1::AuditEntry& e = te.entry();
    std::string details = absl::StrJoin(e.grounds(), ",");
    if (e.note_kind() != v1::NOTE_KIND_UNSPECIFIED) details = v1::NoteKind_Name(e.note_kind());
    if (e.attachments_size() > 0) details = absl::StrCat(e.attachments_size(), " item(s)");
    if (e.action() == v1::UPSERT_AUTHORITY) details = e.reasons();  // the authority changed
    if (e.has_peer_snapshot()) {                                    // node de version 3 sha256:…
      const v1::PeerSnapshotRef& ref = e.peer_snapshot();
      details = absl::StrCat("node ", ref.node(), " version ", ref.version(),
                             " sha256:", ToHex(ref.digest()).substr(0, 16));
    }
    if (e.has_evidence()) {  // package n [item] [bytes from-to], or the whole package
      const v1::EvidenceRef& ref = e.evidence();
      details = absl::StrCat("package ", ref.package().substr(ref.package().rfind('/') + 1));
      if (!ref.item().empty()) absl::StrAppend(&details, " ", ref.item());
      if (e.action() == v1::DOWNLOAD) {
        absl::StrAppend(&details, " bytes ", ref.offset(), "-", ref.offset() + ref.length(),
                        ref.complete() ? " (to the end)" : "");
      }
    }
    if (!e.legal_basis().empty())
      absl::StrAppend(&details, details.empty() ? "" : " ", "[", e.legal_basis(), "]");
    const std::string actor = ShortPrincipal(e.actor().principal());
    std::printf(
        "%4llu  %-20s  %-38s  %-20s  %-37s  %s\n", static_cast<unsigned long long>(e.sequence()),
        When(e.time()).c_str(), actor.c_str(), v1::Action_Name(e.action()).c_str(),
        absl::StrCat(v1::State_Name(e.state_before()), " -> ", v1::State_Name(e.state_after()))
            .c_str(),
        details.c_str());
  }
  std::printf("head %s (%llu entries)\n", ToHex(trail.head()).c_str(),
              static_cast<unsigned long long>(trail.size()));
}

void PrintAuthorities(const v1::ListAuthoritiesResponse& list) {
  // NODE: where the authority is homed, "-" for this node, else the peer that published it.
  std::printf("%-22s  %-7s  %-8s  %-12s  %s\n", "NAME", "COUNTRY", "NODE", "LANGUAGES",
              "DISPLAY NAME");
  for (const v1::Authority& a : list.authorities()) {
    std::printf("%-22s  %-7s  %-8s  %-12s  %s\n", a.name().c_str(), a.country().c_str(),
                a.node().empty() ? "-" : a.node().c_str(),
                absl::StrJoin(a.languages(), ",").c_str(), a.display_name().c_str());
  }
}

const char* CodeName(grpc::StatusCode code) {
  static const char* const kNames[] = {"OK",
                                       "CANCELLED",
                                       "UNKNOWN",
                                       "INVALID_ARGUMENT",
                                       "DEADLINE_EXCEEDED",
                                       "NOT_FOUND",
                                       "ALREADY_EXISTS",
                                       "PERMISSION_DENIED",
                                       "RESOURCE_EXHAUSTED",
                                       "FAILED_PRECONDITION",
                                       "ABORTED",
                                       "OUT_OF_RANGE",
                                       "UNIMPLEMENTED",
                                       "INTERNAL",
                                       "UNAVAILABLE",
                                       "DATA_LOSS",
                                       "UNAUTHENTICATED"};
  const int i = static_cast<int>(code);
  return i >= 0 && i <= 16 ? kNames[i] : "UNKNOWN";
}

int PrintError(const grpc::Status& status) { return PrintError(rpc::FromGrpcStatus(status)); }

int PrintError(const absl::Status& status) {
  std::cerr << "error: " << CodeName(static_cast<grpc::StatusCode>(status.code())) << ": "
            << status.message() << "\n";
  // The details, when there is more than the message says.
  if (absl::optional<absl::Cord> p = status.GetPayload(workflow::kBadRequestUrl)) {
    google::rpc::BadRequest bad;
    if (bad.ParseFromString(std::string(*p)) && bad.field_violations_size() > 1) {
      for (const auto& v : bad.field_violations()) {
        std::cerr << "  " << v.field() << ": " << v.description() << " [" << v.reason() << "]\n";
      }
    }
  }
  if (absl::optional<absl::Cord> p = status.GetPayload(workflow::kPreconditionFailureUrl)) {
    google::rpc::PreconditionFailure pre;
    if (pre.ParseFromString(std::string(*p))) {
      for (const auto& v : pre.violations()) {
        std::cerr << "  " << v.type() << " " << v.subject() << ": " << v.description() << "\n";
      }
    }
  }
  return static_cast<int>(status.code());
}

}  // namespace comity::cli
