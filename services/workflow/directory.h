#ifndef COMITY_SERVICES_WORKFLOW_DIRECTORY_H_
#define COMITY_SERVICES_WORKFLOW_DIRECTORY_H_

// The authorities this node knows, their members and roles. Thread-safe: readers see a snapshot;
// changes (through the engine, audited) replace it.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "comity/config/v1/config.pb.h"
#include "comity/v1/resources.pb.h"
#include "services/auth/caller.h"

namespace comity::workflow {

using auth::Caller;

class Directory {
 public:
  // Loads a comity.config.v1.DirectoryConfig in text format. INVALID_ARGUMENT naming the problem
  // (malformed authority name, country code, principal, duplicate member).
  static absl::StatusOr<std::unique_ptr<Directory>> LoadFile(const std::string& path);
  static absl::StatusOr<std::unique_ptr<Directory>> FromConfig(config::v1::DirectoryConfig config);

  // INVALID_ARGUMENT naming the first problem in `config`, or OK.
  static absl::Status Check(const config::v1::DirectoryConfig& config);

  // The authorities this node homes and those its peers published (Authority.node set), by name.
  std::optional<v1::Authority> FindAuthority(absl::string_view name) const;
  std::vector<v1::Authority> Authorities() const;

  // The node that homes authority `name`: "" for this node's own (or an unknown name), else the
  // peer's id.
  std::string HomeNode(absl::string_view name) const;

  // The directory peer `node` published, as last recorded.
  std::optional<v1::DirectorySnapshot> Peer(absl::string_view node) const;

  // The split view recorded against peer `node` (PEER_SPLIT_VIEW) and not cleared, if any.
  std::optional<v1::SplitView> SplitViewOf(absl::string_view node) const;

  // Whether the Party `country` made the reservation or declaration `code` under `instrument`:
  // as its peer node published, for a state whose authorities a peer homes; else as this node's
  // directory records.
  bool HasReservation(absl::string_view country, absl::string_view instrument,
                      absl::string_view code) const;
  std::vector<v1::Reservation> Reservations() const;

  // The caller a principal is, or PERMISSION_DENIED if no authority lists it.
  absl::StatusOr<Caller> CallerFor(absl::string_view principal) const;

  std::string trust_domain() const;
  config::v1::DirectoryConfig Config() const;

  // Replaces the whole directory (already checked, and durable). Calls in flight see either the
  // old or the new directory.
  void Replace(config::v1::DirectoryConfig config);

  // Called after each Replace (null: no longer), on the replacing thread; must not block.
  void OnReplace(std::function<void()> listener);

 private:
  struct Snapshot {
    config::v1::DirectoryConfig config;
    std::map<std::string, const v1::Authority*, std::less<>> by_name;
    std::map<std::string, Caller, std::less<>> by_principal;
    std::map<std::string, const v1::Reservation*, std::less<>> reservations;  // ReservationKey
  };
  static std::shared_ptr<const Snapshot> MakeSnapshot(config::v1::DirectoryConfig config);
  explicit Directory(std::shared_ptr<const Snapshot> snapshot) : snapshot_(std::move(snapshot)) {}
  std::shared_ptr<const Snapshot> Current() const;

  mutable absl::Mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_ ABSL_GUARDED_BY(mu_);
  std::function<void()> on_replace_ ABSL_GUARDED_BY(mu_);
};

// True for "authorities/<ID>" with ID of 2-32 characters from A-Z, 0-9 and '-'.
bool IsAuthorityName(absl::string_view name);

// True for a federation node id: 1-32 characters a-z, 0-9, -.
bool IsNodeId(absl::string_view id);

// True for an ISO 3166-1 alpha-2 shaped code (two upper-case letters).
bool IsCountryCode(absl::string_view code);

// True for an instrument profile id: 1-32 characters a-z, 0-9, -.
bool IsProfileId(absl::string_view id);

// True for a reservation code: 1-64 characters A-Z, 0-9, _.
bool IsReservationCode(absl::string_view code);

// "<country>/<instrument>/<code>": a reservation's identity.
std::string ReservationKey(absl::string_view country, absl::string_view instrument,
                           absl::string_view code);

}  // namespace comity::workflow

#endif  // COMITY_SERVICES_WORKFLOW_DIRECTORY_H_
