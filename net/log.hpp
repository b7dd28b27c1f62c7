#pragma once
// The daemons' log: one line per event an operator needs, with a level, a full UTC time
// stamp (2026-12-07T19:42:14.123Z), what happened and the addresses it concerns as
// key=value fields, in text or JSON lines, on stderr or in a file (reopened on SIGHUP, for
// logrotate).
//
// Built on spdlog (Debian's libspdlog-dev): it brings thread-safe sinks, level filtering and
// time stamps formatted once per millisecond; nothing here is on the forwarding path (a line
// is written for state changes, never per frame), and spdlog stays private to this file.
//
// Thread affinity: every function may be called from any thread.

#include <cstdint>
#include <expected>
#include <initializer_list>
#include <mutex>
#include <string>
#include <string_view>

namespace ccp::net {

enum class log_level : std::uint8_t { debug, info, warn, error, off };
enum class log_format : std::uint8_t { text, json };

struct log_config {
  log_level level = log_level::info;
  log_format format = log_format::text;
  std::string file;  // empty: stderr
};

// "debug", "info", "warn" (or "warning"), "error", "off". Errors name the text and the choices.
[[nodiscard]] std::expected<log_level, std::string> parse_log_level(std::string_view text);
// "text" or "json".
[[nodiscard]] std::expected<log_format, std::string> parse_log_format(std::string_view text);

// Sets the process's log. Until it is called the log is text, info and up, on stderr.
// Errors: the file cannot be opened for appending (the message names it and the cause); the
// log stays as it was.
[[nodiscard]] std::expected<void, std::string> configure_log(const log_config& cfg);

// Opens the log file again by its name (after logrotate moved it away): what SIGHUP does.
// A log on stderr is left alone. Errors: the file cannot be opened; the log keeps writing
// to the file it had.
[[nodiscard]] std::expected<void, std::string> reopen_log();

// Whether a line at `level` would be written: check it before building costly fields.
[[nodiscard]] bool log_enabled(log_level level) noexcept;

// One field of a line: text form `key=value` (quoted when the value holds a blank, a quote
// or an equals sign), JSON form "key":"value".
struct log_field {
  std::string_view key;
  std::string_view value;
};

// Writes one line: `event` says what happened ("agent attached"); fields say to whom and why.
// Text: 2026-12-07T19:42:14.123Z info agent attached self=ccp://... peer=ccp://...
// JSON: {"ts":"2026-12-07T19:42:14.123Z","level":"info","msg":"agent attached","self":...}
void log(log_level level, std::string_view event, std::initializer_list<log_field> fields = {});

// Lets through at most `burst` lines per `window_ms` of one kind (bad frames, refused
// upgrades from one noisy peer) and counts what it held back, so that a flood costs a few
// lines, not one per event. Thread-safe.
class log_limiter {
 public:
  explicit log_limiter(unsigned burst = 5, std::int64_t window_ms = 10'000) noexcept
      : burst_(burst), window_ms_(window_ms) {}
  // Whether to write a line now; when it returns true, `*suppressed` (if given) is how many
  // lines were held back since the last one written.
  [[nodiscard]] bool allow(std::uint64_t* suppressed = nullptr) noexcept;

 private:
  unsigned burst_;
  std::int64_t window_ms_;
  std::int64_t window_start_ = 0;
  unsigned used_ = 0;
  std::uint64_t held_ = 0;
  std::mutex mu_;
};

}  // namespace ccp::net
