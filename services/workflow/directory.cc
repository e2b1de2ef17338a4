#include "services/workflow/directory.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
#include "common/text.h"
#include "google/protobuf/text_format.h"

namespace comity::workflow {

bool IsAuthorityName(absl::string_view name) {
  if (!absl::ConsumePrefix(&name, "authorities/")) return false;
  if (name.size() < 2 || name.size() > 32) return false;
  for (char c : name) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool IsNodeId(absl::string_view id) { return IsProfileId(id); }

bool IsCountryCode(absl::string_view code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
}

bool IsProfileId(absl::string_view id) {
  if (id.empty() || id.size() > 32) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

bool IsReservationCode(absl::string_view code) {
  if (code.empty() || code.size() > 64) return false;
  for (char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

std::string ReservationKey(absl::string_view country, absl::string_view instrument,
                           absl::string_view code) {
  return absl::StrCat(country, "/", instrument, "/", code);
}

absl::StatusOr<std::unique_ptr<Directory>> Directory::LoadFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return text.status();
  config::v1::DirectoryConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(*text, &config)) {
    return absl::InvalidArgumentError(absl::StrCat("directory ", path, " does not parse"));
  }
  return FromConfig(std::move(config));
}

absl::Status Directory::Check(const config::v1::DirectoryConfig& config) {
  if (config.trust_domain().empty()) {
    return absl::InvalidArgumentError("directory: trust_domain is required");
  }
  std::set<std::string> names, principals;
  for (const v1::Authority& a : config.authorities()) {
    auto bad = [&a](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("directory: authority ", Echo(a.name()), ": ", what));
    };
    if (!IsAuthorityName(a.name())) return bad("name must be authorities/<ID> (A-Z, 0-9, -)");
    if (!names.insert(a.name()).second) return bad("listed twice");
    if (!a.node().empty()) return bad("node is set only for a peer's authorities");
    if (!IsCountryCode(a.country())) return bad("country must be ISO 3166-1 alpha-2, e.g. FR");
    if (a.display_name().size() > 256) return bad("display_name is longer than 256 bytes");
    const std::string id = a.name().substr(strlen("authorities/"));
    const std::string prefix = absl::StrCat("spiffe://", config.trust_domain(), "/", id, "/");
    for (const v1::Member& m : a.members()) {
      if (!absl::StartsWith(m.principal(), prefix) || m.principal().size() == prefix.size() ||
          m.principal().size() > 256) {
        return bad(absl::StrCat("member ", Echo(m.principal()), " must be ", prefix, "<user>"));
      }
      if (!principals.insert(m.principal()).second) {
        return bad(absl::StrCat("member ", Echo(m.principal()), " is listed twice"));
      }
      for (int r : m.roles()) {
        if (r == v1::ROLE_UNSPECIFIED || !v1::Role_IsValid(r)) {
          return bad(absl::StrCat("member ", Echo(m.principal()), " has an unknown role"));
        }
      }
    }
  }
  std::set<std::string> reservations;
  for (const v1::Reservation& r : config.reservations()) {
    auto bad = [&r](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("directory: reservation ", Echo(r.country()),
                                                     " ", Echo(r.instrument()), " ", Echo(r.code()),
                                                     ": ", what));
    };
    if (!IsCountryCode(r.country())) return bad("country must be ISO 3166-1 alpha-2, e.g. FR");
    if (!IsProfileId(r.instrument())) return bad("instrument must be a profile id, e.g. budapest");
    if (!IsReservationCode(r.code())) return bad("code must be 1-64 characters A-Z, 0-9, _");
    if (r.kind() != v1::RESERVATION && r.kind() != v1::DECLARATION) {
      return bad("kind must be RESERVATION or DECLARATION");
    }
    if (r.text().size() > 4096) return bad("text is longer than 4096 bytes");
    if (!reservations.insert(ReservationKey(r.country(), r.instrument(), r.code())).second) {
      return bad("listed twice");
    }
  }
  std::set<std::string> nodes;
  for (const v1::DirectorySnapshot& p : config.peers()) {
    auto bad = [&p](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("directory: peer node ", Echo(p.node()), ": ", what));
    };
    if (!IsNodeId(p.node())) return bad("node id must be 1-32 characters a-z, 0-9, -");
    if (!nodes.insert(p.node()).second) return bad("listed twice");
    std::set<std::string> countries;
    for (const v1::Authority& a : p.authorities()) {
      if (!IsAuthorityName(a.name())) {
        return bad(absl::StrCat("authority ", Echo(a.name()),
                                ": name must be authorities/<ID> (A-Z, 0-9, -)"));
      }
      if (!names.insert(a.name()).second) {
        return bad(absl::StrCat("authority ", a.name(), " is homed at another node too"));
      }
      if (!IsCountryCode(a.country())) {
        return bad(absl::StrCat("authority ", a.name(), ": country must be ISO 3166-1 alpha-2"));
      }
      if (a.display_name().size() > 256) {
        return bad(absl::StrCat("authority ", a.name(), ": display_name is longer than 256 bytes"));
      }
      if (a.members_size() > 0) {
        return bad(absl::StrCat("authority ", a.name(), ": a peer's authority lists no members"));
      }
      if (a.node() != p.node()) {
        return bad(absl::StrCat("authority ", a.name(), ": node must be ", p.node()));
      }
      countries.insert(a.country());
    }
    std::set<std::string> keys;
    for (const v1::Reservation& r : p.reservations()) {
      const std::string key = ReservationKey(r.country(), r.instrument(), r.code());
      if (countries.count(r.country()) == 0) {
        return bad(absl::StrCat("reservation ", Echo(key),
                                ": a node publishes only the reservations of the states whose "
                                "authorities it homes"));
      }
      if (!IsProfileId(r.instrument()) || !IsReservationCode(r.code()) ||
          (r.kind() != v1::RESERVATION && r.kind() != v1::DECLARATION) || r.text().size() > 4096) {
        return bad(absl::StrCat("reservation ", Echo(key),
                                ": needs a profile id, a code (A-Z, 0-9, _), a kind and a text "
                                "of at most 4096 bytes"));
      }
      if (!keys.insert(key).second) return bad(absl::StrCat("reservation ", key, " listed twice"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Directory>> Directory::FromConfig(
    config::v1::DirectoryConfig config) {
  if (absl::Status s = Check(config); !s.ok()) return s;
  return std::unique_ptr<Directory>(new Directory(MakeSnapshot(std::move(config))));
}

std::shared_ptr<const Directory::Snapshot> Directory::MakeSnapshot(
    config::v1::DirectoryConfig config) {
  auto s = std::make_shared<Snapshot>();
  s->config = std::move(config);
  // A state whose authorities a peer homes has the reservations that peer published; the others
  // those of this node's directory.
  std::set<std::string> published;
  for (const v1::DirectorySnapshot& p : s->config.peers()) {
    for (const v1::Authority& a : p.authorities()) {
      published.insert(a.country());
      s->by_name.emplace(a.name(), &a);
    }
  }
  for (const v1::Reservation& r : s->config.reservations()) {
    if (published.count(r.country()) == 0)
      s->reservations.emplace(ReservationKey(r.country(), r.instrument(), r.code()), &r);
  }
  for (const v1::DirectorySnapshot& p : s->config.peers()) {
    for (const v1::Reservation& r : p.reservations()) {
      s->reservations.emplace(ReservationKey(r.country(), r.instrument(), r.code()), &r);
    }
  }
  for (const v1::Authority& a : s->config.authorities()) {
    s->by_name.emplace(a.name(), &a);
    for (const v1::Member& m : a.members()) {
      Caller c{m.principal(), a.name(), {}, false, ""};
      for (int r : m.roles()) c.roles.push_back(static_cast<v1::Role>(r));
      s->by_principal.emplace(m.principal(), std::move(c));
    }
  }
  return s;
}

std::shared_ptr<const Directory::Snapshot> Directory::Current() const {
  absl::MutexLock lock(&mu_);
  return snapshot_;
}

void Directory::Replace(config::v1::DirectoryConfig config) {
  std::shared_ptr<const Snapshot> next = MakeSnapshot(std::move(config));
  absl::MutexLock lock(&mu_);
  snapshot_ = std::move(next);
  if (on_replace_) on_replace_();
}

void Directory::OnReplace(std::function<void()> listener) {
  absl::MutexLock lock(&mu_);
  on_replace_ = std::move(listener);
}

std::optional<v1::Authority> Directory::FindAuthority(absl::string_view name) const {
  std::shared_ptr<const Snapshot> s = Current();
  auto it = s->by_name.find(name);
  if (it == s->by_name.end()) return std::nullopt;
  return *it->second;
}

std::vector<v1::Authority> Directory::Authorities() const {
  std::shared_ptr<const Snapshot> s = Current();
  std::vector<v1::Authority> out;
  for (const auto& [name, a] : s->by_name) out.push_back(*a);
  return out;
}

bool Directory::HasReservation(absl::string_view country, absl::string_view instrument,
                               absl::string_view code) const {
  return Current()->reservations.count(ReservationKey(country, instrument, code)) > 0;
}

std::vector<v1::Reservation> Directory::Reservations() const {
  std::shared_ptr<const Snapshot> s = Current();
  std::vector<v1::Reservation> out;
  for (const auto& [key, r] : s->reservations) out.push_back(*r);
  return out;
}

std::string Directory::HomeNode(absl::string_view name) const {
  std::shared_ptr<const Snapshot> s = Current();
  auto it = s->by_name.find(name);
  return it == s->by_name.end() ? std::string() : it->second->node();
}

std::optional<v1::DirectorySnapshot> Directory::Peer(absl::string_view node) const {
  std::shared_ptr<const Snapshot> s = Current();
  for (const v1::DirectorySnapshot& p : s->config.peers()) {
    if (p.node() == node) return p;
  }
  return std::nullopt;
}

std::optional<v1::SplitView> Directory::SplitViewOf(absl::string_view node) const {
  std::shared_ptr<const Snapshot> s = Current();
  for (const v1::SplitView& v : s->config.split_views()) {
    if (v.node() == node) return v;
  }
  return std::nullopt;
}

std::string Directory::trust_domain() const { return Current()->config.trust_domain(); }

config::v1::DirectoryConfig Directory::Config() const { return Current()->config; }

absl::StatusOr<Caller> Directory::CallerFor(absl::string_view principal) const {
  std::shared_ptr<const Snapshot> s = Current();
  auto it = s->by_principal.find(principal);
  if (it == s->by_principal.end()) {
    return absl::PermissionDeniedError(
        "this principal is not a member of any authority in the directory");
  }
  return it->second;
}

}  // namespace comity::workflow
