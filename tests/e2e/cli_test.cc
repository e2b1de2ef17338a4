// The comity CLI against the real comityd: the clock columns of `request get`, `due --within`
// and `inbox --watch`, run as a user would run them.

#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "comity/v1/requests.grpc.pb.h"
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
using ::testing::Not;

TEST(CliTest, ClocksDueAndInbox) {
  TempDir dir;
  Daemon daemon(dir.path());
  ASSERT_GT(daemon.port(), 0);
  const int port = daemon.port();
  const Outcome submit = Comity(
      port, comity::testing::kAlice,
      "--id request submit -f " + SourcePath("deploy/dev/requests/emergency-disclosure.textproto"));
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string id(absl::StripAsciiWhitespace(submit.out));

  const Outcome get = Comity(port, comity::testing::kGreta, "request get " + id);
  ASSERT_EQ(get.code, 0) << get.out;
  EXPECT_THAT(get.out, HasSubstr("production: RUNNING, due "));
  EXPECT_THAT(get.out, HasSubstr("RECEIVING side acts [Reg. 2023/1543 art. 10(2), 10(3), 10(4)]"));
  EXPECT_THAT(get.out, HasSubstr("next due"));

  const Outcome due = Comity(port, comity::testing::kGreta, "due --within 3d");
  ASSERT_EQ(due.code, 0) << due.out;
  EXPECT_THAT(due.out, HasSubstr(id));
  EXPECT_THAT(due.out, HasSubstr("production"));
  const Outcome later = Comity(port, comity::testing::kGreta, "due --within 4h");
  EXPECT_THAT(later.out, Not(HasSubstr(id)));
  EXPECT_THAT(Comity(port, comity::testing::kBinh, "due --within 3d").out, Not(HasSubstr(id)));
  EXPECT_EQ(Comity(port, comity::testing::kGreta, "due --within soon").code, 64);

  // The watch runs until `timeout` stops it; it replays from the cursor given.
  const Outcome watch =
      Comity(port, comity::testing::kGreta, "inbox --watch --after 0", /*timeout=*/"2");
  EXPECT_THAT(watch.out, HasSubstr(id));
  EXPECT_THAT(watch.out, HasSubstr("SUBMIT"));
  EXPECT_THAT(watch.out, HasSubstr("DRAFT -> SUBMITTED"));
  EXPECT_THAT(watch.out, Not(HasSubstr("CREATE")));  // the draft was never Germany's to see
  const Outcome by_due = Comity(port, comity::testing::kGreta, "request list --by-due");
  ASSERT_EQ(by_due.code, 0) << by_due.out;
  EXPECT_THAT(by_due.out, HasSubstr(id));
  const Outcome none_due = Comity(port, comity::testing::kGreta, "request list --due-before 1h");
  ASSERT_EQ(none_due.code, 0) << none_due.out;
  EXPECT_THAT(none_due.out, Not(HasSubstr(id)));
  const Outcome inbox = Comity(port, comity::testing::kGreta, "inbox");
  ASSERT_EQ(inbox.code, 0) << inbox.out;
  EXPECT_THAT(inbox.out, HasSubstr(id));
  EXPECT_THAT(inbox.out, HasSubstr("NEXT DUE"));
}

