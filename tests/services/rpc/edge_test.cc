// What reaches the node from outside is checked at the edge: unknown fields and enum values,
// filters, names, oversized records and echoed input, duplicated principals. A real gRPC server
// on a loopback port, a real RocksDB in a temporary directory.

#include <algorithm>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "comity/v1/audit.grpc.pb.h"
#include "comity/v1/directory.grpc.pb.h"
#include "comity/v1/requests.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/unknown_field_set.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/generic/generic_stub.h"
#include "gtest/gtest.h"
#include "services/server/server.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::FullRequest;
using comity::testing::kAlice;
using comity::testing::kOdile;
using grpc::StatusCode;

constexpr char kAdmin[] = "spiffe://comity.dev/FR-CA/admin";
constexpr char kBinh[] = "spiffe://comity.dev/VN-247/binh";

// The fields a refusal names in its BadRequest details.
std::vector<std::string> Violations(const grpc::Status& s) {
  std::vector<std::string> out;
  google::rpc::Status details;
  if (!details.ParseFromString(s.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (!any.UnpackTo(&bad)) continue;
    for (const auto& v : bad.field_violations()) out.push_back(v.field());
  }
  return out;
}

class EdgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = server::Server::Start(comity::testing::TestServerConfig(dir_.path()),
                                        Clock::Real(), {"", &security_log_, nullptr, nullptr});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                       grpc::InsecureChannelCredentials());
    requests_ = v1::RequestService::NewStub(channel);
    audit_ = v1::AuditService::NewStub(channel);
    directory_ = v1::DirectoryService::NewStub(channel);
    channel_ = channel;
  }

  // Sends `body` as it is to `method` ("/comity.v1.X/Y"), unary or streaming, and returns the
  // call's status.
  grpc::Status CallRaw(const std::string& method, const std::string& body) {
    grpc::CompletionQueue cq;
    grpc::GenericStub stub(channel_);
    std::unique_ptr<grpc::ClientContext> ctx = As(kAlice);
    void* tag = nullptr;
    bool ok = false;
    auto call = stub.PrepareCall(ctx.get(), method, &cq);
    call->StartCall(reinterpret_cast<void*>(1));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    grpc::Slice slice(body);
    grpc::ByteBuffer request(&slice, 1);
    call->WriteLast(request, grpc::WriteOptions(), reinterpret_cast<void*>(2));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    grpc::ByteBuffer reply;
    call->Read(&reply, reinterpret_cast<void*>(3));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    grpc::Status status;
    call->Finish(&status, reinterpret_cast<void*>(4));
    EXPECT_TRUE(cq.Next(&tag, &ok));
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
    return status;
  }

  std::unique_ptr<grpc::ClientContext> As(const std::string& principal) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->AddMetadata("x-comity-principal", principal);
    return ctx;
  }

  grpc::Status List(const v1::ListRequestsRequest& q) {
    v1::ListRequestsResponse out;
    return requests_->ListRequests(As(kAlice).get(), q, &out);
  }

  std::string Create() {
    v1::CreateRequestRequest create;
    *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
    v1::Request out;
    EXPECT_TRUE(requests_->CreateRequest(As(kAlice).get(), create, &out).ok());
    return out.name();
  }

  comity::testing::TempDir dir_;
  std::ostringstream security_log_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<v1::RequestService::Stub> requests_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(EdgeTest, UnknownFieldsAreRefusedNamingTheirNumber) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  v1::Request* body = create.mutable_request();
  body->GetReflection()->MutableUnknownFields(body)->AddLengthDelimited(4242,
                                                                        std::string(3 << 20, 'x'));
  v1::Request out;
  const grpc::Status s = requests_->CreateRequest(As(kAlice).get(), create, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("field number 4242"), std::string::npos) << s.error_message();
  EXPECT_EQ(Violations(s), std::vector<std::string>{"request.<field 4242>"});
  EXPECT_LT(s.error_message().size(), 300u);
  // Nothing was stored.
  v1::ListRequestsResponse list;
  ASSERT_TRUE(requests_->ListRequests(As(kAlice).get(), {}, &list).ok());
  EXPECT_EQ(list.requests_size(), 0);
  // Reads are checked the same way.
  v1::GetRequestRequest get;
  get.GetReflection()->MutableUnknownFields(&get)->AddVarint(99, 1);
  EXPECT_EQ(requests_->GetRequest(As(kAlice).get(), get, &out).error_code(),
            StatusCode::INVALID_ARGUMENT);
}

