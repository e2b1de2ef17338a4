#include "services/workflow/directory.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/files.h"
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

bool IsCountryCode(absl::string_view code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z';
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

absl::StatusOr<std::unique_ptr<Directory>> Directory::FromConfig(
    config::v1::DirectoryConfig config) {
  if (config.trust_domain().empty()) {
    return absl::InvalidArgumentError("directory: trust_domain is required");
  }
  std::set<std::string> names, principals;
  for (const v1::Authority& a : config.authorities()) {
    auto bad = [&a](absl::string_view what) {
      return absl::InvalidArgumentError(
          absl::StrCat("directory: authority ", a.name(), ": ", what));
    };
    if (!IsAuthorityName(a.name())) return bad("name must be authorities/<ID> (A-Z, 0-9, -)");
    if (!names.insert(a.name()).second) return bad("listed twice");
    if (!IsCountryCode(a.country())) return bad("country must be ISO 3166-1 alpha-2, e.g. FR");
    const std::string id = a.name().substr(strlen("authorities/"));
    const std::string prefix = absl::StrCat("spiffe://", config.trust_domain(), "/", id, "/");
    for (const v1::Member& m : a.members()) {
      if (!absl::StartsWith(m.principal(), prefix) || m.principal().size() == prefix.size()) {
        return bad(absl::StrCat("member ", m.principal(), " must be ", prefix, "<user>"));
      }
      if (!principals.insert(m.principal()).second) {
        return bad(absl::StrCat("member ", m.principal(), " is listed twice"));
      }
    }
  }
  return std::unique_ptr<Directory>(new Directory(std::move(config)));
}

Directory::Directory(config::v1::DirectoryConfig config) : config_(std::move(config)) {
  for (const v1::Authority& a : config_.authorities()) {
    by_name_.emplace(a.name(), &a);
    for (const v1::Member& m : a.members()) {
      Caller c{m.principal(), a.name(), {}, false};
      for (int r : m.roles()) c.roles.push_back(static_cast<v1::Role>(r));
      by_principal_.emplace(m.principal(), std::move(c));
    }
  }
}

const v1::Authority* Directory::FindAuthority(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

std::vector<const v1::Authority*> Directory::Authorities() const {
  std::vector<const v1::Authority*> out;
  for (const auto& [name, a] : by_name_) out.push_back(a);
  return out;
}

absl::StatusOr<Caller> Directory::CallerFor(absl::string_view principal) const {
  auto it = by_principal_.find(principal);
  if (it == by_principal_.end()) {
    return absl::PermissionDeniedError(
        "this principal is not a member of any authority in the directory");
  }
  return it->second;
}

}  // namespace comity::workflow
