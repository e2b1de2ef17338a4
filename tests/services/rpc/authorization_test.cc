// The authorization matrix: every role, every RPC, on a request of the caller's own authority, of
// its counterpart, and of an unrelated authority, over real mutual-TLS connections. The expected
// status codes are written here from the rules, independently of services/auth.

#include <functional>
#include <map>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "comity/v1/evidence.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "common/sha256.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/server/server.h"
#include "services/workflow/action_table.h"
#include "services/workflow/timeutil.h"
#include "tests/testing/certs.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::KeyAndCert;
using comity::testing::TempDir;
using grpc::StatusCode;

constexpr const char* kAuthorities[] = {"AA", "BB", "CC"};  // requests go from AA to BB
constexpr const char* kRoles[] = {"submitter", "responder", "auditor", "admin", "overseer"};

std::string Principal(const std::string& authority, const std::string& role) {
  return absl::StrCat("spiffe://matrix.test/", authority, "/", role);
}

std::string Directory() {
  std::string out = "trust_domain: \"matrix.test\"\n";
  const std::map<std::string, std::string> role_enum = {{"submitter", "SUBMITTER"},
                                                        {"responder", "RESPONDER"},
                                                        {"auditor", "AUDITOR"},
                                                        {"admin", "ADMIN"},
                                                        {"overseer", "OVERSIGHT_AUDITOR"}};
  for (const char* a : kAuthorities) {
    absl::StrAppend(&out, "authorities { name: \"authorities/", a, "\" country: \"", a,
                    "\" languages: \"en\"\n");
    for (const char* r : kRoles) {
      absl::StrAppend(&out, "  members { principal: \"", Principal(a, r),
                      "\" roles: ", role_enum.at(r), " }\n");
    }
    absl::StrAppend(&out, "}\n");
  }
  return out;
}

enum class Kind { kCreate, kList, kRead, kRequesting, kReceiving, kEither };
enum class Relation { kOwn, kCounterpart, kUnrelated };

struct Rpc {
  const char* name;
  Kind kind;
  // Whether the call succeeds on a SUBMITTED request for the side allowed to make it.
  bool ok_when_submitted;
  std::function<grpc::Status(v1::RequestService::Stub&, v1::AuditService::Stub&,
                             grpc::ClientContext*, const std::string& name,
                             const std::string& caller_authority)>
      call;
};

// DirectoryService: the relation is to the authority whose entry is at stake (AA's).
struct DirectoryRpc {
  const char* name;
  bool admin_of_entry_only;  // false: any member may call it
  std::function<grpc::Status(v1::DirectoryService::Stub&, grpc::ClientContext*)> call;
};

template <typename Req>
Req Named(const std::string& name) {
  Req r;
  r.set_name(name);
  return r;
}

v1::Request Content(const std::string& to) {
  v1::Request r = comity::testing::FullRequest("uncc", v1::STORED_DATA_PRODUCTION);
  r.set_requested_authority(to);
  return r;
}

#define VERB(Method, Req, ...)                                                          \
  [later](v1::RequestService::Stub& s, v1::AuditService::Stub&, grpc::ClientContext* c, \
          const std::string& n, const std::string&) {                                   \
    (void)later;                                                                        \
    Req req = Named<Req>(n);                                                            \
    __VA_ARGS__;                                                                        \
    v1::Request out;                                                                    \
    return s.Method(c, req, &out);                                                      \
  }

