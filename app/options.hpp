#pragma once
// Options of the ccp commands. Each command declares its options once, in a
// `command_spec` (name, usage, positionals, options with their defaults); the help text,
// the environment variables and the parser are all derived from that one table.
//
// Values come from three sources, in order of precedence:
//   1. the command line, tokenised by CLI11 (`--name value`, `--name=value`, `-t value`,
//      `-t2s`, `--` ends the options);
//   2. a JSON config file given with `--config FILE` (an object whose keys are the long
//      option names);
//   3. environment variables of that command only: CCP_<COMMAND>_<NAME>, e.g.
//      CCP_PROXY_ADDRESS or CCP_AGENT_HOST_BUS, so that what is set for one daemon can
//      never change what another command does.
// Every error about a value names where the value came from (`--timeout`,
// `CCP_REQUEST_TIMEOUT`, `config file 'c.json', key "timeout"`).
//
// Adding an option to a command: add a row to its table (e.g. `proxy_own` in
// app/proxy_cmd.cpp) and read it after parse_or_explain with value/on/list/duration/
// count/secret; the help, --config key, environment variable, man page and completion
// follow. An option several commands share (like --backbone of the clients) is one
// constexpr option_spec in app/net_common.hpp listed in each command's table; a group
// of them that travels together (the log and monitor options, the NATS credentials) is
// one array there, appended with detail::joined.

#include <cstdint>
#include <expected>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::app {

// One option of a command.
struct option_spec {
  std::string_view name;        // long name without dashes, e.g. "host-bus"
  char short_name = 0;          // e.g. 't' for -t; 0 for none
  std::string_view value;       // placeholder for the help, e.g. "URL"; empty for a switch
  std::string_view help;        // one line
  std::string_view fallback{};  // the value used when no source gives one (shown in help)
  bool repeat = false;          // may be given several times (or as a JSON array)
  bool commas = false;          // a value may be a comma-separated list too (with repeat)
  bool secret = false;          // its value is never printed (errors say "(hidden)")
};

// One positional argument of a command, in order. The last may be `variadic`.
struct positional_spec {
  std::string_view name;  // e.g. "ADDRESS"
  std::string_view help;
  bool required = true;
  bool variadic = false;  // takes every remaining argument (at least one when required)
};

// What a command takes: the one place where a command's options are declared.
struct command_spec {
  std::string_view name;   // e.g. "request"; the environment prefix is CCP_REQUEST_
  std::string_view about;  // a short paragraph for the help
  std::span<const positional_spec> positionals;
  std::span<const option_spec> options;
};

// Where a value came from.
struct value_origin {
  enum class kind : std::uint8_t { flag, config, env, fallback } from = kind::fallback;
  std::string where;  // "--timeout", "CCP_REQUEST_TIMEOUT", "config file 'x.json', key \"timeout\""
};

class options {
 public:
  // Parses `args` (without the command's name) for `spec`. Errors (a usage error: print
  // it with the help and exit 2): unknown option, missing value, a switch followed by what
  // looks like its value (`--json true`), too many or too few positionals, an unreadable
  // or malformed config file (with its path and the offending key), a switch whose
  // environment value is not a boolean.
  static std::expected<options, std::string> parse(std::span<const std::string_view> args,
                                                   const command_spec& spec);

  // The value of a single-valued option: from the flag, config, environment or the
  // spec's fallback; nullopt when none gives one.
  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;
  // get(name), or "" when none.
  [[nodiscard]] std::string value(std::string_view name) const;
  // Whether a switch is on (given, or true/yes/1 from config or environment).
  [[nodiscard]] bool on(std::string_view name) const;
  // Every value of a repeatable option; comma-separated values are split for an option
  // whose spec says `commas` (never for values that may hold JSON).
  [[nodiscard]] std::vector<std::string> list(std::string_view name) const;
  // Where the value of `name` came from ("--name" when it came from no source).
  [[nodiscard]] const value_origin& origin(std::string_view name) const;
  [[nodiscard]] const std::vector<std::string>& positional() const noexcept { return pos_; }
  [[nodiscard]] bool help() const noexcept { return help_; }

  // "ORIGIN 'VALUE': what" (the value hidden for a secret): an error about `name`'s value.
  [[nodiscard]] std::string bad(std::string_view name, std::string_view what) const;

  // A duration option ("250ms", "2s", "1.5s", "100us", "1m", "1h") in microseconds, in
  // [min, max]. Errors name the origin, the text and the range.
  [[nodiscard]] std::expected<std::int64_t, std::string> duration(std::string_view name,
                                                                  std::int64_t min,
                                                                  std::int64_t max) const;
  // A whole-number option in [min, max]. Errors name the origin, the text and the range.
  [[nodiscard]] std::expected<std::uint64_t, std::string> count(std::string_view name,
                                                                std::uint64_t min,
                                                                std::uint64_t max) const;
  // A secret given either as `name` (flag, config or environment) or as the contents of
  // the file `file_name` names (one trailing newline removed). Both given is an error, so
  // is an empty or unreadable file. Empty when neither is given.
  [[nodiscard]] std::expected<std::string, std::string> secret(std::string_view name,
                                                               std::string_view file_name) const;

 private:
  struct entry {
    std::vector<std::string> values;
    value_origin origin;
    bool secret = false;
    bool commas = false;
  };
  const entry* find(std::string_view name) const;
  std::map<std::string, entry, std::less<>> values_;
  std::vector<std::string> pos_;
  bool help_ = false;
};

// The help text: usage line, what the command does, positionals, then one line per
// option with its default and its environment variable.
[[nodiscard]] std::string options_help(const command_spec& spec);
// The usage line alone: "ccp request ADDRESS TYPE [JSON] [options]".
[[nodiscard]] std::string usage_line(const command_spec& spec);

// The environment variable of `option` for `command`: CCP_REQUEST_TIMEOUT.
[[nodiscard]] std::string env_name(std::string_view command, std::string_view option);

// The longest duration an option takes: a request or a wait longer than a day is a typo,
// and the bound keeps `now + duration` far from overflowing 64-bit microseconds.
inline constexpr std::int64_t max_duration_micros = 24LL * 3600 * 1'000'000;

// "250ms", "2s", "1.5s", "100us", "1m", "1h" in microseconds. Errors: no number, no or an
// unknown unit, or more than max_duration_micros (so nothing overflows).
[[nodiscard]] std::expected<std::int64_t, std::string> parse_duration_micros(std::string_view text);
// The text of a duration for people: "2s", "500ms", "1.5s", "100us".
[[nodiscard]] std::string duration_text(std::int64_t micros);

// The whole contents of a file. Errors: "cannot read: REASON" (missing, a directory,
// no permission), with the system's reason.
[[nodiscard]] std::expected<std::string, std::string> read_file(const std::string& path);

}  // namespace ccp::app
