// Mutual TLS on a real loopback server with certificates made by the test.

#include <chrono>
#include <thread>

#include "comity/v1/directory.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "services/server/server.h"
#include "tests/testing/certs.h"
#include "tests/testing/fixtures.h"

namespace comity {
namespace {

using comity::testing::CertSpec;
using comity::testing::KeyAndCert;
using comity::testing::MakeCa;
using comity::testing::MakeLeaf;
using comity::testing::SourcePath;
using comity::testing::TempDir;
using comity::testing::WriteFile;

KeyAndCert ServerCert(const KeyAndCert& ca) {
  return MakeLeaf(ca, {"comityd", {"DNS:localhost", "IP:127.0.0.1"}});
}

KeyAndCert ClientCert(const KeyAndCert& ca, const std::string& principal) {
  return MakeLeaf(ca, {"client", {"URI:" + principal}});
}

class TlsTest : public ::testing::Test {
 protected:
  TlsTest() : ca_(MakeCa("Comity test CA")) {}

  void SetUp() override {
    KeyAndCert identity = ServerCert(ca_);
    WriteFile(Path("server.pem"), identity.cert_pem);
    WriteFile(Path("server.key"), identity.key_pem);
    WriteFile(Path("clients-ca.pem"), ca_.cert_pem);
    config_ = comity::testing::TestServerConfig(dir_.path() + "/data");
    config_.set_insecure_dev(false);
    config_.mutable_tls()->set_cert_file(Path("server.pem"));
    config_.mutable_tls()->set_key_file(Path("server.key"));
    config_.mutable_tls()->set_client_ca_file(Path("clients-ca.pem"));
    config_.mutable_tls()->set_refresh_seconds(1);
    auto server = server::Server::Start(config_, Clock::Real());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
  }

  std::string Path(const std::string& name) { return dir_.path() + "/" + name; }

  // WhoAmI over a fresh TLS connection that trusts `root` and presents `client` (if any).
  grpc::Status WhoAmI(const std::string& root, const KeyAndCert* client, v1::WhoAmIResponse* out,
                      const std::string& header = "") {
    grpc::SslCredentialsOptions options;
    options.pem_root_certs = root;
    if (client != nullptr) {
      options.pem_private_key = client->key_pem;
      options.pem_cert_chain = client->cert_pem;
    }
    grpc::ChannelArguments args;
    args.SetInt("comity.test.connection", ++connections_);  // never reuse a connection
    auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                             grpc::SslCredentials(options), args);
    auto stub = v1::DirectoryService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!header.empty()) ctx.AddMetadata("x-comity-principal", header);
    return stub->WhoAmI(&ctx, v1::WhoAmIRequest(), out);
  }

  TempDir dir_;
  KeyAndCert ca_;
  config::v1::ServerConfig config_;
  std::unique_ptr<server::Server> server_;
  int connections_ = 0;
};

TEST_F(TlsTest, ThePrincipalIsTheCertificatesSpiffeId) {
  KeyAndCert alice = ClientCert(ca_, comity::testing::kAlice);
  v1::WhoAmIResponse me;
  // The development header is ignored: only the certificate speaks for the caller.
  grpc::Status s = WhoAmI(ca_.cert_pem, &alice, &me, comity::testing::kGreta);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(me.principal(), comity::testing::kAlice);
  EXPECT_EQ(me.authority(), "authorities/FR-CA");
}

TEST_F(TlsTest, NoClientCertificateIsRefused) {
  v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(ca_.cert_pem, nullptr, &me).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ACertificateFromAnotherCaIsRefused) {
  KeyAndCert other = MakeCa("Another CA");
  KeyAndCert mallory = ClientCert(other, comity::testing::kAlice);
  v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(ca_.cert_pem, &mallory, &me).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, AnExpiredCertificateIsRefused) {
  CertSpec spec{"client", {std::string("URI:") + comity::testing::kAlice}, -7200, -3600};
  KeyAndCert expired = MakeLeaf(ca_, spec);
  v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(ca_.cert_pem, &expired, &me).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(TlsTest, ACertificateWithoutASpiffeIdIsUnauthenticated) {
  KeyAndCert nameless = MakeLeaf(ca_, {"client", {"DNS:client.example"}});
  v1::WhoAmIResponse me;
  grpc::Status s = WhoAmI(ca_.cert_pem, &nameless, &me);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED) << s.error_message();
}

TEST_F(TlsTest, APrincipalOutsideTheDirectoryIsDenied) {
  KeyAndCert stranger = ClientCert(ca_, "spiffe://comity.dev/FR-CA/stranger");
  v1::WhoAmIResponse me;
  EXPECT_EQ(WhoAmI(ca_.cert_pem, &stranger, &me).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(TlsTest, RotatedCertificatesAreUsedWithoutARestart) {
  KeyAndCert new_ca = MakeCa("Rotated CA");
  KeyAndCert alice_new = ClientCert(new_ca, comity::testing::kAlice);
  v1::WhoAmIResponse me;
  ASSERT_EQ(WhoAmI(new_ca.cert_pem, &alice_new, &me).error_code(), grpc::StatusCode::UNAVAILABLE);
  // Replace the server's certificate and the client CA bundle on disk.
  KeyAndCert server = ServerCert(new_ca);
  WriteFile(Path("server.key"), server.key_pem);
  WriteFile(Path("server.pem"), server.cert_pem);
  WriteFile(Path("clients-ca.pem"), new_ca.cert_pem);
  // The files are re-read every second; allow a few.
  grpc::Status s;
  for (int i = 0; i < 50; ++i) {
    s = WhoAmI(new_ca.cert_pem, &alice_new, &me);
    if (s.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(me.principal(), comity::testing::kAlice);
}

TEST(TlsConfigTest, WithoutTlsFilesTheServerRefusesToStart) {
  TempDir dir;
  config::v1::ServerConfig config = comity::testing::TestServerConfig(dir.path());
  config.set_insecure_dev(false);
  auto server = server::Server::Start(config, Clock::Real());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("tls.cert_file"), std::string::npos);
  config.mutable_tls()->set_cert_file(dir.path() + "/missing.pem");
  config.mutable_tls()->set_key_file(dir.path() + "/missing.key");
  config.mutable_tls()->set_client_ca_file(dir.path() + "/missing-ca.pem");
  server = server::Server::Start(config, Clock::Real());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(server.status().message().find("missing.pem"), std::string::npos);
}

}  // namespace
}  // namespace comity
