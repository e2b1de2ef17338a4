// EvidenceService's streams: Upload (bidirectional, a chunk acknowledged once durable) and
// Download (from an offset), each a reactor whose chunk work runs on the service's threads.

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/sha256.h"
#include "common/tsan.h"
#include "services/auth/policy.h"
#include "services/rpc/evidence_service.h"
#include "services/rpc/status.h"
#include "services/workflow/actions.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"

namespace comity::rpc {
namespace {

constexpr char kUploadPath[] = "/comity.v1.EvidenceService/Upload";
constexpr char kDownloadPath[] = "/comity.v1.EvidenceService/Download";

// The package and item a chunk or a download names, in a record the caller may see.
struct Target {
  v1::Request record;
  workflow::PackageName package;
  int item = 0;
  const v1::EvidencePackage& Package() const {
    for (const v1::EvidencePackage& p : record.packages()) {
      if (p.name() == workflow::MakePackageName(package.request_id, package.number)) return p;
    }
    return v1::EvidencePackage::default_instance();
  }
  evidence::ItemRef Ref() const { return {package.request_id, package.number, item}; }
};

// Who may move a package's bytes, decided on the record before anything of the package is looked
// at: the receiving side's responder uploads; the requesting side's readers download.
enum class Transfer { kUpload, kDownload };

absl::Status AuthorizeTransfer(const workflow::Caller& caller, const v1::Request& record,
                               Transfer transfer) {
  if (transfer == Transfer::kUpload) {
    absl::StatusOr<v1::Side> side = auth::AuthorizeAction(caller, record);
    if (!side.ok()) return side.status();
    if (*side != v1::RECEIVING) {
      return absl::PermissionDeniedError("only the receiving side uploads evidence");
    }
    return absl::OkStatus();
  }
  if (absl::Status s = auth::AuthorizeRead(caller, record); !s.ok()) return s;
  absl::StatusOr<v1::Side> side = auth::SideOf(caller, record);
  if (!side.ok() || *side != v1::REQUESTING) {
    return absl::PermissionDeniedError("only the requesting side downloads evidence");
  }
  return absl::OkStatus();
}

absl::StatusOr<Target> Resolve(const workflow::Reader& reader, const workflow::Caller& caller,
                               const std::string& package, const std::string& item,
                               const char* package_field, Transfer transfer) {
  absl::StatusOr<workflow::PackageName> parsed = workflow::ParsePackageName(package, package_field);
  if (!parsed.ok()) return parsed.status();
  Target t;
  t.package = *parsed;
  absl::StatusOr<v1::Request> record =
      reader.Get(caller, workflow::RequestName(parsed->request_id));
  if (!record.ok()) return record.status();
  if (absl::Status s = AuthorizeTransfer(caller, *record, transfer); !s.ok()) return s;
  t.record = *std::move(record);
  absl::StatusOr<const v1::EvidencePackage*> found = workflow::FindPackage(t.record, package);
  if (!found.ok()) return found.status();
  absl::StatusOr<int> index = workflow::FindItem(**found, item);
  if (!index.ok()) return index.status();
  t.item = *index;
  return t;
}

// Whether chunks may still be added to the target's item: the receiving side's responder, the
// request in execution, the package uploading, the item not complete.
absl::Status CheckUploadable(const Target& t) {
  if (t.record.state() != v1::IN_EXECUTION) {
    return workflow::Precondition(
        "STATE", v1::State_Name(t.record.state()),
        absl::StrCat("evidence is uploaded while the request is IN_EXECUTION; it is ",
                     v1::State_Name(t.record.state())));
  }
  const v1::EvidencePackage& p = t.Package();
  if (p.state() != v1::UPLOADING) {
    return workflow::Precondition("PACKAGE", p.name(),
                                  absl::StrCat(p.name(), " is ", v1::PackageState_Name(p.state()),
                                               ": nothing more is uploaded to it"));
  }
  if (p.items(t.item).complete()) {
    return workflow::Precondition(
        "ITEM", p.items(t.item).name(),
        absl::StrCat("item ", p.items(t.item).name(), " is complete: nothing more is uploaded"));
  }
  return absl::OkStatus();
}

// On the requesting node of a request another node keeps, a delivered package is downloaded
// here once it is fetched whole (FETCH_PACKAGE); until then FAILED_PRECONDITION saying how far it
// has got.
absl::Status CheckHeld(const evidence::ChunkStore& chunks, const Target& t) {
  const v1::EvidencePackage& p = t.Package();
  if (t.record.system_of_record().empty() || p.state() != v1::DELIVERED) return absl::OkStatus();
  for (const std::string& fetched : t.record.fetched()) {
    if (fetched == p.name()) return absl::OkStatus();
  }
  absl::StatusOr<uint64_t> here = chunks.Durable(t.Ref());
  if (!here.ok()) return here.status();
  return workflow::Precondition(
      "FETCHING", p.name(),
      absl::StrCat(p.name(), " is being fetched from node ", t.record.system_of_record(),
                   ", its system of record: item ", p.items(t.item).name(), " has ", *here, " of ",
                   p.items(t.item).size_bytes(),
                   " bytes here; it can be downloaded once the whole package is (FETCH_PACKAGE "
                   "on the trail)"));
}

// A stream refused (UNAUTHENTICATED, PERMISSION_DENIED, NOT_FOUND) goes to the security log, as
// a unary call does.
void LogRefusal(SecurityLog& log, const std::string& principal, const char* method,
                const absl::Status& status) {
  if (absl::IsUnauthenticated(status) || absl::IsPermissionDenied(status) ||
      absl::IsNotFound(status)) {
    log.Record(principal, method, ToGrpcStatus(status));
  }
}

}  // namespace

// One Upload stream. Chunks are handled in order on the service's threads, one at a time, while
// the next is read (one chunk waits at most); acks are written one at a time. The state the
// threads share outlives the reactor: gRPC may end the call while a chunk is being written.
class UploadReactor final : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  UploadReactor(EvidenceService* service, grpc::CallbackServerContext* ctx)
      : state_(std::make_shared<State>()) {
    state_->service = service;
    state_->reactor = this;
    absl::StatusOr<workflow::Caller> caller = service->identifier_->Identify(*ctx);
    absl::MutexLock lock(&state_->mu);
    if (!caller.ok()) {
      state_->failure = caller.status();
      state_->read_closed = true;
      MaybeFinish(*state_);
      return;
    }
    state_->caller = *std::move(caller);
    state_->reading = true;
    StartRead(&state_->in);
  }