TEST_F(EdgeTest, ARecordOverItsSizeLimitIsRefused) {
  v1::CreateRequestRequest create;
  *create.mutable_request() = FullRequest("uncc", v1::PRESERVATION);
  auto* limits = create.mutable_request()->mutable_confidentiality()->mutable_use_limitations();
  for (int i = 0; i < 100; ++i) *limits->Add() = std::string(32768, 'a');
  v1::Request out;
  const grpc::Status s = requests_->CreateRequest(As(kAlice).get(), create, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find("over the limit of 1048576"), std::string::npos)
      << s.error_message();
  v1::ListRequestsResponse list;
  ASSERT_TRUE(requests_->ListRequests(As(kAlice).get(), {}, &list).ok());
  EXPECT_EQ(list.requests_size(), 0);
}

TEST_F(EdgeTest, UnknownEnumValuesAreRefusedInEveryInput) {
  v1::UpsertAuthorityRequest upsert;
  v1::Authority* a = upsert.mutable_authority();
  a->set_name("authorities/FR-CA");
  a->set_country("FR");
  a->add_languages("fr");
  a->set_kind(static_cast<v1::AuthorityKind>(99));
  auto* m = a->add_members();
  m->set_principal(kAdmin);
  m->add_roles(v1::ADMIN);
  m->add_roles(static_cast<v1::Role>(77));
  v1::Authority out;
  const grpc::Status s = directory_->UpsertAuthority(As(kAdmin).get(), upsert, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Violations(s),
            (std::vector<std::string>{"authority.kind", "authority.members[0].roles[1]"}));
  v1::GetAuthorityRequest get;
  get.set_name("authorities/FR-CA");
  ASSERT_TRUE(directory_->GetAuthority(As(kAdmin).get(), get, &out).ok());
  EXPECT_NE(out.kind(), 99);
}

TEST_F(EdgeTest, FiltersAreChecked) {
  struct Case {
    const char* field;
    std::function<void(v1::ListRequestsRequest&)> set;
  };
  const std::vector<Case> cases = {
      {"state", [](auto& q) { q.set_state(static_cast<v1::State>(99)); }},
      {"state", [](auto& q) { q.set_state(static_cast<v1::State>(-1)); }},
      {"type", [](auto& q) { q.set_type(static_cast<v1::RequestType>(99)); }},
      {"priority", [](auto& q) { q.set_priority(static_cast<v1::Priority>(-1)); }},
      {"side", [](auto& q) { q.set_side(static_cast<v1::Side>(99)); }},
      {"side", [](auto& q) { q.set_side(v1::SYSTEM); }},
      {"counterpart", [](auto& q) { q.set_counterpart("requests/../x"); }},
      {"counterpart", [](auto& q) { q.set_counterpart(std::string(64 << 10, 'A')); }},
      {"instrument", [](auto& q) { q.set_instrument("../uncc"); }},
      {"page_size", [](auto& q) { q.set_page_size(5000); }},
      {"page_size", [](auto& q) { q.set_page_size(-1); }},
  };
  for (const Case& c : cases) {
    v1::ListRequestsRequest q;
    c.set(q);
    const grpc::Status s = List(q);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << c.field;
    EXPECT_EQ(Violations(s), std::vector<std::string>{c.field}) << s.error_message();
    EXPECT_LT(s.error_message().size(), 400u);
  }
  v1::ListRequestsRequest fine;
  fine.set_page_size(1000);
  fine.set_counterpart("authorities/DE-BFJ");
  EXPECT_TRUE(List(fine).ok());
  v1::GetStatisticsRequest stats;
  stats.set_side(static_cast<v1::Side>(99));
  v1::Statistics out;
  const grpc::Status s = audit_->GetStatistics(As(kOdile).get(), stats, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Violations(s), std::vector<std::string>{"side"});
}

TEST_F(EdgeTest, NamesAreCheckedAndTheSecurityLogCannotBeForged) {
  v1::GetAuthorityRequest get;
  get.set_name(
      std::string("authorities/X\n2026-01-01T00:00:00.000Z comityd level=warn "
                  "event=denied principal=x method=y code=OK\0",
                  90));
  v1::Authority out;
  grpc::Status s = directory_->GetAuthority(As(kAlice).get(), get, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Violations(s), std::vector<std::string>{"name"});
  EXPECT_EQ(s.error_message().find('\n'), std::string::npos);
  // A name of the right form that is not there is NOT_FOUND, on one log line.
  get.set_name("authorities/ZZ-NONE");
  s = directory_->GetAuthority(As(kAlice).get(), get, &out);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND);
  const std::string log = security_log_.str();
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 1) << log;
  EXPECT_EQ(log.find("code=OK"), std::string::npos);
  EXPECT_EQ(log.find('\0'), std::string::npos);
  EXPECT_NE(log.find("principal=\"spiffe://comity.dev/FR-CA/alice\" "
                     "method=\"/comity.v1.DirectoryService/GetAuthority\" code=NOT_FOUND "
                     "reason=\"authorities/ZZ-NONE not found\""),
            std::string::npos)
      << log;
}

