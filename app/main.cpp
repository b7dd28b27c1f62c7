// ccp: one executable, one subcommand per job (app/ccp_cmd.cpp).
#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "app/commands.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  try {
    return ccp::app::ccp_main(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "ccp" << (args.empty() ? "" : " ") << (args.empty() ? "" : args[0]) << ": "
              << e.what() << '\n';
    return 1;
  }
}
