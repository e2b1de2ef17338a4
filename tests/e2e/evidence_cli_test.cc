// Evidence through the real comityd and the comity CLI, as a user runs them: an upload cut short,
// comityd killed with kill -9 and restarted, the upload run again resuming where the node's durable
// offset stands; delivery by package; a download that resumes a partial file and catches a damaged
// one; nothing of the files in the clear in the data directory.
//
// The interruptions are made exactly rather than by racing a kill against a transfer: the upload
// is cut after one acknowledged chunk by a client that drops its stream, and the download resumes
// from a partial file of the length a killed download leaves.
#include <stdio.h>
#include <sys/wait.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "comity/v1/evidence.grpc.pb.h"
#include "common/sha256.h"
#include "gmock/gmock.h"
#include "grpcpp/create_channel.h"
#include "gtest/gtest.h"
#include "tests/testing/daemon.h"
#include "tests/testing/fixtures.h"
#include "tests/testing/shell.h"

namespace comity {
namespace {

using comity::testing::Comity;
using comity::testing::Daemon;
using comity::testing::Outcome;
using comity::testing::Shell;
using comity::testing::SourcePath;
using comity::testing::TempDir;
using ::testing::HasSubstr;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

TEST(EvidenceCliTest, UploadSurvivesKill9AndResumesDownloadResumesAndVerifies) {
  TempDir data;
  TempDir files;
  auto daemon = std::make_unique<Daemon>(data.path());
  ASSERT_GT(daemon->port(), 0);
  int port = daemon->port();

  const Outcome submit =
      Comity(port, comity::testing::kAlice,
             "--id request submit -f " +
                 SourcePath("deploy/dev/requests/traffic-data-disclosure.textproto"));
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string id(absl::StripAsciiWhitespace(submit.out));
  ASSERT_EQ(Comity(port, comity::testing::kGreta, "request acknowledge " + id).code, 0);
  const Outcome accept = Comity(port, comity::testing::kGreta, "request accept " + id);
  ASSERT_EQ(accept.code, 0) << accept.out;

  std::string big = "CLI-EVIDENCE-MARKER ";
  while (big.size() < (9u << 20) + 4321) big += absl::StrCat(big.size() % 9973, ",");
  const std::string big_path = files.path() + "/records.csv";
  const std::string small_path = files.path() + "/notes.txt";
  WriteFile(big_path, big);
  WriteFile(small_path, "CLI-EVIDENCE-MARKER small item");

  // The package and one 4 MiB chunk, acknowledged, then the client is gone.
  const std::string request = "requests/" + id;
  {
    auto channel =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
    auto stub = v1::EvidenceService::NewStub(channel);
    v1::CreatePackageRequest create;
    create.set_parent(request);
    for (const auto& [name, bytes] :
         {std::make_pair(std::string("records.csv"), big),
          std::make_pair(std::string("notes.txt"), ReadFile(small_path))}) {
      v1::PackageItem* item = create.add_items();
      item->set_name(name);
      item->set_category(v1::TRAFFIC);
      item->set_size_bytes(static_cast<int64_t>(bytes.size()));
      item->set_sha256(ToHex(Sha256(bytes)));
    }
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-comity-principal", comity::testing::kGreta);
    v1::EvidencePackage package;
    ASSERT_TRUE(stub->CreatePackage(&ctx, create, &package).ok());
    grpc::ClientContext upload_ctx;
    upload_ctx.AddMetadata("x-comity-principal", comity::testing::kGreta);
    auto stream = stub->Upload(&upload_ctx);
    v1::UploadChunk chunk;
    chunk.set_package(package.name());
    chunk.set_item("records.csv");
    chunk.set_offset(0);
    chunk.set_data(big.substr(0, 4 << 20));
    chunk.set_sha256(ToHex(Sha256(chunk.data())));
    ASSERT_TRUE(stream->Write(chunk));
    v1::UploadAck ack;
    ASSERT_TRUE(stream->Read(&ack));
    EXPECT_EQ(ack.durable_bytes(), 4 << 20);
    upload_ctx.TryCancel();
    stream->Finish();
  }

  // kill -9, restart: the acknowledged chunk is there, and the CLI resumes from it.
  EXPECT_EQ(daemon->Kill(SIGKILL), -SIGKILL);
  daemon = std::make_unique<Daemon>(data.path());
  ASSERT_GT(daemon->port(), 0);
  port = daemon->port();
  const Outcome status = Comity(port, comity::testing::kGreta, "evidence status " + id + " 1");
  ASSERT_EQ(status.code, 0) << status.out;
  EXPECT_THAT(status.out, HasSubstr(absl::StrCat("records.csv  ", 4 << 20, "/", big.size())));
  const Outcome upload =
      Comity(port, comity::testing::kGreta,
             "evidence upload " + id + " " + big_path + " " + small_path + " --category traffic");
  ASSERT_EQ(upload.code, 0) << upload.out;
  EXPECT_THAT(upload.out, HasSubstr("resuming " + request + "/packages/1"));
  EXPECT_THAT(upload.out, HasSubstr(request + "/packages/1 uploaded: 2 item(s)"));
  const Outcome list = Comity(port, comity::testing::kGreta, "evidence list " + id);
  ASSERT_EQ(list.code, 0) << list.out;
  EXPECT_THAT(list.out, HasSubstr("1  COMPLETE  2 item(s)"));

  const Outcome deliver =
      Comity(port, comity::testing::kGreta, "request deliver " + id + " --package 1 --final");
  ASSERT_EQ(deliver.code, 0) << deliver.out;
  EXPECT_THAT(deliver.out, HasSubstr("EXECUTED"));

  // A partial file of records.csv, as a killed download leaves it: the next run resumes it.
  TempDir out;
  WriteFile(out.path() + "/records.csv", big.substr(0, 3 << 20));
  const Outcome download =
      Comity(port, comity::testing::kAlice, "evidence download " + id + " 1 --out " + out.path());
  ASSERT_EQ(download.code, 0) << download.out;
  EXPECT_THAT(download.out, HasSubstr("records.csv  " + ToHex(Sha256(big)) + "  verified"));
  EXPECT_TRUE(ReadFile(out.path() + "/records.csv") == big);
  EXPECT_EQ(ReadFile(out.path() + "/notes.txt"), ReadFile(small_path));

  // A partial file that is not a prefix of the item is caught by the whole digest.
  TempDir damaged;
  std::string wrong = big.substr(0, 1 << 20);
  wrong[100] ^= 1;
  WriteFile(damaged.path() + "/records.csv", wrong);
  const Outcome caught = Comity(port, comity::testing::kAlice,
                                "evidence download " + id + " 1 --out " + damaged.path());
  EXPECT_NE(caught.code, 0);
  EXPECT_THAT(caught.out, HasSubstr("not the delivered " + ToHex(Sha256(big))));
  EXPECT_TRUE(std::filesystem::exists(damaged.path() + "/records.csv.mismatch"));

  // The receiving side cannot download; no file is in the clear in the data directory.
  EXPECT_NE(Comity(port, comity::testing::kGreta,
                   "evidence download " + id + " 1 --out " + damaged.path())
                .code,
            0);
  EXPECT_FALSE(
      absl::StrContains(comity::testing::ReadEveryFile(data.path()), "CLI-EVIDENCE-MARKER"));
}

}  // namespace
}  // namespace comity
