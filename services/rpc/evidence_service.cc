#include "services/rpc/evidence_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/auth/policy.h"
#include "services/rpc/read.h"
#include "services/rpc/status.h"
#include "services/rpc/well_formed.h"
#include "services/workflow/actions.h"
#include "services/workflow/errors.h"
#include "services/workflow/names.h"
#include "storage/keys.h"

namespace comity::rpc {
namespace {

workflow::Command PackageCommand(v1::Action action, workflow::Caller caller,
                                 std::shared_ptr<const google::protobuf::Message> body,
                                 std::string request_name) {
  workflow::Command c = workflow::MakeCommand(action, std::move(caller), std::move(body));
  c.name = std::move(request_name);
  return c;
}

}  // namespace

EvidenceService::EvidenceService(const Identifier* identifier, workflow::Engine* engine,
                                 const workflow::Reader* reader, evidence::ChunkStore* chunks,
                                 SecurityLog* log, bool record_reads, int64_t quota_bytes,
                                 prometheus::Registry* metrics)
    : ParsedService("comity.v1.EvidenceService"),
      identifier_(identifier),
      engine_(engine),
      reader_(reader),
      chunks_(chunks),
      log_(log),
      record_reads_(record_reads),
      quota_bytes_(quota_bytes) {
  if (metrics != nullptr) {
    auto& family = prometheus::BuildCounter()
                       .Name("comity_evidence_bytes_total")
                       .Help("Evidence bytes uploaded (acknowledged) and downloaded (sent)")
                       .Register(*metrics);
    uploaded_bytes_ = &family.Add({{"direction", "upload"}});
    downloaded_bytes_ = &family.Add({{"direction", "download"}});
    fetched_bytes_ = &family.Add({{"direction", "fetch"}});
  }
  AddUnary("CreatePackage", this, &EvidenceService::CreatePackage);
  AddUnary("GetPackage", this, &EvidenceService::GetPackage);
  AddUnary("ListPackages", this, &EvidenceService::ListPackages);
  AddUnary("GetUploadStatus", this, &EvidenceService::GetUploadStatus);
  AddBidiStream<v1::UploadChunk>("Upload", this, &EvidenceService::Upload);
  AddServerStream("Download", this, &EvidenceService::Download);
  AddUnary("ErasePackage", this, &EvidenceService::ErasePackage);
}

absl::Status EvidenceService::CheckQuota(const workflow::Caller& caller,
                                         const v1::CreatePackageRequest& req) const {
  if (quota_bytes_ <= 0) return absl::OkStatus();
  int64_t declared = 0;
  for (const v1::PackageItem& item : req.items()) {
    if (item.size_bytes() > 0) declared += item.size_bytes();
  }
  absl::StatusOr<int64_t> held = reader_->EvidenceBytes(caller.authority);
  if (!held.ok()) return held.status();
  if (*held + declared > quota_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        caller.authority, " holds ", *held, " bytes of evidence; this package's ", declared,
        " bytes would pass its quota of ", quota_bytes_,
        " bytes (evidence_quota_mb): erase packages it no longer needs, or ask the node's "
        "operator to raise the quota"));
  }
  return absl::OkStatus();
}

void EvidenceService::CreatePackage(grpc::CallbackServerContext* ctx,
                                    const v1::CreatePackageRequest* req, v1::EvidencePackage* reply,
                                    UnaryCall* call) {
  const char* method = "/comity.v1.EvidenceService/CreatePackage";
  // The quota is looked at only for a caller the request's record lets act on it, so it tells
  // nothing to anyone else; the engine then decides the rest as for any change. (Two packages
  // created at once may each fit alone: the quota is held to within one package.)
  if (quota_bytes_ > 0) {
    absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
    if (caller.ok()) {
      absl::StatusOr<v1::Request> record = reader_->Get(*caller, req->parent());
      if (record.ok() && auth::AuthorizeAction(*caller, *record).ok()) {
        if (absl::Status q = CheckQuota(*caller, *req); !q.ok()) {
          if (absl::Status s = log_->Start(); !s.ok()) q = s;
          log_->Finish(call, *ctx, method, q);
          return;
        }
      }
    }
  }
  AnswerChange(
      ctx, *identifier_, *log_, method, *req, call, *engine_,
      [req](workflow::Caller caller) {
        return PackageCommand(v1::CREATE_PACKAGE, std::move(caller),
                              std::make_shared<v1::CreatePackageRequest>(*req), req->parent());
      },
      [reply](absl::StatusOr<v1::Request>& r) {
        if (r.ok() && r->packages_size() > 0) *reply = r->packages(r->packages_size() - 1);
      });
}

