#include "services/federation/fetcher.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/text.h"
#include "grpcpp/channel.h"
#include "grpcpp/client_context.h"
#include "services/rpc/status.h"
#include "services/workflow/actions.h"
#include "services/workflow/names.h"
#include "storage/keys.h"

namespace comity::federation {
namespace {

// The packages looked at in one pass over the index.
constexpr int kPassPackages = 256;
// A fetch stream's messages: the largest chunk a node stores, and its framing.
constexpr int kMaxFetchMessageBytes = static_cast<int>(evidence::kMaxChunkBytes) + (64 << 10);

// Whether `record` still wants `package` fetched: kept by a peer, the package delivered there.
absl::Status StillWanted(const v1::Request& record, const std::string& package) {
  absl::StatusOr<const v1::EvidencePackage*> p = workflow::FindPackage(record, package);
  if (record.system_of_record().empty() || !p.ok()) {
    return absl::NotFoundError(absl::StrCat(package, " is not a package of a mirrored request"));
  }
  if ((*p)->state() != v1::DELIVERED) {
    return absl::FailedPreconditionError(
        absl::StrCat(package, " is ", v1::PackageState_Name((*p)->state()), ": it is not fetched"));
  }
  return absl::OkStatus();
}

}  // namespace

Fetcher::Fetcher(storage::Store* store, const PeerSet* peers, const NodeCredentials& node,
                 evidence::ChunkStore* chunks, Hooks hooks, Options options)
    : store_(store),
      peers_(peers),
      chunks_(chunks),
      hooks_(std::move(hooks)),
      options_(std::move(options)) {
  for (const Peer& p : peers_->peers()) {
    stubs_[p.node] = v1::FederationService::NewStub(PeerChannel(p, node, kMaxFetchMessageBytes));
  }
  thread_ = std::thread([this] { Run(); });
}

Fetcher::~Fetcher() { Stop(); }

void Fetcher::Wake() {
  absl::MutexLock lock(&mu_);
  ++wakes_;
}

void Fetcher::Mirrored(const v1::Request& request) {
  absl::MutexLock lock(&mu_);
  for (const v1::EvidencePackage& p : request.packages()) {
    if (p.state() != v1::ERASED) continue;
    absl::StatusOr<workflow::PackageName> name = workflow::ParsePackageName(p.name(), "name");
    if (name.ok()) to_purge_.emplace_back(name->request_id, name->number);
  }
  ++wakes_;
}

void Fetcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
    if (in_flight_ != nullptr) in_flight_->TryCancel();
  }
  if (thread_.joinable()) thread_.join();
}

uint64_t Fetcher::Packages() const {
  absl::MutexLock lock(&mu_);
  return packages_;
}

uint64_t Fetcher::Attempts() const {
  absl::MutexLock lock(&mu_);
  return attempts_;
}

uint64_t Fetcher::Bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

void Fetcher::Log(const std::string& line) const {
  if (options_.log != nullptr) *options_.log << "federation: " << line << "\n";
}

