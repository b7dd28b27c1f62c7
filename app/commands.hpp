#pragma once
// Subcommands of the ccp executable. Each takes its own arguments (without the
// subcommand name) and the streams to write to, and returns the process exit status.

#include <iosfwd>
#include <span>
#include <string_view>

namespace ccp::app {

// `ccp addr TEXT...`: one line per argument, the canonical address or "error: ...".
// Exit status 0 when all parsed, 1 when any failed, 2 on a usage error.
int addr_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// `ccp sim PATH... [--seed N | --seeds A..B] [--trace FILE]`: runs scenarios in the
// simulator. Exit status 0 when all pass, 1 when any fails, 2 on a usage or file error.
int sim_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// The networked build (app/*_cmd.cpp, one file per command; what they share is in
// app/net_common.hpp). Daemons run until SIGINT/SIGTERM and return 0
// after a clean stop, 1 when they cannot start, 2 on a usage error. Client commands
// (send, request, agents) return 0 when the operation succeeded, 1 otherwise.
int proxy_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int agent_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int endpoint_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int mgmt_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int send_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int request_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int agents_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
// `ccp up`: a whole fleet in one process; 0 when every endpoint answered the first request.
int up_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

}  // namespace ccp::app
