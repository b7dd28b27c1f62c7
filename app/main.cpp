// ccp: one executable, one subcommand per job.
#include <iostream>
#include <string_view>
#include <vector>

#include "app/commands.hpp"

namespace {

constexpr std::string_view usage =
    "usage: ccp COMMAND [ARGS...]\n"
    "\n"
    "commands:\n"
    "  addr ADDRESS...   parse addresses and print their canonical form\n"
    "  sim PATH...       run scenario files in the deterministic simulator\n"
    "  up                a whole fleet in one process on loopback, then a request to all\n"
    "  proxy             run a proxy (websockets for agents, the backbone bus)\n"
    "  agent             run a host's agent (one websocket to a proxy, the host bus)\n"
    "  endpoint          run a sample application (answers ping and echo)\n"
    "  mgmt              run a management node on the backbone bus\n"
    "  send ADDRESS TYPE [JSON]     send a notification as a management node\n"
    "  request ADDRESS TYPE [JSON]  send a request and print every reply\n"
    "  agents            list the agents each proxy holds\n"
    "\n"
    "Run `ccp COMMAND --help` for a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::cerr << usage;
    return 2;
  }
  std::string_view cmd = args[0];
  std::span<const std::string_view> rest(args.data() + 1, args.size() - 1);
  try {
    if (cmd == "addr") return ccp::app::addr_main(rest, std::cout, std::cerr);
    if (cmd == "sim") return ccp::app::sim_main(rest, std::cout, std::cerr);
    if (cmd == "up") return ccp::app::up_main(rest, std::cout, std::cerr);
    if (cmd == "proxy") return ccp::app::proxy_main(rest, std::cout, std::cerr);
    if (cmd == "agent") return ccp::app::agent_main(rest, std::cout, std::cerr);
    if (cmd == "endpoint") return ccp::app::endpoint_main(rest, std::cout, std::cerr);
    if (cmd == "mgmt") return ccp::app::mgmt_main(rest, std::cout, std::cerr);
    if (cmd == "send") return ccp::app::send_main(rest, std::cout, std::cerr);
    if (cmd == "request") return ccp::app::request_main(rest, std::cout, std::cerr);
    if (cmd == "agents") return ccp::app::agents_main(rest, std::cout, std::cerr);
    if (cmd == "--help" || cmd == "-h" || cmd == "help") {
      std::cout << usage;
      return 0;
    }
  } catch (const std::exception& e) {
    std::cerr << "ccp " << cmd << ": " << e.what() << '\n';
    return 1;
  }
  std::cerr << "ccp: unknown command \"" << cmd << "\"\n" << usage;
  return 2;
}