void Fetcher::Run() {
  while (true) {
    uint64_t seen;
    std::vector<std::pair<std::string, int>> purge;
    {
      absl::MutexLock lock(&mu_);
      if (stop_) return;
      seen = wakes_;
      purge.swap(to_purge_);
    }
    // The copies of packages erased at the system of record go first (their key may still be
    // here; a crash before this is caught up at the next start, as for any erased package).
    for (const auto& [id, number] : purge) {
      // Only a copy that still holds its key: the key is the last of it to go.
      absl::StatusOr<std::string> key =
          store_->Get(storage::Column::kEvidenceKeys, storage::PackageKeyKey(id, number));
      if (absl::IsNotFound(key.status())) continue;
      if (absl::Status s = key.ok() ? chunks_->Purge(id, number) : key.status(); !s.ok()) {
        Log(absl::StrCat("the copy of ", workflow::MakePackageName(id, number),
                         " erased at its system of record is not purged yet (at the next start): ",
                         LogField(s.ToString(), 256)));
      }
    }
    std::vector<std::pair<std::string, int>> pending;
    absl::Status scanned =
        store_->Scan(storage::Column::kIndex, storage::kFetchPrefix, "",
                     [&](absl::string_view key, absl::string_view) {
                       std::string id;
                       int number = 0;
                       if (storage::ParseFetchKey(key, &id, &number))
                         pending.emplace_back(id, number);
                       return pending.size() < static_cast<size_t>(kPassPackages);
                     });
    if (!scanned.ok()) Log(absl::StrCat("the fetch index: ", LogField(scanned.ToString(), 256)));
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, number] : pending) {
      {
        absl::MutexLock lock(&mu_);
        if (stop_) return;
      }
      const std::string key = storage::FetchKey(id, number);
      auto r = retry_.find(key);
      const absl::Time now = absl::Now();
      if (r != retry_.end() && r->second.next > now) {
        next = std::min(next, r->second.next);
        continue;
      }
      absl::Status s = FetchPackage(id, number);
      if (s.ok()) {
        retry_.erase(key);
        continue;
      }
      absl::Duration backoff = r == retry_.end()
                                   ? absl::Seconds(1)
                                   : std::min(r->second.backoff * 2, options_.retry_max);
      backoff = std::min(backoff, options_.retry_max);
      retry_[key] = {now + backoff, backoff};
      next = std::min(next, now + backoff);
      Log(absl::StrCat("fetching ", workflow::MakePackageName(id, number), ": ",
                       LogField(s.ToString(), 256), "; again in ", absl::FormatDuration(backoff)));
    }
    // Forget the retries of packages no longer listed (fetched, or erased meanwhile).
    if (pending.size() < static_cast<size_t>(kPassPackages)) {
      for (auto it = retry_.begin(); it != retry_.end();) {
        std::string id;
        int number = 0;
        storage::ParseFetchKey(it->first, &id, &number);
        bool listed =
            std::find(pending.begin(), pending.end(), std::make_pair(id, number)) != pending.end();
        it = listed ? std::next(it) : retry_.erase(it);
      }
    } else {
      next = absl::Now();  // more to look at
    }
    absl::MutexLock lock(&mu_);
    auto woken = [this, seen]() {
      mu_.AssertReaderHeld();
      return stop_ || wakes_ != seen;
    };
    if (next == absl::InfiniteFuture()) {
      mu_.Await(absl::Condition(&woken));
    } else {
      mu_.AwaitWithDeadline(absl::Condition(&woken), next);
    }
  }
}

absl::Status Fetcher::FetchPackage(const std::string& id, int number) {
  absl::StatusOr<v1::Request> record = hooks_.record(id);
  if (!record.ok()) return record.status();
  const std::string name = workflow::MakePackageName(id, number);
  if (absl::Status s = StillWanted(*record, name); !s.ok()) {
    return absl::IsFailedPrecondition(s) ? absl::OkStatus() : s;  // erased: nothing to fetch
  }
  const v1::EvidencePackage& package = **workflow::FindPackage(*record, name);
  const std::string& peer = record->system_of_record();
  auto stub = stubs_.find(peer);
  if (stub == stubs_.end()) {
    return absl::FailedPreconditionError(
        absl::StrCat("node ", peer, ", its system of record, is not a configured peer"));
  }
  for (int i = 0; i < package.items_size(); ++i) {
    if (absl::Status s = FetchItem(*stub->second, peer, id, package, {id, number, i}); !s.ok()) {
      return s;
    }
  }
  if (absl::Status s = hooks_.fetched(workflow::RequestName(id), name); !s.ok()) return s;
  absl::MutexLock lock(&mu_);
  ++packages_;
  return absl::OkStatus();
}