// Every command listed by `comity --help` answers --help with its usage and exit 0, without
// reaching for a node.
TEST(CliTest, EveryCommandAnswersHelp) {
  const Outcome all = Shell(absl::StrCat(COMITY_CLI_PATH, " --help"));
  ASSERT_EQ(all.code, 0) << all.out;
  int checked = 0;
  for (absl::string_view line : absl::StrSplit(all.out, '\n')) {
    if (!absl::ConsumePrefix(&line, "  comity ")) continue;
    std::vector<std::string> words = absl::StrSplit(line, ' ', absl::SkipEmpty());
    ASSERT_FALSE(words.empty());
    std::string command = words[0];
    if (words.size() > 1 && absl::ascii_islower(words[1][0])) {
      command += " " + words[1];  // a verb; options and arguments start with '-', '[' or A-Z
    }
    const Outcome help =
        Shell(absl::StrCat(COMITY_CLI_PATH, " --addr 127.0.0.1:1 ", command, " --help"));
    EXPECT_EQ(help.code, 0) << command << ": " << help.out;
    EXPECT_THAT(help.out, HasSubstr("usage: comity [global options] " + command)) << help.out;
    ++checked;
  }
  EXPECT_GE(checked, 20);
  EXPECT_EQ(Shell(absl::StrCat(COMITY_CLI_PATH, " request --help")).code, 0);
}

// Each command parses its options from its own table, the global ones are Abseil flags: an option
// the command does not take, a global one that does not exist or a value that does not parse is a
// usage error (64) naming the problem, before any call is made.
TEST(CliTest, OptionsComeFromEachCommandsTable) {
  const Outcome typo = Shell(absl::StrCat(COMITY_CLI_PATH,
                                          " --addr 127.0.0.1:1 request refuse ID "
                                          "--grund ESSENTIAL_INTERESTS"));
  EXPECT_EQ(typo.code, 64) << typo.out;
  EXPECT_THAT(typo.out, HasSubstr("unknown option --grund; this command takes --ground, --reason, "
                                  "--etag, --request-id"));
  const Outcome missing = Shell(absl::StrCat(COMITY_CLI_PATH, " audit export ID --out"));
  EXPECT_EQ(missing.code, 64) << missing.out;
  EXPECT_THAT(missing.out, HasSubstr("--out needs a value (FILE)"));
  const Outcome valued_switch = Shell(absl::StrCat(COMITY_CLI_PATH, " inbox --watch=yes"));
  EXPECT_EQ(valued_switch.code, 64) << valued_switch.out;
  const Outcome global = Shell(absl::StrCat(COMITY_CLI_PATH, " --adress 127.0.0.1:1 whoami"));
  EXPECT_EQ(global.code, 64) << global.out;
  EXPECT_THAT(global.out, HasSubstr("unknown global option --adress"));
  const Outcome duration = Shell(absl::StrCat(COMITY_CLI_PATH, " --timeout soon whoami"));
  EXPECT_EQ(duration.code, 64) << duration.out;
  EXPECT_THAT(duration.out, HasSubstr("--timeout: "));
  // A command's help lists its table.
  const Outcome help = Shell(absl::StrCat(COMITY_CLI_PATH, " audit verify --help"));
  EXPECT_EQ(help.code, 0);
  EXPECT_THAT(help.out, HasSubstr("--key VERIFIER_KEY"));
  EXPECT_THAT(help.out, HasSubstr("--since OLD_CHECKPOINT"));
}

TEST(ComitydTest, CheckConfigNamesTheProblemAndWritesNothing) {
  TempDir dir;
  const std::string data = dir.path() + "/data";
  const std::string base =
      absl::StrCat(COMITYD_PATH, " --check-config --insecure-dev --listen 127.0.0.1:0 --data_dir ",
                   data, " --profiles_dir ", SourcePath("deploy/profiles"));
  const Outcome good =
      Shell(absl::StrCat(base, " --directory ", SourcePath("deploy/dev/directory.textproto")));
  EXPECT_EQ(good.code, 0) << good.out;
  EXPECT_THAT(good.out, HasSubstr("configuration OK"));
  EXPECT_FALSE(std::filesystem::exists(data));  // nothing was opened for writing

  const Outcome no_directory = Shell(absl::StrCat(base, " --directory ", dir.path(), "/none"));
  EXPECT_EQ(no_directory.code, 1);
  EXPECT_THAT(no_directory.out, HasSubstr("directory_file: "));

  const Outcome off_loopback = Shell(absl::StrCat(
      COMITYD_PATH, " --check-config --insecure-dev --listen 0.0.0.0:7700 --data_dir ", data));
  EXPECT_EQ(off_loopback.code, 1);
  const Outcome no_tls = Shell(absl::StrCat(
      COMITYD_PATH, " --check-config --listen 127.0.0.1:0 --data_dir ", data, " --profiles_dir ",
      SourcePath("deploy/profiles"), " --directory ", SourcePath("deploy/dev/directory.textproto"),
      " --tls_cert_file ", dir.path(), "/none.pem"));
  EXPECT_EQ(no_tls.code, 1);
  EXPECT_THAT(no_tls.out, HasSubstr("tls.cert_file"));
  EXPECT_FALSE(std::filesystem::exists(data));
}