std::vector<Rpc> Rpcs() {
  const auto later = workflow::ToProto(absl::Now() + absl::Hours(24 * 90));
  return {
      {"CreateRequest", Kind::kCreate, true,
       [](v1::RequestService::Stub& s, v1::AuditService::Stub&, grpc::ClientContext* c,
          const std::string&, const std::string& caller_authority) {
         v1::CreateRequestRequest req;
         *req.mutable_request() =
             Content(caller_authority == "authorities/BB" ? "authorities/AA" : "authorities/BB");
         v1::Request out;
         return s.CreateRequest(c, req, &out);
       }},
      {"ListRequests", Kind::kList, true,
       [](v1::RequestService::Stub& s, v1::AuditService::Stub&, grpc::ClientContext* c,
          const std::string&, const std::string&) {
         v1::ListRequestsResponse out;
         return s.ListRequests(c, v1::ListRequestsRequest(), &out);
       }},
      {"GetRequest", Kind::kRead, true,
       [](v1::RequestService::Stub& s, v1::AuditService::Stub&, grpc::ClientContext* c,
          const std::string& n, const std::string&) {
         v1::Request out;
         return s.GetRequest(c, Named<v1::GetRequestRequest>(n), &out);
       }},
      {"GetTrail", Kind::kRead, true,
       [](v1::RequestService::Stub&, v1::AuditService::Stub& a, grpc::ClientContext* c,
          const std::string& n, const std::string&) {
         v1::GetTrailRequest req;
         req.set_request(n);
         v1::Trail out;
         return a.GetTrail(c, req, &out);
       }},
      {"UpdateDraft", Kind::kRequesting, false,
       [](v1::RequestService::Stub& s, v1::AuditService::Stub&, grpc::ClientContext* c,
          const std::string& n, const std::string& caller_authority) {
         auto req = Named<v1::UpdateDraftRequest>(n);
         *req.mutable_request() =
             Content(caller_authority == "authorities/BB" ? "authorities/AA" : "authorities/BB");
         v1::Request out;
         return s.UpdateDraft(c, req, &out);
       }},
      {"SubmitRequest", Kind::kRequesting, false, VERB(SubmitRequest, v1::SubmitRequestRequest)},
      {"SupplementRequest", Kind::kRequesting, false,
       VERB(SupplementRequest, v1::SupplementRequestRequest, req.set_information("more"))},
      {"AcceptConditions", Kind::kRequesting, false,
       VERB(AcceptConditions, v1::AcceptConditionsRequest)},
      {"DeclineConditions", Kind::kRequesting, false,
       VERB(DeclineConditions, v1::DeclineConditionsRequest, req.set_reason("no"))},
      {"ConfirmReceipt", Kind::kRequesting, false, VERB(ConfirmReceipt, v1::ConfirmReceiptRequest)},
      {"ReleasePreservation", Kind::kRequesting, false,
       VERB(ReleasePreservation, v1::ReleasePreservationRequest)},
      {"WithdrawRequest", Kind::kRequesting, true,
       VERB(WithdrawRequest, v1::WithdrawRequestRequest, req.set_reason("no longer needed"))},
      {"AcknowledgeRequest", Kind::kReceiving, true,
       VERB(AcknowledgeRequest, v1::AcknowledgeRequestRequest)},
      {"RequestInformation", Kind::kReceiving, false,
       VERB(RequestInformation, v1::RequestInformationRequest, req.set_questions("which?"))},
      {"ConsultRequest", Kind::kReceiving, false,
       VERB(ConsultRequest, v1::ConsultRequestRequest,
            req.add_intended_grounds("ESSENTIAL_INTERESTS");
            req.set_reasons("r"))},
      {"ProposeConditions", Kind::kReceiving, false,
       VERB(ProposeConditions, v1::ProposeConditionsRequest, auto* cond = req.add_conditions();
            cond->set_kind(v1::USE_LIMITATION); cond->set_text("only this case"))},
      {"AcceptRequest", Kind::kReceiving, false, VERB(AcceptRequest, v1::AcceptRequestRequest)},
      {"PostponeRequest", Kind::kReceiving, false,
       VERB(PostponeRequest, v1::PostponeRequestRequest,
            req.set_ground("INTERFERES_WITH_INVESTIGATION");
            req.set_reasons("r"); *req.mutable_until_time() = later)},
      {"ResumeRequest", Kind::kReceiving, false, VERB(ResumeRequest, v1::ResumeRequestRequest)},
      {"RefuseRequest", Kind::kReceiving, false,
       VERB(RefuseRequest, v1::RefuseRequestRequest, req.add_grounds("ESSENTIAL_INTERESTS");
            req.set_reasons("r"))},
      {"DeliverEvidence", Kind::kReceiving, false,
       VERB(DeliverEvidence, v1::DeliverEvidenceRequest,
            auto* item = req.mutable_delivery()->add_items();
            item->set_name("x"); item->set_sha256(ToHex(Sha256("x")));
            item->set_category(v1::TRAFFIC))},
      {"ConfirmPreserved", Kind::kReceiving, false,
       VERB(ConfirmPreserved, v1::ConfirmPreservedRequest, *req.mutable_expire_time() = later)},
      {"ExtendPreservation", Kind::kEither, false,
       VERB(ExtendPreservation, v1::ExtendPreservationRequest, *req.mutable_expire_time() = later)},
      {"AddNote", Kind::kEither, true,
       VERB(AddNote, v1::AddNoteRequest, req.set_kind(v1::COMMENT); req.set_text("hello"))},
  };
}

