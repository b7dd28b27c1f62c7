#pragma once
// Options of the daemons and client commands, from three sources in order of precedence:
// command-line flags (`--name value`, `--name=value`), a JSON config file given with
// `--config FILE` (an object whose keys are the option names), and environment variables
// (CCP_NAME with '-' as '_', e.g. CCP_HOST_BUS). Errors name the source and the option.

#include <expected>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ccp::app {

struct option_spec {
  std::string_view name;   // without the dashes, e.g. "host-bus"
  std::string_view value;  // placeholder for the help, e.g. "URL"; empty for a switch
  std::string_view help;
  bool repeat = false;  // may be given several times (or as a JSON array / comma list)
};

class options {
 public:
  // Parses `args`. `positional` names the positional arguments for the help; more than
  // `max_positional` is an error. Errors: unknown option, missing value, unreadable or
  // malformed config file (with its path and the offending key).
  static std::expected<options, std::string> parse(std::span<const std::string_view> args,
                                                   std::span<const option_spec> specs,
                                                   std::size_t max_positional);

  [[nodiscard]] std::optional<std::string> get(std::string_view name) const;
  [[nodiscard]] std::string get_or(std::string_view name, std::string_view fallback) const;
  [[nodiscard]] bool on(std::string_view name) const;  // a switch given (or "true")
  // Every value of a repeatable option; comma-separated values are split.
  [[nodiscard]] std::vector<std::string> list(std::string_view name) const;
  [[nodiscard]] const std::vector<std::string>& positional() const noexcept { return pos_; }
  [[nodiscard]] bool help() const noexcept { return help_; }

 private:
  std::map<std::string, std::vector<std::string>, std::less<>> values_;
  std::vector<std::string> pos_;
  bool help_ = false;
};

// The help text: usage line, then one line per option.
[[nodiscard]] std::string options_help(std::string_view usage, std::span<const option_spec> specs);

// "250ms", "2s", "1.5s", "100us", "1m". Errors name the text.
[[nodiscard]] std::expected<long long, std::string> parse_duration_micros(std::string_view text);

}  // namespace ccp::app