// A Party's reservations through the CLI: none by default, recorded by an admin of that Party
// (and no one else), listed for everyone, on the directory's trail.
TEST(CliTest, ReservationsAreRecordedByThePartysAdmin) {
  TempDir dir;
  Daemon daemon(dir.path());
  ASSERT_GT(daemon.port(), 0);
  const int port = daemon.port();
  const Outcome none = Comity(port, comity::testing::kGreta, "directory reservations");
  EXPECT_EQ(none.code, 0) << none.out;
  EXPECT_THAT(none.out, HasSubstr("no reservations or declarations recorded"));
  const std::string reserve =
      "directory reserve DE budapest BUDAPEST_29_4 --text 'Declared on ratification'";
  const Outcome denied = Comity(port, comity::testing::kGreta, reserve);
  EXPECT_EQ(denied.code, 7) << denied.out;  // PERMISSION_DENIED
  const Outcome recorded = Comity(port, comity::testing::kDora, reserve);
  ASSERT_EQ(recorded.code, 0) << recorded.out;
  EXPECT_EQ(recorded.out, "recorded: DE/budapest/BUDAPEST_29_4\n");
  const Outcome listed =
      Comity(port, comity::testing::kAlice, "directory reservations --country DE");
  EXPECT_EQ(listed.out, "DE  budapest  BUDAPEST_29_4  RESERVATION  Declared on ratification\n");
  const Outcome trail = Comity(port, comity::testing::kOdile, "audit trail directory");
  EXPECT_THAT(trail.out, HasSubstr("SET_RESERVATION"));
  const Outcome unknown =
      Comity(port, comity::testing::kDora, "directory reserve DE budapest NONE");
  EXPECT_EQ(unknown.code, 3) << unknown.out;  // INVALID_ARGUMENT
  EXPECT_THAT(unknown.out, HasSubstr("reservation.code: is not a reservation or declaration"));
}

