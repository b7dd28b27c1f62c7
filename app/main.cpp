// ccp: one executable, one subcommand per job (app/ccp_cmd.cpp).
#include <exception>
#include <iostream>
#include <string_view>
#include <vector>

#include "app/commands.hpp"
#include "net/nats_bus.hpp"

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  int status = 1;
  try {
    status = ccp::app::ccp_main(args, std::cout, std::cerr);
  } catch (const std::exception& e) {
    std::cerr << "ccp" << (args.empty() ? "" : " ") << (args.empty() ? "" : args[0]) << ": "
              << e.what() << '\n';
  }
  // A daemon's buses are closed by now, but libnats' threads may still be freeing them
  // (a TLS context): exit handlers must not run under them (a crash at SIGTERM otherwise).
  ccp::net::release_nats(std::chrono::seconds(2));
  return status;
}
