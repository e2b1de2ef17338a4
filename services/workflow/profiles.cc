#include "services/workflow/profiles.h"

#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/files.h"
#include "common/text.h"
#include "google/protobuf/text_format.h"
#include "services/workflow/clocks.h"
#include "services/workflow/directory.h"

namespace comity::workflow {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

const FieldDescriptor* ResolvePath(absl::string_view path,
                                   std::vector<const FieldDescriptor*>* chain) {
  const Descriptor* d = v1::Request::descriptor();
  const FieldDescriptor* f = nullptr;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (d == nullptr) return nullptr;
    f = d->FindFieldByName(std::string(part));
    if (f == nullptr) return nullptr;
    if (chain != nullptr) chain->push_back(f);
    d = (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE && !f->is_repeated()) ? f->message_type()
                                                                                 : nullptr;
  }
  return f;
}

bool IsSet(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  if (f->is_repeated()) return r->FieldSize(m, f) > 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return r->HasField(m, f);
    case FieldDescriptor::CPPTYPE_STRING:
      return !r->GetString(m, f).empty();
    case FieldDescriptor::CPPTYPE_ENUM:
      return r->GetEnumValue(m, f) != 0;
    case FieldDescriptor::CPPTYPE_BOOL:
      return r->GetBool(m, f);
    case FieldDescriptor::CPPTYPE_INT32:
      return r->GetInt32(m, f) != 0;
    case FieldDescriptor::CPPTYPE_INT64:
      return r->GetInt64(m, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT32:
      return r->GetUInt32(m, f) != 0;
    case FieldDescriptor::CPPTYPE_UINT64:
      return r->GetUInt64(m, f) != 0;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return r->GetDouble(m, f) != 0;
    case FieldDescriptor::CPPTYPE_FLOAT:
      return r->GetFloat(m, f) != 0;
  }
  return false;
}

absl::Status Check(const InstrumentProfile& p) {
  auto bad = [&p](absl::string_view what) {
    return absl::InvalidArgumentError(absl::StrCat("profile ", p.id(), ": ", what));
  };
  if (p.id().empty()) return absl::InvalidArgumentError("a profile has no id");
  std::set<std::string> grounds;
  for (const auto& g : p.grounds()) {
    if (!grounds.insert(g.code()).second) return bad(absl::StrCat("ground ", g.code(), " twice"));
  }
  auto check_grounds = [&](const auto& codes, absl::string_view where) -> absl::Status {
    for (const std::string& c : codes) {
      if (grounds.count(c) == 0) return bad(absl::StrCat(where, " names undefined ground ", c));
    }
    return absl::OkStatus();
  };
  auto check_paths = [&](const auto& paths) -> absl::Status {
    for (const std::string& path : paths) {
      if (!IsRequestFieldPath(path)) return bad(absl::StrCat("no request field ", path));
    }
    return absl::OkStatus();
  };
  for (absl::Status s :
       {check_grounds(p.never_sole_grounds(), "never_sole_grounds"),
        check_grounds(p.refusal_without_consultation(), "refusal_without_consultation"),
        check_grounds(p.postponement_grounds(), "postponement_grounds"),
        check_paths(p.required_fields()), check_paths(p.emergency_required_fields())}) {
    if (!s.ok()) return s;
  }
  std::set<std::string> reservations;
  for (const config::v1::ReservationRule& r : p.reservations()) {
    if (!IsReservationCode(r.code()) || !reservations.insert(r.code()).second) {
      return bad(absl::StrCat("reservation ", Echo(r.code()),
                              " must be 1-64 characters A-Z, 0-9, _, and defined once"));
    }
  }
  std::set<int> types;
  for (const TypeRule& t : p.types()) {
    const std::string type = v1::RequestType_Name(t.type());
    if (t.type() == v1::REQUEST_TYPE_UNSPECIFIED || !types.insert(t.type()).second) {
      return bad(absl::StrCat("type ", type, " unspecified or twice"));
    }
    for (absl::Status s :
         {check_grounds(t.allowed_grounds(), type), check_paths(t.required_fields())}) {
      if (!s.ok()) return s;
    }
    for (const config::v1::ReservedGround& r : t.reserved_grounds()) {
      if (std::find(t.allowed_grounds().begin(), t.allowed_grounds().end(), r.ground()) ==
          t.allowed_grounds().end()) {
        return bad(absl::StrCat(type, " reserves ground ", Echo(r.ground()),
                                ", which is not among its allowed_grounds"));
      }
      if (reservations.count(r.reservation()) == 0) {
        return bad(absl::StrCat(type, " names undefined reservation ", Echo(r.reservation())));
      }
    }
  }
  if (absl::Status s = CheckClockRules(p); !s.ok()) return bad(s.message());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ProfileSet>> ProfileSet::LoadDir(const std::string& dir) {
  std::error_code ec;
  std::vector<InstrumentProfile> profiles;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    if (e.path().extension() == ".textproto") files.push_back(e.path());
  }
  if (ec) return absl::NotFoundError(absl::StrCat("cannot read profiles directory ", dir));
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    absl::StatusOr<std::string> text = ReadFile(path.string());
    if (!text.ok()) return text.status();
    InstrumentProfile p;
    if (!google::protobuf::TextFormat::ParseFromString(*text, &p)) {
      return absl::InvalidArgumentError(absl::StrCat("profile ", path.string(), " does not parse"));
    }
    profiles.push_back(std::move(p));
  }
  if (profiles.empty()) return absl::NotFoundError(absl::StrCat("no profiles in ", dir));
  return FromProfiles(std::move(profiles));
}

