#ifndef COMITY_TESTS_TESTING_TCP_PROXY_H_
#define COMITY_TESTS_TESTING_TCP_PROXY_H_

// A loopback TCP forwarder, to cut the network between two real nodes: connections to port() are
// joined byte for byte to the target port until Cut() breaks them all and refuses new ones
// (accepted, then closed at once) until Heal().

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace comity::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_(target_port) {
    listen_fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      std::abort();
    }
    port_ = ntohs(addr.sin_port);
    accepting_ = std::thread([this] { Accept(); });
  }

  ~TcpProxy() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    shutdown(listen_fd_, SHUT_RDWR);  // ends the blocking accept
    accepting_.join();
    for (std::thread& t : pipes_) t.join();
    for (int fd : open_) close(fd);
    close(listen_fd_);
  }

  int port() const { return port_; }

  // Breaks every connection through the proxy, and every new one until Heal().
  void Cut() {
    std::lock_guard<std::mutex> lock(mu_);
    cut_ = true;
    for (int fd : open_) shutdown(fd, SHUT_RDWR);
  }
  void Heal() {
    std::lock_guard<std::mutex> lock(mu_);
    cut_ = false;
  }

 private:
  void Accept() {
    for (;;) {
      const int client = accept(listen_fd_, nullptr, nullptr);
      std::lock_guard<std::mutex> lock(mu_);
      if (client < 0 || stop_) {
        if (client >= 0) close(client);
        return;
      }
      if (cut_) {
        close(client);
        continue;
      }
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in to{};
      to.sin_family = AF_INET;
      to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      to.sin_port = htons(static_cast<uint16_t>(target_));
      if (connect(server, reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
        close(client);
        close(server);
        continue;
      }
      open_.push_back(client);
      open_.push_back(server);
      pipes_.emplace_back([client, server] { Pipe(client, server); });
      pipes_.emplace_back([client, server] { Pipe(server, client); });
    }
  }

  // Copies `from` to `to` until either ends; then ends both directions of both.
  static void Pipe(int from, int to) {
    char buffer[64 << 10];
    for (;;) {
      const ssize_t n = read(from, buffer, sizeof(buffer));
      if (n <= 0) break;
      ssize_t written = 0;
      while (written < n) {
        const ssize_t w =
            send(to, buffer + written, static_cast<size_t>(n - written), MSG_NOSIGNAL);
        if (w <= 0) break;
        written += w;
      }
      if (written < n) break;
    }
    shutdown(from, SHUT_RDWR);
    shutdown(to, SHUT_RDWR);
  }

  const int target_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread accepting_;
  std::mutex mu_;
  bool cut_ = false;
  bool stop_ = false;
  std::vector<int> open_;  // closed at the end
  std::vector<std::thread> pipes_;
};

}  // namespace comity::testing

#endif  // COMITY_TESTS_TESTING_TCP_PROXY_H_
