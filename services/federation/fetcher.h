#ifndef COMITY_SERVICES_FEDERATION_FETCHER_H_
#define COMITY_SERVICES_FEDERATION_FETCHER_H_

// Brings delivered evidence packages across, on the requesting node of a request another node
// keeps: each package the index lists as not fetched yet (storage::FetchKey, kept by the engine
// in the same batch as the mirror that showed it delivered) is fetched from the system of record
// over the federation channel (FederationService.FetchEvidence), item by item, from where the
// item stands here: an interrupted fetch (a broken stream, a restart, a full disk) resumes from
// the bytes already durable, never from the start. Each chunk's SHA-256 is checked as it comes,
// and the item's whole SHA-256, against the one the system of record's signed trail gave, before
// its last chunk is written; the bytes are sealed under this node's own package key
// (evidence::ChunkStore). A package whose every item is in is recorded (FETCH_PACKAGE): from then
// on its users download it here. One thread; a package that fails waits 1 s, then twice as long
// each time up to retry_max, while the others go on.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "comity/v1/federation.grpc.pb.h"
#include "prometheus/counter.h"
#include "services/evidence/chunk_store.h"
#include "services/federation/peers.h"
#include "services/federation/publisher.h"
#include "storage/store.h"

namespace comity::federation {

class Fetcher {
 public:
  struct Hooks {
    // Request `id`'s record as this node holds it.
    std::function<absl::StatusOr<v1::Request>(const std::string& id)> record;
    // Records that `package` of `request` (requests/{id}) is here whole (FETCH_PACKAGE), and
    // waits until that is durable.
    std::function<absl::Status(const std::string& request, const std::string& package)> fetched;
  };
  struct Options {
    absl::Duration retry_max = absl::Seconds(30);
    // The longest a fetch of one item may take before it is cut off and resumed.
    absl::Duration call_timeout = absl::Minutes(10);
    std::ostream* log = nullptr;
    prometheus::Counter* bytes = nullptr;  // the bytes fetched; may be null
  };
  // Everything given must outlive the fetcher. Starts its thread, which first fetches what the
  // index lists.
  Fetcher(storage::Store* store, const PeerSet* peers, const NodeCredentials& node,
          evidence::ChunkStore* chunks, Hooks hooks, Options options);
  ~Fetcher();  // Stop()s

  // The index may list packages to fetch.
  void Wake();
  // A mirror of `request` was taken (its record as now held): there may be a package to fetch,
  // and the copies here of its packages erased at the system of record are purged (their key,
  // chunk index and files), on the fetcher's thread.
  void Mirrored(const v1::Request& request);
  void Stop();

  // Packages fetched whole, and bytes fetched, since the fetcher started.
  uint64_t Packages() const;
  uint64_t Bytes() const;
  // Fetches of an item asked of a peer since the fetcher started, whatever came of them.
  uint64_t Attempts() const;

 private:
  void Run();
  // Fetches what is missing of package `number` of request `id`; OK once it is recorded.
  absl::Status FetchPackage(const std::string& id, int number);
  absl::Status FetchItem(v1::FederationService::Stub& stub, const std::string& peer,
                         const std::string& id, const v1::EvidencePackage& package,
                         const evidence::ItemRef& ref);
  void Log(const std::string& line) const;

  storage::Store* const store_;
  const PeerSet* const peers_;
  evidence::ChunkStore* const chunks_;
  const Hooks hooks_;
  const Options options_;
  std::map<std::string, std::unique_ptr<v1::FederationService::Stub>> stubs_;  // by peer

  // The fetcher thread's own: when each failing package may be tried again, and its backoff.
  struct Retry {
    absl::Time next;
    absl::Duration backoff;
  };
  std::map<std::string, Retry> retry_;

  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t wakes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::pair<std::string, int>> to_purge_ ABSL_GUARDED_BY(mu_);
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  uint64_t packages_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t attempts_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace comity::federation

#endif  // COMITY_SERVICES_FEDERATION_FETCHER_H_