absl::StatusOr<std::unique_ptr<ProfileSet>> ProfileSet::FromProfiles(
    std::vector<InstrumentProfile> profiles) {
  std::map<std::string, InstrumentProfile, std::less<>> by_id;
  for (InstrumentProfile& p : profiles) {
    absl::Status s = Check(p);
    if (!s.ok()) return s;
    std::string id = p.id();
    if (!by_id.emplace(id, std::move(p)).second) {
      return absl::InvalidArgumentError(absl::StrCat("two profiles have id ", id));
    }
  }
  return std::unique_ptr<ProfileSet>(new ProfileSet(std::move(by_id)));
}

const InstrumentProfile* ProfileSet::Find(absl::string_view id) const {
  auto it = profiles_.find(id);
  return it == profiles_.end() ? nullptr : &it->second;
}

std::vector<std::string> ProfileSet::Ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, p] : profiles_) ids.push_back(id);
  return ids;
}

const TypeRule* FindTypeRule(const InstrumentProfile& profile, v1::RequestType type) {
  for (const TypeRule& t : profile.types()) {
    if (t.type() == type) return &t;
  }
  return nullptr;
}

const config::v1::Ground* FindGround(const InstrumentProfile& profile, absl::string_view code) {
  for (const auto& g : profile.grounds()) {
    if (g.code() == code) return &g;
  }
  return nullptr;
}

bool IsRequestFieldPath(absl::string_view path) { return ResolvePath(path, nullptr) != nullptr; }

std::vector<std::string> MissingFields(const v1::Request& request,
                                       const std::vector<std::string>& paths) {
  std::vector<std::string> missing;
  for (const std::string& path : paths) {
    std::vector<const FieldDescriptor*> chain;
    if (ResolvePath(path, &chain) == nullptr) {
      missing.push_back(path);
      continue;
    }
    const Message* m = &request;
    bool set = true;
    for (size_t i = 0; i < chain.size() && set; ++i) {
      set = IsSet(*m, chain[i]);
      if (set && i + 1 < chain.size()) m = &m->GetReflection()->GetMessage(*m, chain[i]);
    }
    if (!set) missing.push_back(path);
  }
  return missing;
}

std::vector<std::string> RequiredFields(const InstrumentProfile& profile, const TypeRule& rule,
                                        v1::Priority priority) {
  std::vector<std::string> out(profile.required_fields().begin(), profile.required_fields().end());
  out.insert(out.end(), rule.required_fields().begin(), rule.required_fields().end());
  if (priority == v1::EMERGENCY) {
    out.insert(out.end(), profile.emergency_required_fields().begin(),
               profile.emergency_required_fields().end());
  }
  std::vector<std::string> unique;
  std::set<std::string> seen;
  for (std::string& f : out) {
    if (seen.insert(f).second) unique.push_back(std::move(f));
  }
  return unique;
}

const config::v1::ReservationRule* FindReservationRule(const InstrumentProfile& profile,
                                                       absl::string_view code) {
  for (const config::v1::ReservationRule& r : profile.reservations()) {
    if (r.code() == code) return &r;
  }
  return nullptr;
}

}  // namespace comity::workflow