  void OnReadDone(bool ok) override {
    COMITY_TSAN_ACQUIRE(this);
    State& s = *state_;
    absl::MutexLock lock(&s.mu);
    s.reading = false;
    if (!ok) {
      s.read_closed = true;
      MaybeFinish(s);
      return;
    }
    v1::UploadChunk chunk;
    if (!Parse(s.in, &chunk)) {
      Fail(s, absl::InvalidArgumentError(
                  "a chunk could not be parsed as comity.v1.UploadChunk (UNPARSABLE_BODY)"));
      return;
    }
    s.inbox.push_back(std::move(chunk));
    if (s.inbox.size() < 2) {
      s.reading = true;
      StartRead(&s.in);
    }
    if (!s.busy) {
      s.busy = true;
      s.service->pool_->Schedule([state = state_] { Drain(state); });
    }
  }

  void OnWriteDone(bool ok) override {
    COMITY_TSAN_ACQUIRE(this);
    State& s = *state_;
    absl::MutexLock lock(&s.mu);
    s.writing = false;
    s.outbox.pop_front();  // written
    if (!ok) {
      Fail(s, absl::CancelledError("the stream broke"));
      return;
    }
    WriteNext(s);
  }

  void OnCancel() override {
    State& s = *state_;
    absl::MutexLock lock(&s.mu);
    Fail(s, absl::CancelledError("the client cancelled the upload"));
  }