absl::Status Fetcher::FetchItem(v1::FederationService::Stub& stub, const std::string& peer,
                                const std::string& id, const v1::EvidencePackage& package,
                                const evidence::ItemRef& ref) {
  const v1::PackageItem& item = package.items(ref.item);
  const uint64_t size = static_cast<uint64_t>(item.size_bytes());
  absl::StatusOr<uint64_t> durable = chunks_->Durable(ref);
  if (!durable.ok()) return durable.status();
  if (*durable >= size) return absl::OkStatus();  // its digest was checked before its last chunk
  // The item's running digest, from the bytes already here.
  Sha256Stream hash;
  if (*durable > 0) {
    absl::Status read = chunks_->Read(ref, 0, [&](uint64_t, std::string bytes) {
      hash.Update(bytes);
      return true;
    });
    if (!read.ok()) return read;
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + options_.call_timeout));
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return absl::CancelledError("the fetcher stops");
    in_flight_ = &ctx;
  }
  struct Clear {
    Fetcher* f;
    ~Clear() {
      absl::MutexLock lock(&f->mu_);
      f->in_flight_ = nullptr;
      ++f->attempts_;
    }
  } clear{this};
  v1::DownloadRequest req;
  req.set_name(package.name());
  req.set_item(item.name());
  req.set_offset(static_cast<int64_t>(*durable));
  std::unique_ptr<grpc::ClientReader<v1::DownloadChunk>> stream = stub.FetchEvidence(&ctx, req);
  uint64_t at = *durable;
  absl::Status failed;
  v1::DownloadChunk chunk;
  while (failed.ok() && stream->Read(&chunk)) {
    const uint64_t n = chunk.data().size();
    const std::string where = absl::StrCat("item ", item.name(), " of ", package.name(),
                                           " from node ", peer, ", the chunk at ", chunk.offset());
    if (static_cast<uint64_t>(chunk.offset()) != at || n == 0 || at + n > size ||
        chunk.size_bytes() != item.size_bytes() || chunk.item_sha256() != item.sha256()) {
      failed = absl::DataLossError(absl::StrCat(where, " is not the next one of the item (", at,
                                                " of ", size, " bytes here)"));
      break;
    }
    if (ToHex(Sha256(chunk.data())) != chunk.sha256()) {
      failed = absl::DataLossError(absl::StrCat(where, " was damaged on the way"));
      break;
    }
    hash.Update(chunk.data());
    if (at + n == size) {
      // The last chunk: the whole item must be what the system of record's trail says.
      const std::string whole = ToHex(hash.Finish());
      if (whole != item.sha256()) {
        absl::Status reset = chunks_->Reset(ref);
        failed = absl::DataLossError(absl::StrCat(
            "item ", item.name(), " of ", package.name(), " from node ", peer, " hashes to ", whole,
            ", not ", item.sha256(), " as its trail says; ",
            reset.ok() ? "its bytes were dropped, to be fetched again from 0"
                       : absl::StrCat("its bytes could not be dropped: ", reset.message())));
        break;
      }
    }
    absl::StatusOr<std::string> sealed = chunks_->SealChunk(ref, at, chunk.data());
    if (!sealed.ok()) {
      failed = sealed.status();
      break;
    }
    absl::StatusOr<uint64_t> now = chunks_->AppendSealed(ref, at, n, *sealed, [&] {
      absl::StatusOr<v1::Request> record = hooks_.record(id);
      return record.ok() ? StillWanted(*record, package.name()) : record.status();
    });
    if (!now.ok()) {
      failed = now.status();
      break;
    }
    at = *now;
    if (options_.bytes != nullptr) options_.bytes->Increment(static_cast<double>(n));
    absl::MutexLock lock(&mu_);
    bytes_ += n;
  }
  if (!failed.ok()) {
    ctx.TryCancel();
    stream->Finish();
    return failed;
  }
  absl::Status finished = rpc::FromGrpcStatus(stream->Finish());
  if (!finished.ok()) {
    return absl::Status(finished.code(), absl::StrCat("node ", peer, ": ", finished.message()));
  }
  if (at != size) {
    return absl::DataLossError(absl::StrCat("node ", peer, " ended item ", item.name(), " of ",
                                            package.name(), " at ", at, " of ", size, " bytes"));
  }
  return absl::OkStatus();
}

}  // namespace comity::federation