// Past 4 MiB a trail is read, exported and verified in pages: a trail of 20,000 notes through
// the CLI, as an auditor would take it.
TEST(CliTest, ATrailOfTwentyThousandEntriesIsReadExportedAndVerified) {
  TempDir dir;
  const std::string key_file = dir.path() + "/log.key";
  { std::ofstream(key_file) << std::string(64, 'a'); }
  ASSERT_EQ(chmod(key_file.c_str(), 0600), 0);
  Daemon daemon(dir.path() + "/data",
                {"--log_key_file=" + key_file, "--log_origin=comity.test/cli"});
  ASSERT_GT(daemon.port(), 0);
  const int port = daemon.port();
  const Outcome submit =
      Comity(port, comity::testing::kAlice,
             "--id request submit -f " + SourcePath("deploy/dev/requests/preservation.textproto"));
  ASSERT_EQ(submit.code, 0) << submit.out;
  const std::string id(absl::StripAsciiWhitespace(submit.out));

  // 20,000 notes, 64 in flight.
  constexpr int kNotes = 20000;
  auto stub = v1::RequestService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  struct NoteCall {
    grpc::ClientContext ctx;
    v1::AddNoteRequest req;
    v1::Request out;
  };
  absl::Mutex mu;
  int in_flight = 0, failed = 0;
  for (int i = 0; i < kNotes; ++i) {
    {
      absl::MutexLock lock(&mu);
      mu.Await(absl::Condition(
          +[](int* n) { return *n < 64; }, &in_flight));
      ++in_flight;
    }
    auto* call = new NoteCall;
    call->ctx.AddMetadata("x-comity-principal", comity::testing::kAlice);
    call->req.set_name("requests/" + id);
    call->req.set_kind(v1::COMMENT);
    call->req.set_text(
        absl::StrCat("note ", i, " of the case, as the investigating team wrote it"));
    stub->async()->AddNote(&call->ctx, &call->req, &call->out, [&, call](grpc::Status s) {
      absl::MutexLock lock(&mu);
      if (!s.ok()) ++failed;
      --in_flight;
      delete call;
    });
  }
  {
    absl::MutexLock lock(&mu);
    mu.Await(absl::Condition(
        +[](int* n) { return *n == 0; }, &in_flight));
    ASSERT_EQ(failed, 0);
  }

  const Outcome chain = Comity(port, comity::testing::kOdile, "audit verify-chain " + id);
  ASSERT_EQ(chain.code, 0) << chain.out.substr(0, 500);
  std::vector<std::string> words = absl::StrSplit(chain.out, ' ');
  ASSERT_GE(words.size(), 3u) << chain.out;
  int entries = 0;
  ASSERT_TRUE(absl::SimpleAtoi(words[2], &entries)) << chain.out;
  EXPECT_GT(entries, kNotes);

  const Outcome trail = Comity(port, comity::testing::kOdile, "audit trail " + id);
  ASSERT_EQ(trail.code, 0) << trail.out.substr(0, 500);
  // Every entry, then the head line (not EXPECT_THAT: a failure would print 3 MB).
  EXPECT_TRUE(absl::StrContains(trail.out, absl::StrCat("\n", entries, "  ")));
  EXPECT_TRUE(absl::StrContains(trail.out, absl::StrCat(" entries)\n")));

  const std::string bundle = dir.path() + "/bundle.json";
  const Outcome exported =
      Comity(port, comity::testing::kOdile, "audit export " + id + " --out " + bundle);
  ASSERT_EQ(exported.code, 0) << exported.out;
  EXPECT_GT(std::filesystem::file_size(bundle), 4u << 20);
  const Outcome checkpoint = Comity(port, comity::testing::kOdile, "audit checkpoint");
  ASSERT_EQ(checkpoint.code, 0) << checkpoint.out;
  const size_t at = checkpoint.out.find("verifier key: ");
  ASSERT_NE(at, std::string::npos) << checkpoint.out;
  const std::string key(
      absl::StripAsciiWhitespace(checkpoint.out.substr(at + strlen("verifier key: "))));
  const Outcome verified =
      Shell(absl::StrCat(COMITY_CLI_PATH, " audit verify ", bundle, " --key ", key));
  EXPECT_EQ(verified.code, 0) << verified.out;
  EXPECT_THAT(verified.out, HasSubstr("OK requests/" + id));

  // One character changed in an entry of the middle, far past the first 4 MiB: caught.
  std::string json;
  {
    std::ifstream in(bundle);
    json.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  size_t pos = 0;
  for (int i = 0; i < 15000; ++i) pos = json.find("\"data\": \"", pos + 1);
  ASSERT_NE(pos, std::string::npos);
  char& c = json[pos + strlen("\"data\": \"") + 20];
  c = c == 'A' ? 'B' : 'A';
  { std::ofstream(bundle, std::ios::trunc) << json; }
  const Outcome tampered =
      Shell(absl::StrCat(COMITY_CLI_PATH, " audit verify ", bundle, " --key ", key));
  EXPECT_EQ(tampered.code, 15) << tampered.out;
  EXPECT_THAT(tampered.out, HasSubstr("BROKEN"));
}

}  // namespace
}  // namespace comity
