#include "tests/testing/fixtures.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "gtest/gtest.h"

namespace comity::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "comity-test-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) std::abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string ReadEveryFile(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

std::string SourcePath(const std::string& relative) {
  return std::string(COMITY_SOURCE_DIR) + "/" + relative;
}

std::unique_ptr<workflow::ProfileSet> ShippedProfiles() {
  auto profiles = workflow::ProfileSet::LoadDir(SourcePath("deploy/profiles"));
  if (!profiles.ok()) {
    ADD_FAILURE() << profiles.status();
    std::abort();
  }
  return *std::move(profiles);
}

std::unique_ptr<workflow::Directory> DemoDirectory() {
  auto directory = workflow::Directory::LoadFile(SourcePath("deploy/dev/directory.textproto"));
  if (!directory.ok()) {
    ADD_FAILURE() << directory.status();
    std::abort();
  }
  return *std::move(directory);
}

config::v1::ServerConfig TestServerConfig(const std::string& data_dir) {
  config::v1::ServerConfig config;
  config.set_listen_address("127.0.0.1:0");
  config.set_data_dir(data_dir);
  config.set_profiles_dir(SourcePath("deploy/profiles"));
  config.set_directory_file(SourcePath("deploy/dev/directory.textproto"));
  config.set_insecure_dev(true);
  return config;
}

workflow::Caller As(const workflow::Directory& directory, const std::string& principal) {
  auto caller = directory.CallerFor(principal);
  if (!caller.ok()) std::abort();
  return *caller;
}

v1::Request FullRequest(const std::string& instrument, v1::RequestType type,
                        v1::Priority priority) {
  v1::Request r;
  r.set_instrument(instrument);
  r.set_type(type);
  r.set_priority(priority);
  r.set_channel(v1::CENTRAL_AUTHORITY);
  r.set_requested_authority("authorities/DE-BFJ");
  r.set_language("en");
  v1::CaseInfo* c = r.mutable_case_info();
  c->set_reference("PARQUET-2026-0042");
  c->set_investigating_authority("Juge d'instruction, Paris");
  c->set_nature_of_proceedings("Criminal investigation into ransomware attacks on hospitals");
  c->add_offences("Illegal access (UNCC art. 7)");
  c->add_legal_provisions("Code penal art. 323-1");
  c->set_summary_of_facts("Hospital systems were encrypted; ransom notes point to a mail account.");
  c->set_max_penalty_months(120);
  c->set_persons_concerned("Unknown holder of the account");
  v1::DataSought* d = r.mutable_data_sought();
  d->add_categories(v1::SUBSCRIBER);
  d->add_categories(v1::TRAFFIC);
  d->add_identifiers("ransom@example.org");
  d->set_service_provider("Example Mail GmbH");
  d->set_system_location("Frankfurt");
  d->mutable_time_range()->mutable_start_time()->set_seconds(1767225600);  // 2026-01-01
  d->mutable_time_range()->mutable_end_time()->set_seconds(1769904000);    // 2026-02-01
  d->set_relation_to_offence("The account received the ransom negotiations");
  r.set_purpose("Identify the perpetrators");
  r.set_necessity("Logs are kept for 90 days only");
  r.set_follow_up_intended(true);
  if (type == v1::EMERGENCY_DISCLOSURE) r.set_priority(v1::EMERGENCY);
  if (r.priority() == v1::EMERGENCY) r.set_emergency_facts("A patient's life depends on it");
  r.mutable_confidentiality()->set_confidential(true);
  return r;
}

// GET http://127.0.0.1:<port>/metrics over a plain socket.
std::string ScrapeMetrics(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return "";
  const std::string get = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, get.data(), get.size()) < 0) return "";
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) out.append(buf, n);
  close(fd);
  return out;
}

}  // namespace comity::testing
