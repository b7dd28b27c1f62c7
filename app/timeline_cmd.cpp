// `ccp timeline TRACE [--host H] [--request ID] [--from S] [--to S]` (app/timeline.hpp).
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <ostream>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "app/options.hpp"
#include "app/timeline.hpp"
#include "core/address.hpp"

namespace ccp::app {
namespace {

using json = nlohmann::ordered_json;

// Parses `line` as a trace line: an object with a number "t" and a string "ev".
std::expected<json, std::string> parse_line(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::unexpected("not a JSON object");
  if (!j.contains("t") || !j["t"].is_number_integer())
    return std::unexpected("no \"t\" (a whole number of microseconds)");
  if (!j.contains("ev") || !j["ev"].is_string()) return std::unexpected("no \"ev\" (a string)");
  return j;
}

std::string format(const json& j) {
  const auto t = j["t"].get<core::micros>();
  char head[48];
  std::snprintf(head, sizeof head, "%s%lld.%06llds", t < 0 ? "-" : "",
                static_cast<long long>(std::llabs(t) / 1'000'000),
                static_cast<long long>(std::llabs(t) % 1'000'000));
  std::string out(head);
  if (out.size() < 12) out.insert(0, 12 - out.size(), ' ');
  std::string ev = j["ev"].get<std::string>();
  ev.resize(std::max<std::size_t>(ev.size(), 10), ' ');
  out += "  " + ev;
  if (auto at = j.find("at"); at != j.end())
    out += "  " + (at->is_string() ? at->get<std::string>() : at->dump());
  for (const auto& [key, value] : j.items()) {
    if (key == "t" || key == "ev" || key == "at") continue;
    out += "  " + key + '=' + (value.is_string() ? value.get<std::string>() : value.dump());
  }
  out.erase(out.find_last_not_of(' ') + 1);  // an event with no fields: no padding after it
  return out;
}

// Whether a string of `j` (a field, or an element of an array field) is an address on
// `host`.
bool names_host(const json& j, std::string_view host) {
  auto on_host = [host](const json& v) {
    if (!v.is_string()) return false;
    const std::string& s = v.get_ref<const std::string&>();
    if (s.find(host) == std::string::npos) return false;  // cheap, before parsing
    auto a = core::address::parse(s);
    return a && a->host() == host;
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "t" || key == "ev") continue;
    if (on_host(value)) return true;
    if (value.is_array())
      for (const auto& v : value)
        if (on_host(v) || (v.is_array() && !v.empty() && on_host(v[0]))) return true;
  }
  return false;
}

bool is_context(std::string_view ev) {
  return ev == "fault" || ev == "fault_end" || ev == "heal" || ev == "killed";
}

bool of_request(std::string_view ev) {
  return ev == "send" || ev == "deliver" || ev == "complete";
}

}  // namespace

std::expected<std::string, std::string> format_trace_line(std::string_view line) {
  auto j = parse_line(line);
  if (!j) return std::unexpected(j.error());
  return format(*j);
}

std::expected<void, std::string> timeline::add(std::string_view line, std::size_t number) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return {};
  auto parsed = parse_line(line);
  if (!parsed) return std::unexpected("line " + std::to_string(number) + ": " + parsed.error());
  const json& j = *parsed;
  const auto t = j["t"].get<core::micros>();
  const std::string& ev = j["ev"].get_ref<const std::string&>();
  const bool host_match = !f_.host.empty() && names_host(j, f_.host);
  host_seen_ = host_seen_ || host_match;
  bool request_match = false;
  if (f_.request && of_request(ev)) {
    auto id = j.find("id");
    request_match =
        id != j.end() && id->is_number_unsigned() && id->get<std::uint64_t>() == *f_.request;
    if (request_match) {
      request_first_ = std::min(request_first_, t);
      request_last_ = std::max(request_last_, t);
    }
  }
  if (t < f_.from || t > f_.to) return {};
  ++in_window_;
  const bool context = is_context(ev);
  const bool selected = (f_.host.empty() || host_match) && (!f_.request || request_match);
  if (selected || context) kept_.push_back({t, format(j), context && !selected});
  return {};
}