  void OnDone() override {
    COMITY_TSAN_ACQUIRE(this);
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = nullptr;
    }
    delete this;
  }

 private:
  struct State {
    absl::Mutex mu;
    EvidenceService* service = nullptr;
    UploadReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;  // null once the call is done
    workflow::Caller caller;
    grpc::ByteBuffer in;
    std::deque<v1::UploadChunk> inbox ABSL_GUARDED_BY(mu);
    std::deque<grpc::ByteBuffer> outbox ABSL_GUARDED_BY(mu);
    bool reading ABSL_GUARDED_BY(mu) = false;
    bool read_closed ABSL_GUARDED_BY(mu) = false;
    bool writing ABSL_GUARDED_BY(mu) = false;
    bool busy ABSL_GUARDED_BY(mu) = false;         // a thread is handling the inbox
    bool writer_busy ABSL_GUARDED_BY(mu) = false;  // an I/O thread is writing a chunk
    bool finished ABSL_GUARDED_BY(mu) = false;
    absl::Status failure ABSL_GUARDED_BY(mu);
    // Handled on one thread at a time (busy): the package named, and a running digest of the
    // item being uploaded, from its first byte.
    std::string package;
    std::string hashed_item;
    uint64_t hashed_bytes = 0;
    Sha256Stream hash;
  };

  static void WriteNext(State& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (s.reactor == nullptr || s.finished) return;
    if (!s.writing && !s.outbox.empty()) {
      s.writing = true;
      COMITY_TSAN_RELEASE(s.reactor);
      s.reactor->StartWrite(&s.outbox.front());  // popped when the write is done
      return;
    }
    MaybeFinish(s);
  }

  // Ends the call once nothing is left to do: the client closed its side (or it failed), no chunk
  // waits or is being handled, and every ack is written.
  static void MaybeFinish(State& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (s.reactor == nullptr || s.finished || s.busy || s.writer_busy || s.writing) return;
    if (!s.failure.ok() || (s.read_closed && s.inbox.empty() && s.outbox.empty())) {
      s.finished = true;
      LogRefusal(*s.service->log_, s.caller.principal, kUploadPath, s.failure);
      COMITY_TSAN_RELEASE(s.reactor);
      s.reactor->Finish(ToGrpcStatus(s.failure));
    }
  }

  static void Fail(State& s, absl::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (s.failure.ok()) s.failure = std::move(status);
    s.inbox.clear();
    // The ack being written stays until its write is done; the rest are dropped.
    s.outbox.erase(s.outbox.begin() + (s.writing ? 1 : 0), s.outbox.end());
    MaybeFinish(s);
  }

  // A chunk checked, hashed and sealed, ready to be written.
  struct Prepared {
    evidence::ItemRef ref;
    std::string request_id;
    std::string item;
    std::string item_sha256;
    uint64_t offset = 0;
    uint64_t size = 0;
    bool last = false;  // it ends the item
    std::string whole;  // last: the item's whole digest, as the stream hashed it
    std::string sealed;
  };

  // Takes the chunks in order: each is prepared here (its checks, the item's running digest, the
  // cipher) while the one before it is written on the service's I/O threads.
  static void Drain(const std::shared_ptr<State>& state) {
    State& s = *state;
    for (;;) {
      v1::UploadChunk chunk;
      {
        absl::MutexLock lock(&s.mu);
        if (!s.failure.ok() || s.inbox.empty() || s.reactor == nullptr) {
          s.busy = false;
          MaybeFinish(s);
          return;
        }
        chunk = std::move(s.inbox.front());
        s.inbox.pop_front();
        if (!s.reading && !s.read_closed && s.reactor != nullptr) {
          s.reading = true;
          s.reactor->StartRead(&s.in);
        }
      }
      absl::StatusOr<Prepared> prepared = Prepare(s, std::move(chunk));
      absl::MutexLock lock(&s.mu);
      if (!prepared.ok()) {
        s.busy = false;
        Fail(s, prepared.status());
        return;
      }
      // One chunk is written at a time, in order.
      s.mu.Await(absl::Condition(
          +[](State* st) ABSL_EXCLUSIVE_LOCKS_REQUIRED(st->mu) {
            return !st->writer_busy || !st->failure.ok();
          },
          &s));
      if (!s.failure.ok()) {
        s.busy = false;
        MaybeFinish(s);
        return;
      }
      s.writer_busy = true;
      s.service->io_pool_->Schedule(
          [state, p = *std::move(prepared)]() mutable { Write(state, std::move(p)); });
    }
  }

  static void Write(const std::shared_ptr<State>& state, Prepared p) {
    State& s = *state;
    absl::StatusOr<v1::UploadAck> ack = Commit(s, std::move(p));
    grpc::ByteBuffer out;
    if (ack.ok() && !Serialize(*ack, &out)) {
      ack = absl::InternalError("the ack could not be serialized");
    }
    absl::MutexLock lock(&s.mu);
    s.writer_busy = false;
    if (!ack.ok()) {
      Fail(s, ack.status());
      return;
    }
    s.outbox.push_back(std::move(out));
    WriteNext(s);
  }

  static absl::StatusOr<Prepared> Prepare(State& s, v1::UploadChunk chunk) {
    if (s.package.empty()) {
      if (chunk.package().empty()) {
        return workflow::InvalidField("package", "the stream's first chunk names its package",
                                      "REQUIRED");
      }
      s.package = chunk.package();
    } else if (!chunk.package().empty() && chunk.package() != s.package) {
      return workflow::InvalidField("package",
                                    absl::StrCat("a stream uploads to one package: ", s.package),
                                    "PACKAGE_CHANGED");
    }
    EvidenceService& service = *s.service;
    absl::StatusOr<Target> target =
        Resolve(*service.reader_, s.caller, s.package, chunk.item(), "package", Transfer::kUpload);
    if (!target.ok()) return target.status();
    if (absl::Status ok = CheckUploadable(*target); !ok.ok()) return ok;
    if (chunk.data().empty() || chunk.data().size() > evidence::kMaxChunkBytes) {
      return workflow::InvalidField(
          "data",
          absl::StrCat("a chunk holds 1 byte to ", evidence::kMaxChunkBytes, " bytes, not ",
                       chunk.data().size()),
          "CHUNK_SIZE");
    }
    const std::string digest = ToHex(Sha256(chunk.data()));
    if (chunk.sha256() != digest) {
      return workflow::InvalidField(
          "sha256",
          absl::StrCat("the chunk at ", chunk.offset(), " hashes to ", digest, ", not ",
                       chunk.sha256(), ": it was damaged on the way; send it again"),
          "CHUNK_DIGEST_MISMATCH");
    }
    const v1::PackageItem& item = target->Package().items(target->item);
    if (chunk.offset() < 0 || static_cast<uint64_t>(chunk.offset()) + chunk.data().size() >
                                  static_cast<uint64_t>(item.size_bytes())) {
      return workflow::InvalidField(
          "offset",
          absl::StrCat("the chunk at ", chunk.offset(), " of ", chunk.data().size(),
                       " bytes overruns the item's declared ", item.size_bytes(), " bytes"),
          "CHUNK_OVERRUNS_ITEM");
    }
    Prepared p;
    p.ref = target->Ref();
    p.request_id = target->package.request_id;
    p.item = item.name();
    p.item_sha256 = item.sha256();
    p.offset = static_cast<uint64_t>(chunk.offset());
    p.size = chunk.data().size();
    // The running digest starts from the item's durable bytes (a resumed upload rereads them);
    // it runs ahead of what is durable by the chunk being written. A chunk out of place is
    // refused when it is written.
    if (s.hashed_item != item.name() || s.hashed_bytes != p.offset) {
      absl::StatusOr<uint64_t> durable = service.chunks_->Durable(p.ref);
      if (!durable.ok()) return durable.status();
      s.hash = Sha256Stream();
      s.hashed_bytes = 0;
      s.hashed_item.clear();
      if (p.offset == *durable && *durable > 0) {
        absl::Status read = service.chunks_->Read(p.ref, 0, [&](uint64_t, std::string bytes) {
          s.hash.Update(bytes);
          s.hashed_bytes += bytes.size();
          return true;
        });
        if (!read.ok()) return read;
      }
      if (p.offset == s.hashed_bytes) s.hashed_item = item.name();
    }
    s.hash.Update(chunk.data());
    s.hashed_bytes += p.size;
    p.last = p.offset + p.size == static_cast<uint64_t>(item.size_bytes());
    if (p.last) {
      p.whole = ToHex(s.hash.Finish());
      s.hashed_item.clear();
    }
    absl::StatusOr<std::string> sealed = service.chunks_->SealChunk(p.ref, p.offset, chunk.data());
    if (!sealed.ok()) return sealed.status();
    p.sealed = *std::move(sealed);
    return p;
  }

  // Writes a prepared chunk; the item's last one is then held to its declared digest and, if it
  // matches, recorded (UPLOAD_ITEM) before it is acknowledged.
  static absl::StatusOr<v1::UploadAck> Commit(State& s, Prepared p) {
    EvidenceService& service = *s.service;
    const workflow::Caller& caller = s.caller;
    const std::string& package_name = s.package;
    absl::StatusOr<uint64_t> durable =
        service.chunks_->AppendSealed(p.ref, p.offset, p.size, p.sealed, [&]() -> absl::Status {
          absl::StatusOr<Target> now =
              Resolve(*service.reader_, caller, package_name, p.item, "package", Transfer::kUpload);
          if (!now.ok()) return now.status();
          return CheckUploadable(*now);
        });
    if (!durable.ok()) return durable.status();
    if (service.uploaded_bytes_ != nullptr) {
      service.uploaded_bytes_->Increment(static_cast<double>(p.size));
    }
    v1::UploadAck ack;
    ack.set_item(p.item);
    ack.set_durable_bytes(static_cast<int64_t>(*durable));
    if (!p.last) return ack;
    if (p.whole != p.item_sha256) {
      if (absl::Status reset = service.chunks_->Reset(p.ref); !reset.ok()) return reset;
      return workflow::InvalidField(
          "sha256",
          absl::StrCat("item ", p.item, " hashes to ", p.whole, ", not the declared ",
                       p.item_sha256, "; its bytes were dropped: upload it again from 0"),
          "ITEM_DIGEST_MISMATCH");
    }
    v1::RecordUploadRequest record;
    record.set_name(workflow::RequestName(p.request_id));
    record.set_package(package_name);
    record.set_item(p.item);
    absl::StatusOr<v1::Request> done =
        service.engine_->ApplyAndWait(workflow::MakeCommand(v1::UPLOAD_ITEM, caller, record));
    if (!done.ok()) return done.status();
    ack.set_complete(true);
    return ack;
  }

  std::shared_ptr<State> state_;
};