void EvidenceService::ErasePackage(grpc::CallbackServerContext* ctx,
                                   const v1::ErasePackageRequest* req, v1::EvidencePackage* reply,
                                   UnaryCall* call) {
  const char* method = "/comity.v1.EvidenceService/ErasePackage";
  if (absl::Status s = log_->Start(); !s.ok()) {
    log_->Finish(call, *ctx, method, s);
    return;
  }
  absl::StatusOr<workflow::Caller> caller = identifier_->Identify(*ctx);
  if (caller.ok()) {
    if (absl::Status s = CheckWellFormed(*req); !s.ok()) caller = s;
  }
  if (!caller.ok()) {
    log_->Finish(call, *ctx, method, caller.status());
    return;
  }
  const std::string name = req->name();
  engine_->Apply(
      workflow::MakeCommand(v1::ERASE_PACKAGE, *std::move(caller), *req),
      [this, ctx, call, method, reply, name](absl::StatusOr<v1::Request> r) {
        if (!r.ok()) {
          log_->Finish(call, *ctx, method, r.status());
          return;
        }
        absl::StatusOr<const v1::EvidencePackage*> erased = workflow::FindPackage(*r, name);
        if (erased.ok()) *reply = **erased;
        if (!r->system_of_record().empty()) {
          // Relayed to the system of record: this node's copy goes once its erasure comes back
          // with the mirror.
          log_->Finish(call, *ctx, method, absl::OkStatus());
          return;
        }
        // The key is deleted with the entry; its bytes leave the store's files before the answer.
        pool_->Schedule([this, ctx, call, method, name] {
          absl::StatusOr<workflow::PackageName> p = workflow::ParsePackageName(name, "name");
          absl::Status purged = p.ok() ? chunks_->Purge(p->request_id, p->number) : p.status();
          if (!purged.ok()) {
            purged = absl::Status(purged.code(),
                                  absl::StrCat("the package is erased (its key is deleted) but its "
                                               "files were not scrubbed yet; the node retries at "
                                               "its next start: ",
                                               purged.message()));
          }
          log_->Finish(call, *ctx, method, purged);
        });
      });
}

void EvidenceService::GetPackage(grpc::CallbackServerContext* ctx, const v1::GetPackageRequest* req,
                                 v1::EvidencePackage* reply, UnaryCall* call) {
  AnswerAuditedRead(
      ctx, *identifier_, *log_, "/comity.v1.EvidenceService/GetPackage", *req, reply, call,
      record_reads_ ? engine_ : nullptr, "GetPackage",
      [&](const workflow::Caller& caller) -> absl::StatusOr<v1::EvidencePackage> {
        absl::StatusOr<v1::Request> r = reader_->Get(caller, workflow::RequestOfName(req->name()));
        if (!r.ok()) return r.status();
        absl::StatusOr<const v1::EvidencePackage*> p = workflow::FindPackage(*r, req->name());
        if (!p.ok()) return p.status();
        return **p;
      },
      [req](const v1::EvidencePackage&) {
        return std::vector<std::string>{workflow::RequestOfName(req->name())};
      });
}