std::vector<DirectoryRpc> DirectoryRpcs() {
  return {
      {"GetAuthority", false,
       [](v1::DirectoryService::Stub& d, grpc::ClientContext* c) {
         v1::GetAuthorityRequest req;
         req.set_name("authorities/AA");
         v1::Authority out;
         return d.GetAuthority(c, req, &out);
       }},
      {"ListAuthorities", false,
       [](v1::DirectoryService::Stub& d, grpc::ClientContext* c) {
         v1::ListAuthoritiesResponse out;
         return d.ListAuthorities(c, v1::ListAuthoritiesRequest(), &out);
       }},
      {"WhoAmI", false,
       [](v1::DirectoryService::Stub& d, grpc::ClientContext* c) {
         v1::WhoAmIResponse out;
         return d.WhoAmI(c, v1::WhoAmIRequest(), &out);
       }},
      {"UpsertAuthority", true,
       [](v1::DirectoryService::Stub& d, grpc::ClientContext* c) {
         v1::UpsertAuthorityRequest req;
         req.mutable_authority()->set_name("authorities/AA");
         req.mutable_authority()->set_country("AA");
         req.mutable_authority()->add_languages("en");
         for (const char* r : kRoles) {
           static const std::map<std::string, v1::Role> roles = {
               {"submitter", v1::SUBMITTER},
               {"responder", v1::RESPONDER},
               {"auditor", v1::AUDITOR},
               {"admin", v1::ADMIN},
               {"overseer", v1::OVERSIGHT_AUDITOR}};
           auto* m = req.mutable_authority()->add_members();
           m->set_principal(Principal("AA", r));
           m->add_roles(roles.at(r));
         }
         v1::Authority out;
         return d.UpsertAuthority(c, req, &out);
       }},
  };
}

// EvidenceService, on a request in execution that holds one package (requests/X/packages/1, one
// item "a.bin" of kItem, nothing uploaded yet).
const std::string kItem = "evidence bytes";
enum class EvidenceKind { kRead, kReceiving, kEither, kDownload };
struct EvidenceRpc {
  const char* name;
  EvidenceKind kind;
  StatusCode requesting;  // for the requesting side's submitter, when its side may call it
  StatusCode receiving;   // for the receiving side's responder
  std::function<grpc::Status(v1::EvidenceService::Stub&, grpc::ClientContext*,
                             const std::string& request)>
      call;
};

