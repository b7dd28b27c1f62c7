#include "net/notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace ccp::net {

std::expected<void, std::string> notify_service_manager(std::string_view state) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || *env == '\0') return {};
  const std::string_view path(env);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if ((path[0] != '/' && path[0] != '@') || path.size() >= sizeof sa.sun_path)
    return std::unexpected("NOTIFY_SOCKET '" + std::string(path) +
                           "' is neither an absolute path nor an abstract socket (@NAME)");
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (path[0] == '@') sa.sun_path[0] = '\0';  // abstract namespace
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  const ssize_t n = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                             reinterpret_cast<const sockaddr*>(&sa), len);
  const int error = errno;
  ::close(fd);
  if (n < 0)
    return std::unexpected("NOTIFY_SOCKET '" + std::string(path) + "': " + std::strerror(error));
  return {};
}

}  // namespace ccp::net
