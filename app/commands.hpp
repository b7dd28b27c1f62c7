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

}  // namespace ccp::app