std::vector<EvidenceRpc> EvidenceRpcs() {
  auto package = [](const std::string& request) { return request + "/packages/1"; };
  return {
      {"CreatePackage", EvidenceKind::kReceiving, StatusCode::OK, StatusCode::OK,
       [](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         v1::CreatePackageRequest req;
         req.set_parent(request);
         v1::PackageItem* item = req.add_items();
         item->set_name("b.bin");
         item->set_category(v1::CONTENT);
         item->set_size_bytes(1);
         item->set_sha256(ToHex(Sha256("b")));
         v1::EvidencePackage out;
         return e.CreatePackage(c, req, &out);
       }},
      {"ListPackages", EvidenceKind::kRead, StatusCode::OK, StatusCode::OK,
       [](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         v1::ListPackagesRequest req;
         req.set_parent(request);
         v1::ListPackagesResponse out;
         return e.ListPackages(c, req, &out);
       }},
      {"GetPackage", EvidenceKind::kRead, StatusCode::OK, StatusCode::OK,
       [package](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         v1::GetPackageRequest req;
         req.set_name(package(request));
         v1::EvidencePackage out;
         return e.GetPackage(c, req, &out);
       }},
      {"GetUploadStatus", EvidenceKind::kRead, StatusCode::OK, StatusCode::OK,
       [package](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         v1::GetPackageRequest req;
         req.set_name(package(request));
         v1::UploadStatus out;
         return e.GetUploadStatus(c, req, &out);
       }},
      {"Upload", EvidenceKind::kReceiving, StatusCode::OK, StatusCode::OK,
       [package](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         auto stream = e.Upload(c);
         v1::UploadChunk chunk;
         chunk.set_package(package(request));
         chunk.set_item("a.bin");
         chunk.set_data(kItem);
         chunk.set_sha256(ToHex(Sha256(kItem)));
         stream->Write(chunk);
         stream->WritesDone();
         v1::UploadAck ack;
         while (stream->Read(&ack)) {
         }
         return stream->Finish();
       }},
      {"Download", EvidenceKind::kDownload, StatusCode::FAILED_PRECONDITION,
       StatusCode::PERMISSION_DENIED,
       [package](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         v1::DownloadRequest req;
         req.set_name(package(request));
         req.set_item("a.bin");
         auto reader = e.Download(c, req);
         v1::DownloadChunk chunk;
         while (reader->Read(&chunk)) {
         }
         return reader->Finish();
       }},
      // Not delivered: the receiving side may erase it, the requesting side not yet.
      {"ErasePackage", EvidenceKind::kEither, StatusCode::FAILED_PRECONDITION, StatusCode::OK,
       [package](v1::EvidenceService::Stub& e, grpc::ClientContext* c, const std::string& request) {
         v1::ErasePackageRequest req;
         req.set_name(package(request));
         req.set_reasons("wrong request");
         v1::EvidencePackage out;
         return e.ErasePackage(c, req, &out);
       }},
  };
}

// The rules for evidence: visibility first, as for every request; reads for every reading role;
// uploads and package changes for the side's acting role; downloads for the requesting side's
// readers.
StatusCode EvidenceExpected(const EvidenceRpc& rpc, const std::string& role, Relation relation) {
  const bool reader = role != "admin";
  if (relation == Relation::kUnrelated && role != "overseer") return StatusCode::NOT_FOUND;
  if (rpc.kind == EvidenceKind::kRead)
    return reader ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
  if (rpc.kind == EvidenceKind::kDownload) {
    if (!reader || relation != Relation::kOwn) return StatusCode::PERMISSION_DENIED;
    return rpc.requesting;
  }
  const bool actor = role == "submitter" || role == "responder";
  if (!actor) return StatusCode::PERMISSION_DENIED;
  const bool requesting = relation == Relation::kOwn;
  if (role != (requesting ? "submitter" : "responder")) return StatusCode::PERMISSION_DENIED;
  if (requesting && rpc.kind != EvidenceKind::kEither) return StatusCode::PERMISSION_DENIED;
  return requesting ? rpc.requesting : rpc.receiving;
}

// The rules, as the issue states them.
StatusCode Expected(const Rpc& rpc, const std::string& role, Relation relation) {
  const bool reader = role != "admin";
  const bool actor = role == "submitter" || role == "responder";
  switch (rpc.kind) {
    case Kind::kCreate:
      return role == "submitter" ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
    case Kind::kList:
      return reader ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
    default:
      break;
  }
  // Visibility comes before roles: a request the caller may not see does not exist for it.
  if (relation == Relation::kUnrelated && role != "overseer") return StatusCode::NOT_FOUND;
  if (rpc.kind == Kind::kRead) return reader ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
  if (!actor) return StatusCode::PERMISSION_DENIED;
  const bool requesting = relation == Relation::kOwn;
  if (role != (requesting ? "submitter" : "responder")) return StatusCode::PERMISSION_DENIED;
  const bool side_may = rpc.kind == Kind::kEither ||
                        (requesting ? rpc.kind == Kind::kRequesting : rpc.kind == Kind::kReceiving);
  if (!side_may) return StatusCode::PERMISSION_DENIED;
  return rpc.ok_when_submitted ? StatusCode::OK : StatusCode::FAILED_PRECONDITION;
}

class AuthorizationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = comity::testing::MakeCa("matrix CA");
    const KeyAndCert server =
        comity::testing::MakeLeaf(ca_, {"comityd", {"DNS:localhost", "IP:127.0.0.1"}});
    comity::testing::WriteFile(Path("server.pem"), server.cert_pem);
    comity::testing::WriteFile(Path("server.key"), server.key_pem);
    comity::testing::WriteFile(Path("ca.pem"), ca_.cert_pem);
    comity::testing::WriteFile(Path("directory.textproto"), Directory());
    config::v1::ServerConfig config = comity::testing::TestServerConfig(Path("data"));
    config.set_insecure_dev(false);
    config.set_directory_file(Path("directory.textproto"));
    config.mutable_tls()->set_cert_file(Path("server.pem"));
    config.mutable_tls()->set_key_file(Path("server.key"));
    config.mutable_tls()->set_client_ca_file(Path("ca.pem"));
    auto s = server::Server::Start(config, Clock::Real(), {"", &security_log_, nullptr, nullptr});
    ASSERT_TRUE(s.ok()) << s.status();
    server_ = *std::move(s);
    for (const char* a : kAuthorities) {
      for (const char* r : kRoles) {
        const KeyAndCert cert = comity::testing::MakeLeaf(ca_, {r, {"URI:" + Principal(a, r)}});
        grpc::SslCredentialsOptions options;
        options.pem_root_certs = ca_.cert_pem;
        options.pem_private_key = cert.key_pem;
        options.pem_cert_chain = cert.cert_pem;
        auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                           grpc::SslCredentials(options));
        requests_[Principal(a, r)] = v1::RequestService::NewStub(channel);
        evidence_[Principal(a, r)] = v1::EvidenceService::NewStub(channel);
        directory_[Principal(a, r)] = v1::DirectoryService::NewStub(channel);
        audit_[Principal(a, r)] = v1::AuditService::NewStub(channel);
      }
    }
  }

  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }

  // A fresh request from AA to BB, accepted by BB, holding package 1 (item a.bin, kItem).
  std::string WithPackage() {
    const std::string name = Submitted();
    auto& stub = *requests_[Principal("BB", "responder")];
    v1::Request out;
    grpc::ClientContext c1, c2, c3;
    EXPECT_TRUE(
        stub.AcknowledgeRequest(&c1, Named<v1::AcknowledgeRequestRequest>(name), &out).ok());
    EXPECT_TRUE(stub.AcceptRequest(&c2, Named<v1::AcceptRequestRequest>(name), &out).ok());
    v1::CreatePackageRequest create;
    create.set_parent(name);
    v1::PackageItem* item = create.add_items();
    item->set_name("a.bin");
    item->set_category(v1::CONTENT);
    item->set_size_bytes(static_cast<int64_t>(kItem.size()));
    item->set_sha256(ToHex(Sha256(kItem)));
    v1::EvidencePackage package;
    EXPECT_TRUE(evidence_[Principal("BB", "responder")]->CreatePackage(&c3, create, &package).ok());
    return name;
  }

  // A fresh request from AA to BB, submitted.
  std::string Submitted() {
    auto& stub = *requests_[Principal("AA", "submitter")];
    v1::CreateRequestRequest create;
    *create.mutable_request() = Content("authorities/BB");
    v1::Request r;
    grpc::ClientContext c1, c2;
    EXPECT_TRUE(stub.CreateRequest(&c1, create, &r).ok());
    v1::Request out;
    EXPECT_TRUE(stub.SubmitRequest(&c2, Named<v1::SubmitRequestRequest>(r.name()), &out).ok());
    return r.name();
  }

  TempDir dir_;
  KeyAndCert ca_;
  std::ostringstream security_log_;
  std::unique_ptr<server::Server> server_;
  std::map<std::string, std::unique_ptr<v1::RequestService::Stub>> requests_;
  std::map<std::string, std::unique_ptr<v1::AuditService::Stub>> audit_;
  std::map<std::string, std::unique_ptr<v1::DirectoryService::Stub>> directory_;
  std::map<std::string, std::unique_ptr<v1::EvidenceService::Stub>> evidence_;
};

