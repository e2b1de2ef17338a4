#ifndef COMITY_TESTS_TESTING_FIXTURES_H_
#define COMITY_TESTS_TESTING_FIXTURES_H_

#include <memory>
#include <string>

#include "comity/config/v1/config.pb.h"
#include "comity/v1/resources.pb.h"
#include "services/auth/caller.h"
#include "services/workflow/directory.h"
#include "services/workflow/profiles.h"

namespace comity::testing {

// A fresh directory under the system's temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string SourcePath(const std::string& relative);

// Every regular file under `dir`, read whole and joined: to check what the disk holds (that no
// plaintext of a case file, say, is in a data directory).
std::string ReadEveryFile(const std::string& dir);

// The shipped profiles and demo directory.
std::unique_ptr<workflow::ProfileSet> ShippedProfiles();
std::unique_ptr<workflow::Directory> DemoDirectory();

// A server configuration for tests: 127.0.0.1 on a free port, `data_dir`, the shipped profiles
// and demo directory, development mode (tests that need TLS clear insecure_dev and set tls).
config::v1::ServerConfig TestServerConfig(const std::string& data_dir);

// Callers from the demo directory.
workflow::Caller As(const workflow::Directory& directory, const std::string& principal);
inline constexpr char kAlice[] = "spiffe://comity.dev/FR-CA/alice";     // FR submitter
inline constexpr char kFelix[] = "spiffe://comity.dev/FR-CA/felix";     // FR responder
inline constexpr char kOdile[] = "spiffe://comity.dev/FR-CA/odile";     // FR auditor
inline constexpr char kDieter[] = "spiffe://comity.dev/DE-BFJ/dieter";  // DE submitter
inline constexpr char kGreta[] = "spiffe://comity.dev/DE-BFJ/greta";    // DE responder
inline constexpr char kDora[] = "spiffe://comity.dev/DE-BFJ/dora";      // DE admin
inline constexpr char kBinh[] = "spiffe://comity.dev/VN-247/binh";      // VN submitter+responder

// GET http://127.0.0.1:<port>/metrics over a plain socket: the response, headers included.
std::string ScrapeMetrics(int port);

// A request from FR-CA to DE-BFJ with every content field set, valid for any profile and type.
v1::Request FullRequest(const std::string& instrument, v1::RequestType type,
                        v1::Priority priority = v1::ROUTINE);

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_FIXTURES_H_
