#ifndef COMITY_TESTS_TESTING_SHELL_H_
#define COMITY_TESTS_TESTING_SHELL_H_

// Running the comity CLI as a user does, for the end-to-end tests (whose target defines
// COMITY_CLI_PATH).

#include <stdio.h>
#include <sys/wait.h>

#include <string>

#include "absl/strings/str_cat.h"

namespace comity::testing {

struct Outcome {
  int code = -1;
  std::string out;
};

// Runs `command` through the shell; its output (stdout and stderr) and exit code.
inline Outcome Shell(const std::string& command) {
  Outcome run;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) run.out.append(buf, n);
  const int status = pclose(pipe);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

#ifdef COMITY_CLI_PATH
// Runs `comity --addr ... --insecure --as PRINCIPAL ARGS` (through `timeout` if given).
inline Outcome Comity(int port, const std::string& principal, const std::string& args,
                      const std::string& timeout = "") {
  return Shell(absl::StrCat(timeout.empty() ? "" : absl::StrCat("timeout ", timeout, " "),
                            COMITY_CLI_PATH, " --addr 127.0.0.1:", port, " --insecure --as ",
                            principal, " ", args));
}
#endif

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_SHELL_H_