// The rules above are written independently of the server; here they are held against its one
// action table: every action the table serves is exercised, with the sides the table gives it.
TEST(AuthorizationRulesTest, CoverEveryActionOfTheTableWithItsSides) {
  std::map<std::string, Kind> kinds;
  int changes = 0;
  for (const Rpc& rpc : Rpcs()) {
    kinds[rpc.name] = rpc.kind;
    if (rpc.kind != Kind::kList && rpc.kind != Kind::kRead) ++changes;
  }
  std::map<std::string, EvidenceKind> evidence_kinds;
  for (const EvidenceRpc& rpc : EvidenceRpcs()) {
    evidence_kinds[rpc.name] = rpc.kind;
    // Upload moves bytes; the change it leads to (UPLOAD_ITEM) is the node's, not a table row.
    if ((rpc.kind == EvidenceKind::kReceiving || rpc.kind == EvidenceKind::kEither) &&
        std::string(rpc.name) != "Upload") {
      ++changes;
    }
  }
  int rows = 0;
  for (const workflow::ActionRow& row : workflow::ActionTable()) {
    ++rows;
    if (row.service == "comity.v1.EvidenceService") {
      auto it = evidence_kinds.find(row.method);
      ASSERT_NE(it, evidence_kinds.end()) << row.method << " is served but not exercised here";
      const EvidenceKind want =
          row.requesting && row.receiving ? EvidenceKind::kEither : EvidenceKind::kReceiving;
      EXPECT_EQ(static_cast<int>(it->second), static_cast<int>(want)) << row.method;
      continue;
    }
    auto it = kinds.find(row.method);
    ASSERT_NE(it, kinds.end()) << row.method << " is served but not exercised here";
    const Kind want = row.action == v1::CREATE          ? Kind::kCreate
                      : row.requesting && row.receiving ? Kind::kEither
                      : row.requesting                  ? Kind::kRequesting
                                                        : Kind::kReceiving;
    EXPECT_EQ(static_cast<int>(it->second), static_cast<int>(want)) << row.method;
  }
  EXPECT_EQ(changes, rows);
}