// One Download stream: the DOWNLOAD entry first, then the chunks, each read on the service's
// threads while the one before it is being written (one read ahead, so the disk, the cipher and
// the network overlap). The state the threads share outlives the reactor.
class DownloadReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  DownloadReactor(EvidenceService* service, const v1::DownloadRequest& req,
                  absl::StatusOr<workflow::Caller> caller, const char* method)
      : state_(std::make_shared<State>()) {
    State& s = *state_;
    s.service = service;
    s.reactor = this;
    s.method = method;
    if (caller.ok()) s.principal = caller->principal;
    absl::StatusOr<Target> target = caller.ok() ? Resolve(*service->reader_, *caller, req.name(),
                                                          req.item(), "name", Transfer::kDownload)
                                                : absl::StatusOr<Target>(caller.status());
    if (target.ok()) {
      if (absl::Status here = CheckHeld(*service->chunks_, *target); !here.ok()) target = here;
    }
    if (!target.ok()) {
      absl::MutexLock lock(&s.mu);
      End(s, target.status());
      return;
    }
    const v1::PackageItem& item = target->Package().items(target->item);
    s.ref = target->Ref();
    s.next = req.offset();
    s.size = item.size_bytes();
    s.item_sha256 = item.sha256();
    v1::RecordDownloadRequest record;
    record.set_name(workflow::RequestName(target->package.request_id));
    record.set_package(req.name());
    record.set_item(req.item());
    record.set_offset(req.offset());
    record.set_length(req.offset() >= 0 && req.offset() <= item.size_bytes()
                          ? item.size_bytes() - req.offset()
                          : 0);
    service->engine_->Apply(workflow::MakeCommand(v1::DOWNLOAD, *std::move(caller), record),
                            [state = state_](absl::StatusOr<v1::Request> r) {
                              absl::MutexLock lock(&state->mu);
                              if (!r.ok()) {
                                End(*state, r.status());
                                return;
                              }
                              state->recorded = true;
                              Pump(*state, state);
                            });
  }

  void OnWriteDone(bool ok) override {
    COMITY_TSAN_ACQUIRE(this);
    absl::MutexLock lock(&state_->mu);
    state_->writing = false;
    if (!ok) {
      End(*state_, absl::CancelledError("the stream broke"));
      return;
    }
    Pump(*state_, state_);
  }

  void OnCancel() override {
    absl::MutexLock lock(&state_->mu);
    End(*state_, absl::CancelledError("the client cancelled the download"));
  }

  void OnDone() override {
    COMITY_TSAN_ACQUIRE(this);
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = nullptr;
    }
    delete this;
  }

 private:
  struct State {
    absl::Mutex mu;
    EvidenceService* service = nullptr;
    DownloadReactor* reactor ABSL_GUARDED_BY(mu) = nullptr;
    bool finished ABSL_GUARDED_BY(mu) = false;
    bool recorded ABSL_GUARDED_BY(mu) = false;                  // the DOWNLOAD entry is durable
    bool reading ABSL_GUARDED_BY(mu) = false;                   // a thread reads the next chunk
    bool writing ABSL_GUARDED_BY(mu) = false;                   // gRPC writes `out`
    std::optional<grpc::ByteBuffer> ready ABSL_GUARDED_BY(mu);  // read, waiting for its write
    int64_t next ABSL_GUARDED_BY(mu) = 0;  // the offset the next read starts at
    grpc::ByteBuffer out;
    std::string principal;
    const char* method = kDownloadPath;
    evidence::ItemRef ref;
    int64_t size = 0;
    std::string item_sha256;
  };

  static void End(State& s, const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (s.reactor == nullptr || s.finished) return;
    s.finished = true;
    LogRefusal(*s.service->log_, s.principal, s.method, status);
    COMITY_TSAN_RELEASE(s.reactor);
    s.reactor->Finish(ToGrpcStatus(status));
  }

  // Writes what is ready, reads ahead what is not, and ends the call after the last chunk.
  static void Pump(State& s, const std::shared_ptr<State>& state)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    if (s.finished || s.reactor == nullptr || !s.recorded) return;
    if (!s.writing && s.ready.has_value()) {
      s.out = *std::move(s.ready);
      s.ready.reset();
      s.writing = true;
      COMITY_TSAN_RELEASE(s.reactor);
      s.reactor->StartWrite(&s.out);
    }
    if (!s.reading && !s.ready.has_value() && s.next < s.size) {
      s.reading = true;
      s.service->pool_->Schedule([state, from = s.next] { Read(state, from); });
    }
    if (!s.writing && !s.reading && !s.ready.has_value() && s.next >= s.size) {
      End(s, absl::OkStatus());
    }
  }

  static void Read(const std::shared_ptr<State>& state, int64_t from) {
    State& s = *state;
    v1::DownloadChunk chunk;
    absl::Status read = s.service->chunks_->Read(s.ref, static_cast<uint64_t>(from),
                                                 [&](uint64_t at, std::string bytes) {
                                                   chunk.set_offset(static_cast<int64_t>(at));
                                                   chunk.set_data(std::move(bytes));
                                                   return false;  // one chunk at a time
                                                 });
    if (read.ok() && chunk.data().empty()) {
      read = absl::DataLossError(
          absl::StrCat("the item's bytes end at ", from, " before its declared ", s.size));
    }
    grpc::ByteBuffer buffer;
    if (read.ok()) {
      chunk.set_sha256(ToHex(Sha256(chunk.data())));
      chunk.set_size_bytes(s.size);
      chunk.set_item_sha256(s.item_sha256);
      if (!Serialize(chunk, &buffer)) read = absl::InternalError("a chunk could not be serialized");
    }
    absl::MutexLock lock(&s.mu);
    s.reading = false;
    if (!read.ok()) {
      End(s, read);
      return;
    }
    s.next = chunk.offset() + static_cast<int64_t>(chunk.data().size());
    if (s.service->downloaded_bytes_ != nullptr) {
      s.service->downloaded_bytes_->Increment(static_cast<double>(chunk.data().size()));
    }
    s.ready = std::move(buffer);
    Pump(s, state);
  }

  std::shared_ptr<State> state_;
};

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* EvidenceService::Upload(
    grpc::CallbackServerContext* ctx) {
  return new UploadReactor(this, ctx);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EvidenceService::Download(
    grpc::CallbackServerContext* ctx, const v1::DownloadRequest* req) {
  return new DownloadReactor(this, *req, identifier_->Identify(*ctx), kDownloadPath);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* EvidenceService::DownloadAs(
    const v1::DownloadRequest& req, absl::StatusOr<workflow::Caller> caller, const char* method) {
  return new DownloadReactor(this, req, std::move(caller), method);
}

}  // namespace comity::rpc