TEST_F(EdgeTest, EchoedInputIsBounded) {
  const std::string huge(1 << 20, 'Q');
  v1::UpsertAuthorityRequest upsert;
  upsert.mutable_authority()->set_name("authorities/FR-CA");
  upsert.mutable_authority()->set_country("FR");
  upsert.mutable_authority()->add_languages("fr");
  upsert.mutable_authority()->add_members()->set_principal(huge);
  v1::Authority out;
  grpc::Status s = directory_->UpsertAuthority(As(kAdmin).get(), upsert, &out);
  EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(s.error_message().size(), 400u) << s.error_message().size();
  EXPECT_NE(s.error_message().find("QQQ..."), std::string::npos);
  // A stale etag is echoed bounded too.
  v1::AddNoteRequest note;
  note.set_name(Create());
  note.set_kind(v1::COMMENT);
  note.set_text("x");
  note.set_etag(std::string(60, 'E'));
  v1::Request r;
  s = requests_->AddNote(As(kAlice).get(), note, &r);
  EXPECT_EQ(s.error_code(), StatusCode::ABORTED);
  EXPECT_LT(s.error_message().size(), 300u);
}

TEST_F(EdgeTest, TwoPrincipalHeadersAreRefused) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-comity-principal", kBinh);
  ctx.AddMetadata("x-comity-principal", kAlice);
  v1::ListRequestsResponse out;
  const grpc::Status s = requests_->ListRequests(&ctx, {}, &out);
  EXPECT_EQ(s.error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_NE(s.error_message().find("more than one"), std::string::npos) << s.error_message();
}

TEST_F(EdgeTest, ExportTrailChecksTheCallerBeforeTheNodesKey) {
  // This node has no log key, so no bundle can be signed; only a reader of the trail hears so.
  const std::string name = Create();
  v1::GetTrailRequest req;
  req.set_request(name);
  v1::TrailBundle bundle;
  grpc::Status s = audit_->ExportTrail(As(kBinh).get(), req, &bundle);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND) << s.error_message();
  s = audit_->ExportTrail(As(kOdile).get(), req, &bundle);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION) << s.error_message();
}

// A body that is not the wire format of the method's request, or that carries invalid UTF-8 in a
// string field, is INVALID_ARGUMENT saying it could not be parsed, on every method of every
// service (gRPC would answer UNIMPLEMENTED with no message).
TEST_F(EdgeTest, AnUnparsableBodyIsInvalidArgumentOnEveryMethod) {
  const google::protobuf::DescriptorPool* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* service :
       {"comity.v1.RequestService", "comity.v1.AuditService", "comity.v1.DirectoryService"}) {
    const google::protobuf::ServiceDescriptor* sd = pool->FindServiceByName(service);
    ASSERT_NE(sd, nullptr) << service;
    for (int i = 0; i < sd->method_count(); ++i) {
      const google::protobuf::MethodDescriptor* m = sd->method(i);
      const std::string path = absl::StrCat("/", service, "/", m->name());
      std::vector<std::string> bodies = {
          std::string("\xff\xff\xff\xff\xff", 5),  // field 0x1fffffff.. of wire type 7
          std::string("\x0a\x7f"
                      "ab",
                      4),  // a length past the end
      };
      // Invalid UTF-8 in the request's first string field.
      for (int f = 0; f < m->input_type()->field_count(); ++f) {
        const google::protobuf::FieldDescriptor* field = m->input_type()->field(f);
        if (field->type() != google::protobuf::FieldDescriptor::TYPE_STRING) continue;
        ASSERT_LT(field->number(), 16);
        bodies.push_back(
            std::string({static_cast<char>(field->number() << 3 | 2), 2, '\xc3', '\x28'}));
        break;
      }
      for (const std::string& body : bodies) {
        const grpc::Status s = CallRaw(path, body);
        EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT)
            << path << ": " << s.error_message();
        EXPECT_EQ(
            s.error_message(),
            absl::StrCat("the request body could not be parsed as ", m->input_type()->full_name(),
                         ": it is not the protobuf wire format of that message, or a string "
                         "field is not valid UTF-8"))
            << path;
      }
      ++methods;
    }
  }
  EXPECT_EQ(methods, 37);
  // Nothing was stored, and a well-formed body is served as before.
  v1::ListRequestsResponse list;
  ASSERT_TRUE(requests_->ListRequests(As(kAlice).get(), {}, &list).ok());
  EXPECT_EQ(list.requests_size(), 0);
}

}  // namespace
}  // namespace comity
