#include "net/log.hpp"

#include <spdlog/logger.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>

namespace ccp::net {
namespace {

// Time stamps in UTC with the date and milliseconds; the JSON form's fields follow "level".
constexpr const char* text_pattern = "%Y-%m-%dT%H:%M:%S.%eZ %l %v";
constexpr const char* json_pattern = R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l",%v})";

spdlog::level::level_enum to_spd(log_level l) {
  switch (l) {
    case log_level::debug:
      return spdlog::level::debug;
    case log_level::info:
      return spdlog::level::info;
    case log_level::warn:
      return spdlog::level::warn;
    case log_level::error:
      return spdlog::level::err;
    case log_level::off:
      break;
  }
  return spdlog::level::off;
}

// The process's log: one logger whose only sink is a dist_sink, so that the file sink can be
// swapped (reopen) under its lock while other threads write.
struct state {
  std::shared_ptr<spdlog::sinks::dist_sink_mt> dist =
      std::make_shared<spdlog::sinks::dist_sink_mt>();
  spdlog::logger logger{"ccp", dist};
  std::mutex mu;  // configure / reopen
  log_config cfg;
  std::atomic<log_level> level{log_level::info};
  std::atomic<bool> json{false};

  state() {
    dist->set_sinks({make_stderr()});
    logger.set_level(spdlog::level::trace);  // filtered by `level` before formatting
    logger.flush_on(spdlog::level::trace);   // every line at once: state changes are rare
  }
  std::shared_ptr<spdlog::sinks::sink> make_stderr() const {
    auto s = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    formatted(*s);
    return s;
  }
  void formatted(spdlog::sinks::sink& s) const {
    s.set_formatter(std::make_unique<spdlog::pattern_formatter>(
        cfg.format == log_format::json ? json_pattern : text_pattern,
        spdlog::pattern_time_type::utc));
  }
  std::expected<std::shared_ptr<spdlog::sinks::sink>, std::string> make_sink() const {
    if (cfg.file.empty()) return make_stderr();
    try {
      auto s = std::make_shared<spdlog::sinks::basic_file_sink_mt>(cfg.file, false);
      formatted(*s);
      return s;
    } catch (const spdlog::spdlog_ex& e) {
      return std::unexpected("log file '" + cfg.file + "': " + e.what());
    }
  }
};

state& the_log() {
  static state s;
  return s;
}

// Appends `v` as the inside of a JSON string.
void json_escape(std::string& out, std::string_view v) {
  static constexpr char hex[] = "0123456789abcdef";
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;  // bytes >= 0x80 pass: our fields are addresses, URLs and library messages
    }
  }
}

void text_value(std::string& out, std::string_view v) {
  const bool quote = v.empty() || v.find_first_of(" \t\"=\n") != std::string_view::npos;
  if (!quote) {
    out += v;
    return;
  }
  out += '"';
  json_escape(out, v);
  out += '"';
}

}  // namespace

std::expected<log_level, std::string> parse_log_level(std::string_view text) {
  if (text == "debug") return log_level::debug;
  if (text == "info") return log_level::info;
  if (text == "warn" || text == "warning") return log_level::warn;
  if (text == "error") return log_level::error;
  if (text == "off") return log_level::off;
  return std::unexpected("log level '" + std::string(text) +
                         "': expected debug, info, warn, error or off");
}

std::expected<log_format, std::string> parse_log_format(std::string_view text) {
  if (text == "text") return log_format::text;
  if (text == "json") return log_format::json;
  return std::unexpected("log format '" + std::string(text) + "': expected text or json");
}

std::expected<void, std::string> configure_log(const log_config& cfg) {
  state& s = the_log();
  std::lock_guard lock(s.mu);
  const log_config old = s.cfg;
  s.cfg = cfg;
  auto sink = s.make_sink();
  if (!sink) {
    s.cfg = old;
    return std::unexpected(sink.error());
  }
  s.dist->set_sinks({*sink});
  s.json.store(cfg.format == log_format::json, std::memory_order_relaxed);
  s.level.store(cfg.level, std::memory_order_relaxed);
  return {};
}

std::expected<void, std::string> reopen_log() {
  state& s = the_log();
  std::lock_guard lock(s.mu);
  if (s.cfg.file.empty()) return {};
  auto sink = s.make_sink();
  if (!sink) return std::unexpected(sink.error());
  s.dist->set_sinks({*sink});  // the old file sink closes when its last line is written
  return {};
}

bool log_enabled(log_level level) noexcept {
  const log_level min = the_log().level.load(std::memory_order_relaxed);
  return level != log_level::off && min != log_level::off && level >= min;
}

void log(log_level level, std::string_view event, std::initializer_list<log_field> fields) {
  if (!log_enabled(level)) return;
  state& s = the_log();
  std::string line;
  line.reserve(96);
  if (s.json.load(std::memory_order_relaxed)) {
    line += "\"msg\":\"";
    json_escape(line, event);
    line += '"';
    for (const auto& f : fields) {
      line += ",\"";
      json_escape(line, f.key);
      line += "\":\"";
      json_escape(line, f.value);
      line += '"';
    }
  } else {
    line += event;
    for (const auto& f : fields) {
      line += ' ';
      line += f.key;
      line += '=';
      text_value(line, f.value);
    }
  }
  s.logger.log(to_spd(level), spdlog::string_view_t(line.data(), line.size()));
}

bool log_limiter::allow(std::uint64_t* suppressed) noexcept {
  using namespace std::chrono;
  const std::int64_t now =
      duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  std::lock_guard lock(mu_);
  if (window_start_ == 0 || now - window_start_ >= window_ms_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= burst_) {
    ++held_;
    return false;
  }
  ++used_;
  if (suppressed) *suppressed = held_;
  held_ = 0;
  return true;
}

}  // namespace ccp::net
