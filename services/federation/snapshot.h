#ifndef COMITY_SERVICES_FEDERATION_SNAPSHOT_H_
#define COMITY_SERVICES_FEDERATION_SNAPSHOT_H_

// The directory a node publishes to its peers, signed with its log key as a C2SP signed note:
//   comity directory snapshot\n<node>\n<version>\n<base64 SHA-256 of the snapshot's bytes>\n
// The note commits to the exact bytes sent, so the receiver checks what it will record.

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "comity/config/v1/config.pb.h"
#include "comity/v1/federation.pb.h"
#include "comity/v1/resources.pb.h"
#include "services/audit/note.h"
#include "services/federation/peers.h"

namespace comity::federation {

// This node's snapshot of `config` at `version`: its own authorities without their members, and
// the reservations and declarations of the states those authorities are in.
v1::DirectorySnapshot LocalSnapshot(const config::v1::DirectoryConfig& config,
                                    const std::string& node, uint64_t version, absl::Time now);

// `snapshot` serialized and signed by `signer`.
v1::PublishDirectoryRequest SignSnapshot(const v1::DirectorySnapshot& snapshot,
                                         const audit::NoteSigner& signer);

// What `peer` published, once checked: INVALID_ARGUMENT for bytes that are not a snapshot or a
// signature that is not a signed note (field named); UNAUTHENTICATED for a note the peer's log
// key did not sign, or that does not name these bytes; PERMISSION_DENIED for a snapshot of
// another node.
absl::StatusOr<v1::DirectorySnapshot> OpenSnapshot(const v1::PublishDirectoryRequest& published,
                                                   const Peer& peer);

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_SNAPSHOT_H_
