#pragma once
// systemd's readiness protocol (sd_notify(3)): a daemon started with Type=notify tells the
// service manager it is ready by sending "READY=1" in a datagram to the unix socket named in
// $NOTIFY_SOCKET. The protocol is a documented, stable interface; it is a dozen lines, so
// the daemons speak it themselves rather than link libsystemd for one call.

#include <expected>
#include <string>
#include <string_view>

namespace ccp::net {

// Sends `state` (e.g. "READY=1", "STOPPING=1", "RELOADING=1") to $NOTIFY_SOCKET: a path, or
// an abstract socket when it starts with '@'. Without $NOTIFY_SOCKET (not started by systemd
// with Type=notify) it does nothing and succeeds. Errors name the socket and the reason.
std::expected<void, std::string> notify_service_manager(std::string_view state);

}  // namespace ccp::net
