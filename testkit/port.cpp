#include "testkit/port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace ccp::testkit {
namespace {

// Closes a socket descriptor when it goes.
struct fd_closer {
  int fd;
  ~fd_closer() {
    if (fd >= 0) ::close(fd);
  }
};

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error("free_port: " + what + ": " + std::strerror(errno));
}

}  // namespace

int free_port() {
  fd_closer s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw sys_error("socket");
  sockaddr_in a = loopback(0);
  if (::bind(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) throw sys_error("bind");
  socklen_t len = sizeof a;
  if (::getsockname(s.fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    throw sys_error("getsockname");
  }
  return ntohs(a.sin_port);
}

bool accepts(int port) {
  fd_closer s{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) return false;
  sockaddr_in a = loopback(port);
  return ::connect(s.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

}  // namespace ccp::testkit