void EvidenceService::ListPackages(grpc::CallbackServerContext* ctx,
                                   const v1::ListPackagesRequest* req,
                                   v1::ListPackagesResponse* reply, UnaryCall* call) {
  AnswerAuditedRead(
      ctx, *identifier_, *log_, "/comity.v1.EvidenceService/ListPackages", *req, reply, call,
      record_reads_ ? engine_ : nullptr, "ListPackages",
      [&](const workflow::Caller& caller) -> absl::StatusOr<v1::ListPackagesResponse> {
        absl::StatusOr<v1::Request> r = reader_->Get(caller, req->parent());
        if (!r.ok()) return r.status();
        v1::ListPackagesResponse out;
        *out.mutable_packages() = r->packages();
        return out;
      },
      [req](const v1::ListPackagesResponse&) { return std::vector<std::string>{req->parent()}; });
}

void EvidenceService::GetUploadStatus(grpc::CallbackServerContext* ctx,
                                      const v1::GetPackageRequest* req, v1::UploadStatus* reply,
                                      UnaryCall* call) {
  AnswerAuditedRead(
      ctx, *identifier_, *log_, "/comity.v1.EvidenceService/GetUploadStatus", *req, reply, call,
      record_reads_ ? engine_ : nullptr, "GetUploadStatus",
      [&](const workflow::Caller& caller) -> absl::StatusOr<v1::UploadStatus> {
        absl::StatusOr<workflow::PackageName> parsed =
            workflow::ParsePackageName(req->name(), "name");
        if (!parsed.ok()) return parsed.status();
        absl::StatusOr<v1::Request> r =
            reader_->Get(caller, workflow::RequestName(parsed->request_id));
        if (!r.ok()) return r.status();
        absl::StatusOr<const v1::EvidencePackage*> p = workflow::FindPackage(*r, req->name());
        if (!p.ok()) return p.status();
        v1::UploadStatus out;
        out.set_package((*p)->name());
        out.set_state((*p)->state());
        out.set_system_of_record(r->system_of_record());
        for (int i = 0; i < (*p)->items_size(); ++i) {
          const v1::PackageItem& item = (*p)->items(i);
          v1::ItemStatus* status = out.add_items();
          status->set_item(item.name());
          status->set_size_bytes(item.size_bytes());
          status->set_complete(item.complete());
          if (!r->system_of_record().empty()) {
            // Kept by a peer: what of it has been fetched here.
            absl::StatusOr<uint64_t> here =
                chunks_->Durable({parsed->request_id, parsed->number, i});
            if (!here.ok()) return here.status();
            status->set_fetched_bytes(static_cast<int64_t>(*here));
          }
          if (item.complete()) {
            status->set_durable_bytes(item.size_bytes());
            continue;
          }
          absl::StatusOr<uint64_t> durable =
              chunks_->Durable({parsed->request_id, parsed->number, i});
          if (!durable.ok()) return durable.status();
          status->set_durable_bytes(static_cast<int64_t>(*durable));
        }
        return out;
      },
      [req](const v1::UploadStatus&) {
        return std::vector<std::string>{workflow::RequestOfName(req->name())};
      });
}

absl::Status EvidenceService::PurgeErased(const storage::Store& store) {
  absl::StatusOr<std::vector<std::pair<std::string, int>>> keyed = chunks_->KeyedPackages();
  if (!keyed.ok()) return keyed.status();
  for (const auto& [id, number] : *keyed) {
    absl::StatusOr<std::string> bytes = store.Get(storage::Column::kRequests, id);
    bool erased = absl::IsNotFound(bytes.status());
    if (bytes.ok()) {
      v1::Request record;
      if (!record.ParseFromString(*bytes)) {
        return absl::DataLossError(absl::StrCat("the record of requests/", id, " is unreadable"));
      }
      absl::StatusOr<const v1::EvidencePackage*> p =
          workflow::FindPackage(record, workflow::MakePackageName(id, number));
      erased = !p.ok() || (*p)->state() == v1::ERASED;
    } else if (!erased) {
      return bytes.status();
    }
    if (erased) {
      if (absl::Status s = chunks_->Purge(id, number); !s.ok()) return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace comity::rpc
