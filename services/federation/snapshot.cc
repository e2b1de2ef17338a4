#include "services/federation/snapshot.h"

#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/text.h"
#include "services/workflow/errors.h"
#include "services/workflow/timeutil.h"

namespace comity::federation {
namespace {

std::string Statement(absl::string_view node, uint64_t version, absl::string_view bytes) {
  return absl::StrCat("comity directory snapshot\n", node, "\n", version, "\n",
                      absl::Base64Escape(Sha256(bytes)), "\n");
}

}  // namespace

v1::DirectorySnapshot LocalSnapshot(const config::v1::DirectoryConfig& config,
                                    const std::string& node, uint64_t version, absl::Time now) {
  v1::DirectorySnapshot out;
  out.set_node(node);
  out.set_version(version);
  *out.mutable_issue_time() = workflow::ToProto(now);
  std::set<std::string> countries;
  for (const v1::Authority& a : config.authorities()) {
    v1::Authority* published = out.add_authorities();
    *published = a;
    published->clear_members();
    countries.insert(a.country());
  }
  for (const v1::Reservation& r : config.reservations()) {
    if (countries.count(r.country()) > 0) *out.add_reservations() = r;
  }
  return out;
}

v1::PublishDirectoryRequest SignSnapshot(const v1::DirectorySnapshot& snapshot,
                                         const audit::NoteSigner& signer) {
  v1::PublishDirectoryRequest out;
  out.set_snapshot(snapshot.SerializeAsString());
  out.set_signature(signer.Sign(Statement(snapshot.node(), snapshot.version(), out.snapshot())));
  return out;
}

absl::StatusOr<v1::DirectorySnapshot> OpenSnapshot(const v1::PublishDirectoryRequest& published,
                                                   const Peer& peer) {
  v1::DirectorySnapshot snapshot;
  if (published.snapshot().empty() || !snapshot.ParseFromString(published.snapshot())) {
    return workflow::InvalidField("snapshot", "must be a serialized comity.v1.DirectorySnapshot",
                                  "MALFORMED");
  }
  absl::StatusOr<std::string> text = audit::OpenNote(published.signature(), peer.log_verifier_key);
  if (absl::IsInvalidArgument(text.status())) {
    return workflow::InvalidField("signature", std::string(text.status().message()), "MALFORMED");
  }
  if (!text.ok()) {
    return absl::UnauthenticatedError(absl::StrCat("the snapshot's signature is not node ",
                                                   peer.node, "'s: ", text.status().message()));
  }
  if (snapshot.node() != peer.node) {
    return absl::PermissionDeniedError(absl::StrCat("node ", peer.node,
                                                    " may publish only its own directory, not ",
                                                    Echo(snapshot.node()), "'s"));
  }
  if (*text != Statement(snapshot.node(), snapshot.version(), published.snapshot())) {
    return absl::UnauthenticatedError(
        "the signed note does not name this snapshot (its node, version and SHA-256)");
  }
  return snapshot;
}

}  // namespace comity::federation
