#pragma once
// Subcommands of the ccp executable. Each takes its own arguments (without the
// subcommand name) and the streams to write to, and returns the process exit status.

#include <boost/asio/ip/tcp.hpp>
#include <iosfwd>
#include <span>
#include <string>
#include <string_view>

#include "app/options.hpp"

namespace ccp::app {

// The whole program: `ccp COMMAND ARGS...`, `ccp help [COMMAND]`, `ccp --version`. Exit
// status as the command says; 2 for an unknown command.
int ccp_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// One subcommand: its name, a one-line summary for `ccp help`, and its entry point.
struct command {
  std::string_view name;
  std::string_view summary;
  int (*main)(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
  const command_spec& (*spec)();  // null for addr, which parses its own arguments
};
// Every subcommand, in the order `ccp help` lists them.
[[nodiscard]] std::span<const command> commands();
// "ccp 0.1.0".
[[nodiscard]] std::string version_text();
// The manual page ccp(1), roff with the man macros: `ccp help --man` (app/docs.cpp).
[[nodiscard]] std::string man_page();
// A bash completion script for ccp: `ccp completion bash` (app/docs.cpp).
[[nodiscard]] std::string bash_completion();

// `ccp addr TEXT...`: one line per argument, the canonical address or "error: ...".
// Exit status 0 when all parsed, 1 when any failed, 2 on a usage error.
int addr_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// `ccp sim PATH... [--seed N | --seeds A..B] [--trace FILE]`: runs scenarios in the
// simulator. Exit status 0 when all pass, 1 when any fails, 2 on a usage or file error.
int sim_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// `ccp timeline TRACE [--host H] [--request ID] [--from S] [--to S]`: a readable timeline
// of one host or one request (app/timeline.hpp). Exit status 0, or 2 on a usage error, an
// unreadable file or line, or a host or request the trace does not name.
int timeline_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// `ccp real FILE... [--compare] [--dir DIR] [--hosts-per-process N]`: scenario files
// against real processes (app/real_cmd.cpp). Exit status as `ccp sim`'s.
int real_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// The networked build (app/*_cmd.cpp, one file per command; what they share is in
// app/net_common.hpp). Daemons run until SIGINT/SIGTERM and return 0
// after a clean stop, 1 when they cannot start, 2 on a usage error. Client commands
// (send, request, agents) return 0 when the operation succeeded, 1 otherwise, 2 on a usage
// error.
int proxy_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int agent_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int endpoint_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int mgmt_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int send_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int request_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
int agents_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);
// `ccp up`: a whole fleet in one process; 0 when every endpoint answered the first request.
int up_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err);

// Each networked command's options (the one table its help, parser and environment come
// from), for the help, the man page and shell completion.
const command_spec& proxy_spec();
const command_spec& agent_spec();
const command_spec& endpoint_spec();
const command_spec& mgmt_spec();
const command_spec& send_spec();
const command_spec& request_spec();
const command_spec& agents_spec();
const command_spec& up_spec();
const command_spec& sim_spec();
const command_spec& real_spec();
const command_spec& timeline_spec();

// What `ccp proxy` says at start-up when it would accept every agent that can reach a
// non-loopback `listen` address; empty when it authenticates agents or listens on loopback.
[[nodiscard]] std::string open_proxy_warning(const boost::asio::ip::tcp::endpoint& listen,
                                             bool authenticates);

}  // namespace ccp::app
