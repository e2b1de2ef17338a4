#include "services/rpc/directory_service.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/auth/policy.h"
#include "services/rpc/read.h"
#include "services/rpc/well_formed.h"
#include "services/workflow/directory.h"
#include "services/workflow/errors.h"

namespace comity::rpc {
namespace {

v1::Authority Visible(const v1::Authority& a, const workflow::Caller& caller) {
  v1::Authority out = a;
  if (a.name() != caller.authority) out.clear_members();
  return out;
}

constexpr char kUpsert[] = "/comity.v1.DirectoryService/UpsertAuthority";
constexpr char kSetReservation[] = "/comity.v1.DirectoryService/SetReservation";
constexpr char kClearSplitView[] = "/comity.v1.DirectoryService/ClearSplitView";

v1::Peer PeerOf(const workflow::Directory& directory, const std::string& node) {
  v1::Peer out;
  out.set_node(node);
  if (std::optional<v1::DirectorySnapshot> d = directory.Peer(node)) {
    out.set_directory_version(d->version());
    out.set_authorities(d->authorities_size());
  }
  if (std::optional<v1::SplitView> v = directory.SplitViewOf(node)) {
    *out.mutable_split_view() = *std::move(v);
  }
  return out;
}

}  // namespace

DirectoryService::DirectoryService(const Identifier* identifier,
                                   const workflow::Directory* directory, workflow::Engine* engine,
                                   SecurityLog* log, std::vector<std::string> peers)
    : ParsedService("comity.v1.DirectoryService"),
      identifier_(identifier),
      directory_(directory),
      engine_(engine),
      log_(log),
      peers_(std::move(peers)) {
  AddUnary("GetAuthority", this, &DirectoryService::GetAuthority);
  AddUnary("ListAuthorities", this, &DirectoryService::ListAuthorities);
  AddUnary("WhoAmI", this, &DirectoryService::WhoAmI);
  AddUnary("UpsertAuthority", this, &DirectoryService::UpsertAuthority);
  AddUnary("ListReservations", this, &DirectoryService::ListReservations);
  AddUnary("SetReservation", this, &DirectoryService::SetReservation);
  AddUnary("ListPeers", this, &DirectoryService::ListPeers);
  AddUnary("ClearSplitView", this, &DirectoryService::ClearSplitView);
}

void DirectoryService::GetAuthority(grpc::CallbackServerContext* ctx,
                                    const v1::GetAuthorityRequest* req, v1::Authority* reply,
                                    UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.DirectoryService/GetAuthority", *req, reply,
             call, [&](const workflow::Caller& caller) -> absl::StatusOr<v1::Authority> {
               if (!workflow::IsAuthorityName(req->name())) {
                 return workflow::InvalidField(
                     "name", "must be authorities/<ID>, ID of 2-32 characters A-Z, 0-9, -",
                     "NAME_FORMAT");
               }
               std::optional<v1::Authority> a = directory_->FindAuthority(req->name());
               if (!a) return absl::NotFoundError(absl::StrCat(req->name(), " not found"));
               return Visible(*a, caller);
             });
}

void DirectoryService::ListAuthorities(grpc::CallbackServerContext* ctx,
                                       const v1::ListAuthoritiesRequest* req,
                                       v1::ListAuthoritiesResponse* reply, UnaryCall* call) {
  AnswerRead(
      ctx, *identifier_, *log_, "/comity.v1.DirectoryService/ListAuthorities", *req, reply, call,
      [&](const workflow::Caller& caller) -> absl::StatusOr<v1::ListAuthoritiesResponse> {
        if (!req->country().empty() && !workflow::IsCountryCode(req->country())) {
          return workflow::InvalidField("country", "must be an ISO 3166-1 alpha-2 code such as FR",
                                        "COUNTRY_FORMAT");
        }
        v1::ListAuthoritiesResponse out;
        for (const v1::Authority& a : directory_->Authorities()) {
          if (req->country().empty() || a.country() == req->country()) {
            *out.add_authorities() = Visible(a, caller);
          }
        }
        return out;
      });
}

