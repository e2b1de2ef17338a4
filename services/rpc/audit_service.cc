#include "services/rpc/audit_service.h"

#include "services/audit/bundle.h"
#include "services/rpc/read.h"
#include "storage/keys.h"

namespace comity::rpc {

AuditService::AuditService(const Identifier* identifier, const workflow::Reader* reader,
                           SecurityLog* log, audit::Checkpointer* checkpoints,
                           workflow::Engine* engine)
    : ParsedService("comity.v1.AuditService"),
      identifier_(identifier),
      reader_(reader),
      log_(log),
      checkpoints_(checkpoints),
      engine_(engine) {
  AddUnary("GetTrail", this, &AuditService::GetTrail);
  AddUnary("GetStatistics", this, &AuditService::GetStatistics);
  AddUnary("ExportTrail", this, &AuditService::ExportTrail);
  AddUnary("GetConsistencyProof", this, &AuditService::GetConsistencyProof);
  AddUnary("GetCheckpoint", this, &AuditService::GetCheckpoint);
}

void AuditService::GetTrail(grpc::CallbackServerContext* ctx, const v1::GetTrailRequest* req,
                            v1::Trail* reply, UnaryCall* call) {
  AnswerAuditedRead(
      ctx, *identifier_, *log_, "/comity.v1.AuditService/GetTrail", *req, reply, call, engine_,
      "GetTrail",
      [&](const workflow::Caller& caller) -> absl::StatusOr<v1::Trail> {
        // A request another node keeps: its trail, as mirrored from there.
        absl::StatusOr<std::optional<v1::TrailBundle>> mirror =
            req->local() ? absl::StatusOr<std::optional<v1::TrailBundle>>(std::nullopt)
                         : reader_->MirrorBundle(caller, req->request());
        if (!mirror.ok()) return mirror.status();
        if (*mirror) return std::move((*mirror)->trail());
        // With a signing key: each entry's proof against the latest checkpoint, given with the
        // first page.
        absl::StatusOr<v1::Checkpoint> c = checkpoints_->Latest();
        absl::StatusOr<v1::Trail> trail = reader_->TrailPage(
            caller, *req, workflow::Reader::TrailKind::kGet,
            [&]() -> absl::StatusOr<uint64_t> { return c.ok() ? c->size() : 0; },
            /*covered_only=*/false);
        if (trail.ok() && c.ok() && req->page_token().empty()) {
          *trail->mutable_checkpoint() = *std::move(c);
        }
        return trail;
      },
      [](const v1::Trail& trail) {
        // The directory's trail is not a request's: reading it is not recorded.
        if (trail.request() == storage::kDirectoryTrail) return std::vector<std::string>();
        return std::vector<std::string>{trail.request()};
      });
}

void AuditService::ExportTrail(grpc::CallbackServerContext* ctx, const v1::GetTrailRequest* req,
                               v1::TrailBundle* reply, UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.AuditService/ExportTrail", *req, reply, call,
             [&](const workflow::Caller& caller) -> absl::StatusOr<v1::TrailBundle> {
               // A request another node keeps: the bundle that node signed, as mirrored.
               absl::StatusOr<std::optional<v1::TrailBundle>> mirror =
                   req->local() ? absl::StatusOr<std::optional<v1::TrailBundle>>(std::nullopt)
                                : reader_->MirrorBundle(caller, req->request());
               if (!mirror.ok()) return mirror.status();
               if (*mirror) return **std::move(mirror);
               // The caller first: a node without a log key says so only to those who may read the
               // trail (the checkpoint is asked for once the caller is authorized).
               absl::StatusOr<v1::Checkpoint> c;
               absl::StatusOr<v1::Trail> trail = reader_->TrailPage(
                   caller, *req, workflow::Reader::TrailKind::kExport,
                   [&]() -> absl::StatusOr<uint64_t> {
                     c = req->witnessed() ? checkpoints_->LatestCosigned() : checkpoints_->Latest();
                     if (!c.ok()) return c.status();
                     return c->size();
                   },
                   /*covered_only=*/true);
               if (!trail.ok()) return trail.status();
               v1::TrailBundle bundle;
               if (!req->page_token().empty()) {
                 // A later part: its entries, with proofs against the first part's checkpoint.
                 *bundle.mutable_trail() = *std::move(trail);
                 return bundle;
               }
               absl::StatusOr<std::string> note =
                   checkpoints_->Sign(audit::TrailNoteText(*trail, c->size()));
               if (!note.ok()) return note.status();
               if (req->consistency_from() > 0) {
                 absl::StatusOr<v1::ConsistencyProof> p =
                     reader_->Consistency(req->consistency_from(), c->size(), c->size());
                 if (!p.ok()) return p.status();
                 *bundle.mutable_consistency() = *std::move(p);
               }
               *trail->mutable_checkpoint() = *std::move(c);
               *bundle.mutable_trail() = *std::move(trail);
               bundle.set_trail_note(*std::move(note));
               return bundle;
             });
}

void AuditService::GetStatistics(grpc::CallbackServerContext* ctx,
                                 const v1::GetStatisticsRequest* req, v1::Statistics* reply,
                                 UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.AuditService/GetStatistics", *req, reply, call,
             [&](const workflow::Caller& caller) { return reader_->Statistics(caller, *req); });
}

void AuditService::GetConsistencyProof(grpc::CallbackServerContext* ctx,
                                       const v1::GetConsistencyProofRequest* req,
                                       v1::ConsistencyProof* reply, UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.AuditService/GetConsistencyProof", *req, reply,
             call, [&](const workflow::Caller&) -> absl::StatusOr<v1::ConsistencyProof> {
               absl::StatusOr<v1::Checkpoint> c = checkpoints_->Latest();
               if (!c.ok()) return c.status();
               return reader_->Consistency(req->from_size(), req->to_size(), c->size());
             });
}

void AuditService::GetCheckpoint(grpc::CallbackServerContext* ctx,
                                 const v1::GetCheckpointRequest* req, v1::Checkpoint* reply,
                                 UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.AuditService/GetCheckpoint", *req, reply, call,
             [this](const workflow::Caller&) { return checkpoints_->Latest(); });
}

}  // namespace comity::rpc
