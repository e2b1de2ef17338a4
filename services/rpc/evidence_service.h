#ifndef COMITY_SERVICES_RPC_EVIDENCE_SERVICE_H_
#define COMITY_SERVICES_RPC_EVIDENCE_SERVICE_H_

// comity.v1.EvidenceService (proto/comity/v1/evidence.proto): packages through the engine, their
// bytes through the chunk store. The Upload and Download streams are in evidence_streams.cc. Writes
// and reads of chunks run on the service's own threads, never on gRPC's.

#include <memory>

#include "comity/v1/evidence.pb.h"
#include "common/worker_pool.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "services/evidence/chunk_store.h"
#include "services/rpc/identify.h"
#include "services/rpc/parsed_service.h"
#include "services/rpc/security_log.h"
#include "services/workflow/engine.h"
#include "services/workflow/reader.h"

namespace comity::rpc {

class EvidenceService final : public ParsedService {
 public:
  // With `record_reads`, GetPackage, ListPackages and GetUploadStatus are ACCESS entries, as
  // GetRequest is. Downloads are always recorded (DOWNLOAD).
  // `quota_bytes`: the evidence each authority may hold (0: no quota). `metrics`, if given, gets
  // comity_evidence_bytes_total{direction="upload"|"download"|"fetch"}: bytes acknowledged,
  // sent, or fetched from the system of record.
  EvidenceService(const Identifier* identifier, workflow::Engine* engine,
                  const workflow::Reader* reader, evidence::ChunkStore* chunks, SecurityLog* log,
                  bool record_reads, int64_t quota_bytes, prometheus::Registry* metrics = nullptr);

  void CreatePackage(grpc::CallbackServerContext* ctx, const v1::CreatePackageRequest* req,
                     v1::EvidencePackage* reply, UnaryCall* call);
  void ErasePackage(grpc::CallbackServerContext* ctx, const v1::ErasePackageRequest* req,
                    v1::EvidencePackage* reply, UnaryCall* call);
  void GetPackage(grpc::CallbackServerContext* ctx, const v1::GetPackageRequest* req,
                  v1::EvidencePackage* reply, UnaryCall* call);
  void ListPackages(grpc::CallbackServerContext* ctx, const v1::ListPackagesRequest* req,
                    v1::ListPackagesResponse* reply, UnaryCall* call);
  void GetUploadStatus(grpc::CallbackServerContext* ctx, const v1::GetPackageRequest* req,
                       v1::UploadStatus* reply, UnaryCall* call);
  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Upload(
      grpc::CallbackServerContext* ctx);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Download(grpc::CallbackServerContext* ctx,
                                                       const v1::DownloadRequest* req);
  // A download for `caller`, identified already: FederationService.FetchEvidence, for the
  // requesting node of a request this node keeps; `method` names it in the security log.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* DownloadAs(const v1::DownloadRequest& req,
                                                         absl::StatusOr<workflow::Caller> caller,
                                                         const char* method);

  // Finishes the erasure of packages whose ERASE_PACKAGE entry is committed but whose chunks and
  // key were not yet purged (the node stopped in between). Run at start.
  absl::Status PurgeErased(const storage::Store& store);

  // comity_evidence_bytes_total{direction="fetch"}: bytes fetched from the system of record
  // (federation::Fetcher); null without metrics.
  prometheus::Counter* fetched_bytes() const { return fetched_bytes_; }

  // Waits for the chunk reads and writes under way; for shutdown, once gRPC has stopped.
  void StopWorkers() {
    pool_.reset();
    io_pool_.reset();
  }

 private:
  friend class UploadReactor;
  // RESOURCE_EXHAUSTED if the package would take the caller's authority past its quota.
  absl::Status CheckQuota(const workflow::Caller& caller,
                          const v1::CreatePackageRequest& req) const;
  friend class DownloadReactor;

  const Identifier* const identifier_;
  workflow::Engine* const engine_;
  const workflow::Reader* const reader_;
  evidence::ChunkStore* const chunks_;
  SecurityLog* const log_;
  const bool record_reads_;
  const int64_t quota_bytes_;
  prometheus::Counter* uploaded_bytes_ = nullptr;
  prometheus::Counter* downloaded_bytes_ = nullptr;
  prometheus::Counter* fetched_bytes_ = nullptr;
  // Reads and the preparation of chunks; their writes (which nothing on pool_ waits for in
  // turn, so the two never deadlock).
  std::unique_ptr<WorkerPool> pool_ = std::make_unique<WorkerPool>(4);
  std::unique_ptr<WorkerPool> io_pool_ = std::make_unique<WorkerPool>(4);
};

}  // namespace comity::rpc

#endif  // COMITY_SERVICES_RPC_EVIDENCE_SERVICE_H_