std::expected<std::vector<std::string>, std::string> timeline::finish() const {
  if (!f_.host.empty() && !host_seen_)
    return std::unexpected("host " + f_.host + " appears in no line of the trace");
  if (f_.request && request_first_ > request_last_)
    return std::unexpected("request " + std::to_string(*f_.request) +
                           " appears in no send, deliver or complete line of the trace");
  if (in_window_ == 0) return std::unexpected("no line of the trace lies between --from and --to");
  std::vector<std::string> out;
  for (const kept& k : kept_) {
    // Context of a request: only what happened while it was open.
    if (k.context && f_.request && (k.t < request_first_ || k.t > request_last_)) continue;
    out.push_back(k.text);
  }
  return out;
}

namespace {

constexpr positional_spec timeline_positionals[] = {
    {.name = "TRACE", .help = "a trace file: ccp sim --trace, or a ccp real run's trace.jsonl"},
};

constexpr option_spec timeline_options[] = {
    {.name = "host",
     .value = "HOST",
     .help = "only lines naming a process on HOST (e.g. 10.0.0.7)"},
    {.name = "request",
     .value = "ID",
     .help = "only the send, deliveries and outcome of request ID"},
    {.name = "from", .value = "S", .help = "only lines at or after S seconds"},
    {.name = "to", .value = "S", .help = "only lines at or before S seconds"},
};

constexpr command_spec timeline_command = {
    .name = "timeline",
    .about =
        "Prints a readable timeline of one host or one request from a trace, one line\n"
        "per event: the time in seconds, the event, the process it happened at and its\n"
        "fields. Faults and the heal are shown as context. Exit status: 0 printed, 2\n"
        "usage error, unreadable file, malformed line (with its number), or a host or\n"
        "request that appears nowhere in the trace.",
    .positionals = timeline_positionals,
    .options = timeline_options,
};

// Seconds ("2", "1.5") as microseconds; nullopt for anything else.
std::optional<core::micros> seconds(const std::string& text) {
  double s = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), s);
  if (ec != std::errc{} || end != text.data() + text.size() || !std::isfinite(s) ||
      std::fabs(s) > 1e9)
    return std::nullopt;
  return static_cast<core::micros>(std::llround(s * 1e6));
}

}  // namespace

const command_spec& timeline_spec() {
  return timeline_command;
}

int timeline_main(std::span<const std::string_view> args, std::ostream& out, std::ostream& err) {
  auto o = options::parse(args, timeline_command);
  if (!o)
    return err << "ccp timeline: " << o.error() << "\nusage: " << usage_line(timeline_command)
               << "\nRun 'ccp help timeline' for its options.\n",
           2;
  if (o->help()) return out << options_help(timeline_command), 0;
  timeline_filter f;
  if (auto h = o->get("host")) {
    // Canonical, as the trace writes it (lower case, RFC 5952).
    auto a = core::address::one(core::role::agent, *h, "agent");
    if (!a)
      return err << "ccp timeline: " << o->bad("host", "not a host name or address") << '\n', 2;
    f.host = std::string(a->host());
  }
  if (o->get("request")) {
    auto n = o->count("request", 0, UINT64_MAX);
    if (!n) return err << "ccp timeline: " << n.error() << '\n', 2;
    f.request = *n;
  }
  for (const char* name : {"from", "to"}) {
    if (!o->get(name)) continue;
    auto s = seconds(o->value(name));
    if (!s) return err << "ccp timeline: " << o->bad(name, "expected seconds, e.g. 2.5") << '\n', 2;
    (std::string_view(name) == "from" ? f.from : f.to) = *s;
  }
  if (f.from > f.to) return err << "ccp timeline: --from is after --to\n", 2;
  const std::string path = o->positional().at(0);
  std::ifstream in(path);
  if (!in)
    return err << "ccp timeline: cannot read " << path << ": no such file or unreadable\n", 2;
  timeline t(f);
  std::string line;
  for (std::size_t n = 1; std::getline(in, line); ++n)
    if (auto r = t.add(line, n); !r)
      return err << "ccp timeline: " << path << ": " << r.error() << '\n', 2;
  auto lines = t.finish();
  if (!lines) return err << "ccp timeline: " << path << ": " << lines.error() << '\n', 2;
  for (const std::string& l : *lines)
    out << l << '\n';
  return 0;
}

}  // namespace ccp::app