void DirectoryService::UpsertAuthority(grpc::CallbackServerContext* ctx,
                                       const v1::UpsertAuthorityRequest* req, v1::Authority* reply,
                                       UnaryCall* call) {
  AnswerChange(
      ctx, *identifier_, *log_, kUpsert, *req, call, *engine_,
      [req](workflow::Caller caller) {
        return workflow::MakeCommand(v1::UPSERT_AUTHORITY, std::move(caller), *req);
      },
      [this, reply, name = req->authority().name()](const absl::StatusOr<v1::Request>& done) {
        // The directory holds the change before the engine reports it.
        std::optional<v1::Authority> a = directory_->FindAuthority(name);
        if (done.ok() && a) *reply = *std::move(a);
      });
}

void DirectoryService::WhoAmI(grpc::CallbackServerContext* ctx, const v1::WhoAmIRequest* req,
                              v1::WhoAmIResponse* reply, UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.DirectoryService/WhoAmI", *req, reply, call,
             [](const workflow::Caller& caller) {
               v1::WhoAmIResponse out;
               out.set_principal(caller.principal);
               out.set_authority(caller.authority);
               for (v1::Role r : caller.roles) out.add_roles(r);
               return absl::StatusOr<v1::WhoAmIResponse>(std::move(out));
             });
}

void DirectoryService::ListReservations(grpc::CallbackServerContext* ctx,
                                        const v1::ListReservationsRequest* req,
                                        v1::ListReservationsResponse* reply, UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.DirectoryService/ListReservations", *req, reply,
             call, [&](const workflow::Caller&) -> absl::StatusOr<v1::ListReservationsResponse> {
               if (!req->country().empty() && !workflow::IsCountryCode(req->country())) {
                 return workflow::InvalidField(
                     "country", "must be an ISO 3166-1 alpha-2 code such as DE", "COUNTRY_FORMAT");
               }
               if (!req->instrument().empty() && !workflow::IsProfileId(req->instrument())) {
                 return workflow::InvalidField(
                     "instrument", "must be a profile id such as budapest", "FILTER_VALUE");
               }
               v1::ListReservationsResponse out;
               for (const v1::Reservation& r : directory_->Reservations()) {
                 if ((req->country().empty() || r.country() == req->country()) &&
                     (req->instrument().empty() || r.instrument() == req->instrument())) {
                   *out.add_reservations() = r;
                 }
               }
               return out;
             });
}

void DirectoryService::SetReservation(grpc::CallbackServerContext* ctx,
                                      const v1::SetReservationRequest* req, v1::Reservation* reply,
                                      UnaryCall* call) {
  AnswerChange(
      ctx, *identifier_, *log_, kSetReservation, *req, call, *engine_,
      [req](workflow::Caller caller) {
        return workflow::MakeCommand(v1::SET_RESERVATION, std::move(caller), *req);
      },
      [reply, r = req->reservation()](const absl::StatusOr<v1::Request>& done) {
        if (done.ok()) *reply = r;
      });
}

void DirectoryService::ListPeers(grpc::CallbackServerContext* ctx, const v1::ListPeersRequest* req,
                                 v1::ListPeersResponse* reply, UnaryCall* call) {
  AnswerRead(ctx, *identifier_, *log_, "/comity.v1.DirectoryService/ListPeers", *req, reply, call,
             [&](const workflow::Caller& caller) -> absl::StatusOr<v1::ListPeersResponse> {
               if (absl::Status s = auth::AuthorizeDirectoryRead(caller); !s.ok()) return s;
               // The configured peers, and any a split view is still recorded against.
               std::set<std::string> nodes(peers_.begin(), peers_.end());
               const config::v1::DirectoryConfig config = directory_->Config();
               for (const v1::SplitView& v : config.split_views()) {
                 nodes.insert(v.node());
               }
               v1::ListPeersResponse out;
               for (const std::string& node : nodes) *out.add_peers() = PeerOf(*directory_, node);
               return out;
             });
}

void DirectoryService::ClearSplitView(grpc::CallbackServerContext* ctx,
                                      const v1::ClearSplitViewRequest* req, v1::Peer* reply,
                                      UnaryCall* call) {
  AnswerChange(
      ctx, *identifier_, *log_, kClearSplitView, *req, call, *engine_,
      [req](workflow::Caller caller) {
        return workflow::MakeKeyedCommand(v1::CLEAR_SPLIT_VIEW, std::move(caller), *req);
      },
      [this, reply, node = req->node()](const absl::StatusOr<v1::Request>& done) {
        if (done.ok()) *reply = PeerOf(*directory_, node);
      });
}

}  // namespace comity::rpc
