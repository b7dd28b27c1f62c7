// `ccp` itself: dispatches to a subcommand, `ccp help [COMMAND]`, `ccp --version`.
#include <ostream>
#include <string>

#include "app/commands.hpp"
#include "app/real.hpp"

#ifndef CCP_VERSION
#define CCP_VERSION "0.0.0"
#endif

namespace ccp::app {
namespace {

constexpr command all_commands[] = {
    {"addr", "parse addresses and print their canonical form", addr_main, nullptr},
    {"sim", "run scenario files in the deterministic simulator", sim_main, sim_spec},
    {"real", "run scenario files against real processes; --compare with the simulator", real_main,
     real_spec},
    {"timeline", "print a readable timeline of one host or one request from a trace", timeline_main,
     timeline_spec},
    {"real-node", "one process of a `ccp real` run (started by ccp real)", real_node_main, nullptr},
    {"up", "a whole fleet in one process on loopback, then a request to all", up_main, up_spec},
    {"proxy", "run a proxy (websockets for agents, the backbone bus)", proxy_main, proxy_spec},
    {"agent", "run a host's agent (one websocket to a proxy, the host bus)", agent_main,
     agent_spec},
    {"endpoint", "run a sample application (answers ping and echo)", endpoint_main, endpoint_spec},
    {"mgmt", "run a management node on the backbone bus", mgmt_main, mgmt_spec},
    {"send", "send a one-way notification as a management node", send_main, send_spec},
    {"request", "send a request and print every reply", request_main, request_spec},
    {"agents", "list the agents each proxy holds", agents_main, agents_spec},
};

std::string usage() {
  std::string u =
      "usage: ccp COMMAND [ARGS...]\n"
      "       ccp help [COMMAND]\n"
      "       ccp help --man         the manual page, roff (man -l <(ccp help --man))\n"
      "       ccp completion bash    a bash completion script\n"
      "       ccp --version\n"
      "\n"
      "commands:\n";
  for (const auto& c : all_commands) {
    std::string left = "  " + std::string(c.name);
    left.resize(12, ' ');
    u += left + std::string(c.summary) + '\n';
  }
  u +=
      "\nRun 'ccp help COMMAND' (or 'ccp COMMAND --help') for a command's arguments and options.\n";
  return u;
}

const command* find_command(std::string_view name) {
  for (const auto& c : all_commands)
    if (c.name == name) return &c;
  return nullptr;
}

}  // namespace

std::span<const command> commands() {
  return all_commands;
}

std::string version_text() {
  return "ccp " CCP_VERSION;
}

int ccp_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  if (args.empty()) return err << usage(), 2;
  const std::string_view cmd = args[0];
  const auto rest = args.subspan(1);
  if (cmd == "--version" || cmd == "-V" || cmd == "version")
    return out << version_text() << '\n', 0;
  if (cmd == "completion") {
    if (rest.size() == 1 && rest[0] == "bash") return out << bash_completion(), 0;
    return err << "usage: ccp completion bash\n", 2;
  }
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    if (rest.empty()) return out << usage(), 0;
    if (rest.size() == 1 && rest[0] == "--man") return out << man_page(), 0;
    const command* c = find_command(rest[0]);
    if (!c || rest.size() > 1)
      return err << "ccp help: unknown command \"" << rest[0] << "\"\n" << usage(), 2;
    static constexpr std::string_view help[] = {"--help"};
    return c->main(std::span<const std::string_view>(help), out, err);
  }
  if (const command* c = find_command(cmd)) return c->main(rest, out, err);
  return err << "ccp: unknown command \"" << cmd << "\"\n" << usage(), 2;
}

}  // namespace ccp::app