TEST_F(AuthorizationTest, EveryRoleEveryRpcEveryRelation) {
  const std::map<std::string, Relation> relation_of = {
      {"AA", Relation::kOwn}, {"BB", Relation::kCounterpart}, {"CC", Relation::kUnrelated}};
  int cells = 0, denied = 0, hidden = 0;
  for (const Rpc& rpc : Rpcs()) {
    for (const char* a : kAuthorities) {
      for (const char* role : kRoles) {
        const std::string principal = Principal(a, role);
        const std::string name = Submitted();
        grpc::ClientContext ctx;
        grpc::Status s = rpc.call(*requests_[principal], *audit_[principal], &ctx, name,
                                  absl::StrCat("authorities/", a));
        const StatusCode want = Expected(rpc, role, relation_of.at(a));
        denied += want == StatusCode::PERMISSION_DENIED;
        hidden += want == StatusCode::NOT_FOUND;
        EXPECT_EQ(s.error_code(), want)
            << rpc.name << " by " << principal << ": " << s.error_message();
        ++cells;
      }
    }
  }
  for (const EvidenceRpc& rpc : EvidenceRpcs()) {
    for (const char* a : kAuthorities) {
      for (const char* role : kRoles) {
        const std::string principal = Principal(a, role);
        const std::string name = WithPackage();
        grpc::ClientContext ctx;
        grpc::Status s = rpc.call(*evidence_[principal], &ctx, name);
        const StatusCode want = EvidenceExpected(rpc, role, relation_of.at(a));
        denied += want == StatusCode::PERMISSION_DENIED;
        hidden += want == StatusCode::NOT_FOUND;
        EXPECT_EQ(s.error_code(), want)
            << rpc.name << " by " << principal << ": " << s.error_message();
        ++cells;
      }
    }
  }
  // DirectoryService: members read it; only an admin of an authority changes its entry.
  for (const DirectoryRpc& rpc : DirectoryRpcs()) {
    for (const char* a : kAuthorities) {
      for (const char* role : kRoles) {
        const std::string principal = Principal(a, role);
        grpc::ClientContext ctx;
        grpc::Status s = rpc.call(*directory_[principal], &ctx);
        const bool allowed =
            !rpc.admin_of_entry_only || (std::string(role) == "admin" && std::string(a) == "AA");
        const StatusCode want = allowed ? StatusCode::OK : StatusCode::PERMISSION_DENIED;
        denied += want == StatusCode::PERMISSION_DENIED;
        EXPECT_EQ(s.error_code(), want)
            << rpc.name << " by " << principal << ": " << s.error_message();
        ++cells;
      }
    }
  }
  EXPECT_EQ(cells, (24 + 7 + 4) * 3 * 5);
  // Every refusal is counted and written to the security log, without case contents.
  EXPECT_EQ(server_->security_log().permission_denied(), denied);
  EXPECT_EQ(server_->security_log().not_found(), hidden);
  const std::string log = security_log_.str();
  EXPECT_NE(log.find("event=denied principal=\"spiffe://matrix.test/CC/submitter\" "
                     "method=\"/comity.v1.RequestService/GetRequest\" code=NOT_FOUND"),
            std::string::npos);
  EXPECT_NE(log.find("principal=\"spiffe://matrix.test/AA/admin\" "
                     "method=\"/comity.v1.RequestService/CreateRequest\" code=PERMISSION_DENIED"),
            std::string::npos);
  EXPECT_EQ(log.find("ransom"), std::string::npos);  // from the case's summary of facts
}

// A request of another authority and a request that does not exist answer alike, byte for byte
// (the name the caller sent aside), whatever the caller's roles.
TEST_F(AuthorizationTest, HiddenRequestAnswersLikeAMissingOne) {
  const std::string hidden = Submitted();
  const std::string missing = "requests/01ARZ3NDEKTSV4RRFFQ69G5FAV";
  int compared = 0;
  for (const Rpc& rpc : Rpcs()) {
    if (rpc.kind == Kind::kCreate || rpc.kind == Kind::kList) continue;
    for (const char* role : kRoles) {
      if (std::string(role) == "overseer") continue;  // it sees every submitted request
      const std::string principal = Principal("CC", role);
      grpc::ClientContext c1, c2;
      const grpc::Status a =
          rpc.call(*requests_[principal], *audit_[principal], &c1, hidden, "authorities/CC");
      const grpc::Status b =
          rpc.call(*requests_[principal], *audit_[principal], &c2, missing, "authorities/CC");
      EXPECT_EQ(a.error_code(), StatusCode::NOT_FOUND) << rpc.name << " by " << principal;
      EXPECT_EQ(b.error_code(), StatusCode::NOT_FOUND) << rpc.name << " by " << principal;
      std::string message = a.error_message();
      const size_t at = message.find(hidden);
      ASSERT_NE(at, std::string::npos) << rpc.name << ": " << message;
      message.replace(at, hidden.size(), missing);
      EXPECT_EQ(message, b.error_message()) << rpc.name << " by " << principal;
      EXPECT_EQ(a.error_details(), b.error_details()) << rpc.name << " by " << principal;
      ++compared;
    }
  }
  EXPECT_EQ(compared, 22 * 4);
}

}  // namespace
}  // namespace comity
