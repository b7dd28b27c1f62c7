#include <ostream>

#include "app/commands.hpp"
#include "core/address.hpp"

namespace ccp::app {

int addr_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << "usage: ccp addr ADDRESS...\n"
                                  "Prints each address in canonical form, or \"error: \" and "
                                  "what is wrong.\nExit status: 0 all parsed, 1 some failed, "
                                  "2 usage error.\n";
    return args.empty() ? 2 : 0;
  }
  int status = 0;
  for (std::string_view text : args) {
    auto a = core::address::parse(text);
    if (a) {
      out << a->str() << '\n';
    } else {
      out << "error: " << a.error().message() << '\n';
      status = 1;
    }
  }
  return status;
}

}  // namespace ccp::app
