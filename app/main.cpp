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
