#include "services/workflow/indexes.h"

#include <algorithm>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/workflow/clocks.h"
#include "services/workflow/names.h"
#include "services/workflow/timeutil.h"

namespace comity::workflow {

using storage::Dimension;

namespace {

// Figures: the scalar ones carry the name of the v1::Statistics field they count.
constexpr char kRequests[] = "requests";
constexpr char kEmergency[] = "emergency";
constexpr char kRefused[] = "refused";
constexpr char kWithdrawn[] = "withdrawn";
constexpr char kPreserved[] = "preserved";
constexpr char kPending[] = "pending";
constexpr char kComplied[] = "complied";
constexpr char kDeliveryMicros[] = "delivery_micros";
constexpr char kEvidenceBytes[] = "evidence_bytes";  // a Statistics field, as the names above
constexpr char kTypePrefix[] = "type/";
constexpr char kGroundPrefix[] = "ground/";

// The listing filters of `record` as `scope` sees it: (dimension, value).
std::vector<std::pair<Dimension, std::string>> FiltersOf(const v1::Request& record,
                                                         const Scope& scope) {
  std::vector<std::pair<Dimension, std::string>> out;
  if (scope.side != storage::kNoSideCode)
    out.emplace_back(Dimension::kSide, std::string(1, scope.side));
  out.emplace_back(Dimension::kState, EnumValue(record.state()));
  out.emplace_back(Dimension::kType, EnumValue(record.type()));
  out.emplace_back(Dimension::kPriority, EnumValue(record.priority()));
  out.emplace_back(Dimension::kInstrument, record.instrument());
  auto counterpart = [&](const std::string& authority) {
    if (!authority.empty()) out.emplace_back(Dimension::kCounterpart, authority);
  };
  if (scope.side != storage::kReceivingCode) counterpart(record.requested_authority());
  if (scope.side != storage::kRequestingCode) counterpart(record.requesting_authority());
  return out;
}

}  // namespace

std::vector<Scope> ScopesOf(const v1::Request& record) {
  std::vector<Scope> out;
  if (!record.requesting_authority().empty()) {
    out.push_back({record.requesting_authority(), storage::kRequestingCode});
  }
  if (record.has_submit_time()) {
    out.push_back({record.requested_authority(), storage::kReceivingCode});
    out.push_back({storage::kEveryAuthority, storage::kNoSideCode});
  }
  return out;
}

std::string EnumValue(int value) { return absl::StrCat(value); }

std::set<std::string> DerivedKeys(const std::string& id, const v1::Request& record) {
  std::set<std::string> keys;
  if (record.name().empty()) return keys;
  // A request another node keeps runs its clocks there: its timers fire there.
  for (const Timer& t :
       record.system_of_record().empty() ? TimersOf(record) : std::vector<Timer>()) {
    keys.insert(storage::TimerKey(absl::ToUnixMicros(t.time), id, t.clock, t.warning));
  }
  const bool due = record.has_next_due_time();
  const int64_t due_micros = due ? absl::ToUnixMicros(FromProto(record.next_due_time())) : 0;
  for (const Scope& scope : ScopesOf(record)) {
    if (due) keys.insert(storage::DueKey(scope.name, due_micros, id));
    for (const auto& [dimension, value] : FiltersOf(record, scope)) {
      keys.insert(storage::ListKey(scope.name, dimension, value, id));
      if (due) keys.insert(storage::ListDueKey(scope.name, dimension, value, due_micros, id));
    }
  }
  // On the requesting node: the delivered packages it has still to fetch from the system of
  // record.
  if (!record.system_of_record().empty()) {
    const std::set<std::string> fetched(record.fetched().begin(), record.fetched().end());
    for (const v1::EvidencePackage& p : record.packages()) {
      if (p.state() != v1::DELIVERED || fetched.count(p.name()) > 0) continue;
      absl::StatusOr<PackageName> name = ParsePackageName(p.name(), "name");
      if (name.ok()) keys.insert(storage::FetchKey(id, name->number));
    }
  }
  return keys;
}

Figures CountedFigures(const v1::Request& record) {
  Figures out;
  if (!record.has_submit_time()) return out;
  std::vector<std::pair<std::string, int64_t>> figures;
  figures.emplace_back(kRequests, 1);
  figures.emplace_back(absl::StrCat(kTypePrefix, v1::RequestType_Name(record.type())), 1);
  if (record.priority() == v1::EMERGENCY) figures.emplace_back(kEmergency, 1);
  switch (record.state()) {
    case v1::REFUSED:
      figures.emplace_back(kRefused, 1);
      for (const std::string& g : record.refusal().grounds()) {
        figures.emplace_back(absl::StrCat(kGroundPrefix, g), 1);
      }
      break;
    case v1::WITHDRAWN:
      figures.emplace_back(kWithdrawn, 1);
      break;
    case v1::PRESERVED:
      figures.emplace_back(kPreserved, 1);
      break;
    case v1::EXECUTED:
    case v1::CLOSED:
    case v1::EXPIRED:
      break;
    default:
      figures.emplace_back(kPending, 1);
  }
  // Complied, and how long it took: from submission to the final delivery.
  for (const v1::Delivery& d : record.deliveries()) {
    if (!d.final()) continue;
    figures.emplace_back(kComplied, 1);
    figures.emplace_back(
        kDeliveryMicros,
        absl::ToInt64Microseconds(FromProto(d.delivered_time()) - FromProto(record.submit_time())));
    break;
  }
  for (const Scope& scope : ScopesOf(record)) {
    for (const auto& [figure, amount] : figures) {
      out[storage::CounterKey(scope.name, scope.side, record.instrument(), figure)] += amount;
    }
  }
  // The evidence the receiving authority holds for it (its quota): the declared bytes of the
  // packages not erased.
  int64_t evidence = 0;
  for (const v1::EvidencePackage& p : record.packages()) {
    if (p.state() == v1::ERASED) continue;
    for (const v1::PackageItem& item : p.items()) evidence += item.size_bytes();
  }
  if (evidence > 0) {
    out[storage::CounterKey(record.requested_authority(), storage::kReceivingCode,
                            record.instrument(), kEvidenceBytes)] += evidence;
  }
  return out;
}

int64_t EvidenceBytesOf(const std::string& figure, int64_t amount) {
  return figure == kEvidenceBytes ? amount : 0;
}

Figures FigureDelta(const Figures& before, const Figures& after) {
  Figures delta = after;
  for (const auto& [key, amount] : before) delta[key] -= amount;
  for (auto it = delta.begin(); it != delta.end();) {
    it = it->second == 0 ? delta.erase(it) : std::next(it);
  }
  return delta;
}

void AddFigure(const std::string& figure, int64_t amount, v1::Statistics& stats,
               int64_t* delivery_micros) {
  absl::string_view name = figure;
  if (absl::ConsumePrefix(&name, kTypePrefix)) {
    (*stats.mutable_by_type())[std::string(name)] += amount;
  } else if (absl::ConsumePrefix(&name, kGroundPrefix)) {
    (*stats.mutable_refusal_grounds())[std::string(name)] += amount;
  } else if (name == kDeliveryMicros) {
    *delivery_micros += amount;
  } else if (const google::protobuf::FieldDescriptor* field =
                 v1::Statistics::descriptor()->FindFieldByName(figure);
             field != nullptr &&
             field->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT64) {
    // The other figures are named after the Statistics fields they add to.
    const google::protobuf::Reflection* r = stats.GetReflection();
    r->SetUInt64(&stats, field, r->GetUInt64(stats, field) + amount);
  }
}

}  // namespace comity::workflow
