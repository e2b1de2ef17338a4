#ifndef COMITY_TESTS_TESTING_DAEMON_H_
#define COMITY_TESTS_TESTING_DAEMON_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "tests/testing/fixtures.h"

namespace comity::testing {

// A comityd child process on a free loopback port, in development mode (plaintext, principal in
// a header). The test target defines COMITYD_PATH.
class Daemon {
 public:
  // `flags`: more flags for comityd, e.g. "--log_key_file=...".
  explicit Daemon(const std::string& data_dir, const std::vector<std::string>& flags = {}) {
    int out[2];
    if (pipe(out) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);
      close(out[0]);
      const std::string data = "--data_dir=" + data_dir;
      const std::string profiles = "--profiles_dir=" + SourcePath("deploy/profiles");
      const std::string directory = "--directory=" + SourcePath("deploy/dev/directory.textproto");
      std::vector<std::string> args = {
          COMITYD_PATH, "--listen=127.0.0.1:0", "--insecure_dev", data, profiles, directory};
      args.insert(args.end(), flags.begin(), flags.end());
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(COMITYD_PATH, argv.data());
      _exit(127);
    }
    close(out[1]);
    // Wait (at most 20 s) for "listening on port N".
    std::string line;
    pollfd p{out[0], POLLIN, 0};
    while (line.find('\n') == std::string::npos && poll(&p, 1, 20000) > 0) {
      char buf[256];
      ssize_t n = read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, n);
    }
    close(out[0]);
    const std::string prefix = "listening on port ";
    if (line.rfind(prefix, 0) == 0) {
      (void)absl::SimpleAtoi(line.substr(prefix.size(), line.find('\n') - prefix.size()), &port_);
    }
  }

  ~Daemon() {
    if (pid_ > 0) Kill(SIGKILL);
  }

  int port() const { return port_; }

  // Sends `sig` and returns the exit status (or -signal).
  int Kill(int sig) {
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_DAEMON_H_
